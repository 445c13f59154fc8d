import Foundation
import HeyanCrypto
import HeyanTestSupport
import HeyanTransparencyLog
import Testing

/// What heyan's tree produces, judged by code heyan did not write: roots by pymerkle (PyPI), proofs
/// by RFC 9162's verification algorithms and checkpoints by C2SP's signed-note rules, both written
/// in Python from the texts (Tests/HeyanTestSupport/python/tlog_check.py) with `cryptography`'s
/// Ed25519. Every proof must verify there, and fail there with one bit flipped.
@Suite struct OutsideVerifierTests {
    typealias Request = TLogCheck.Request

    static func verdicts(_ requests: [Request]) throws -> [String] { try TLogCheck.verdicts(requests) }

    static func flipped(_ hash: MerkleHash, bit: Int) -> String {
        var bytes = hash.bytes
        bytes[bit / 8] ^= 1 << UInt8(bit % 8)
        return Base64.encode(bytes)
    }

    @Test func rootsProofsAndCheckpointsVerifyOutside() throws {
        var random = SplitMix64(seed: 9162)
        var entries: [[UInt8]] = []
        var tree = InMemoryMerkleTree()
        for i in 0..<600 {
            let entry = Array("audit entry \(i) \(random.next())".utf8)
            entries.append(entry)
            tree.append(leafHash: MerkleHash.leaf(entry))
        }
        var roots: [UInt64: MerkleHash] = [0: .emptyTree]
        var leafHashes: [MerkleHash] = []
        for (i, entry) in entries.enumerated() {
            leafHashes.append(.leaf(entry))
            roots[UInt64(i + 1)] = MerkleRightEdge.init(leafHashes: leafHashes).root
        }
        var requests: [Request] = []
        var expected: [Bool] = []
        // Roots at sizes 1…40 and random sizes up to 600, by pymerkle.
        let sizes = Array(UInt64(1)...40) + (0..<20).map { _ in 41 + random.next() % 560 }
        for size in sizes {
            requests.append(Request(kind: "root", leaves: entries[..<Int(size)].map(Base64.encode), root: roots[size]!.base64))
            expected.append(true)
        }
        // Inclusion and consistency proofs, good and with one bit flipped.
        for size in sizes {
            let index = random.next() % size
            let proof = try Merkle.inclusionProof(index: index, size: size, reader: tree)
            let base = Request(
                kind: "inclusion", leafHash: MerkleHash.leaf(entries[Int(index)]).base64, index: index, size: size,
                proof: proof.map(\.base64), root: roots[size]!.base64)
            requests.append(base)
            expected.append(true)
            if !proof.isEmpty {
                var broken = base
                let p = Int(random.next() % UInt64(proof.count))
                broken.proof![p] = Self.flipped(proof[p], bit: Int(random.next() % 256))
                requests.append(broken)
                expected.append(false)
            }
            let first = 1 + random.next() % size
            let consistency = try Merkle.consistencyProof(first: first, second: size, reader: tree)
            let good = Request(
                kind: "consistency", proof: consistency.map(\.base64), first: first, second: size,
                firstRoot: roots[first]!.base64, secondRoot: roots[size]!.base64)
            requests.append(good)
            expected.append(true)
            if !consistency.isEmpty {
                var broken = good
                let p = Int(random.next() % UInt64(consistency.count))
                broken.proof![p] = Self.flipped(consistency[p], bit: Int(random.next() % 256))
                requests.append(broken)
                expected.append(false)
            }
        }
        // A checkpoint signed by a fresh key, and the same note with its size changed.
        let signer = try NoteSigner(name: "heyan.test/audit/v1", key: try PrivateKey.generate(.ed25519))
        let note = try signer.sign(Checkpoint(origin: "heyan.test/audit/v1", size: tree.size, root: tree.root))
        requests.append(Request(kind: "note", vkey: signer.verifierKey.vkey, note: note.serialized))
        expected.append(true)
        requests.append(Request(
            kind: "note", vkey: signer.verifierKey.vkey,
            note: note.serialized.replacingOccurrences(of: "\n600\n", with: "\n601\n")))
        expected.append(false)

        let verdicts = try Self.verdicts(requests)
        #expect(verdicts.count == requests.count)
        #expect(requests.count > 150)
        let mismatches = zip(verdicts, expected).enumerated().filter { ($0.element.0 == "ok") != $0.element.1 }
            .map { "\($0.offset) \(requests[$0.offset].kind): \($0.element.0)" }
        #expect(mismatches == [])
    }
}

extension MerkleRightEdge {
    init(leafHashes: [MerkleHash]) {
        self.init()
        for leaf in leafHashes { _ = append(leafHash: leaf) }
    }
}
