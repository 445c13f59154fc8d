import HeyanCrypto
import HeyanTestSupport
import HeyanTransparencyLog
import Testing

/// The tree algorithms against the constants of RFC 6962 test data, against each other (root by
/// definition, by the right edge, from stored nodes), and proofs generated here against the
/// RFC 9162 verifiers — with every bit of every proof flipped once.
@Suite struct MerkleTreeTests {
    /// The eight leaves of the public test data.
    static let leaves: [[UInt8]] = ["", "00", "10", "2021", "3031", "40414243", "5051525354555657",
        "606162636465666768696a6b6c6d6e6f"].map(hexBytes)

    static func hexBytes(_ hex: String) -> [UInt8] {
        var bytes: [UInt8] = []
        var i = hex.startIndex
        while i < hex.endIndex {
            let j = hex.index(i, offsetBy: 2)
            bytes.append(UInt8(hex[i..<j], radix: 16)!)
            i = j
        }
        return bytes
    }

    @Test func knownRoots() {
        #expect(MerkleHash.emptyTree.hex == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        #expect(MerkleHash.leaf([]).hex == "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d")
        let hashes = Self.leaves.map(MerkleHash.leaf)
        #expect(Merkle.root(leafHashes: Array(hashes[..<3])).hex
            == "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77")
        #expect(Merkle.root(leafHashes: hashes).hex == "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328")
        #expect(InMemoryMerkleTree(leafHashes: hashes).root == Merkle.root(leafHashes: hashes))
    }

    @Test func knownProofs() throws {
        let tree = InMemoryMerkleTree(leafHashes: Self.leaves.map(MerkleHash.leaf))
        let inclusion = try Merkle.inclusionProof(index: 2, size: 8, reader: tree).map(\.hex)
        #expect(inclusion.map { String($0.prefix(8)) } == ["07506a85", "fac54203", "6b47aaf2"])
        let consistency = try Merkle.consistencyProof(first: 3, second: 8, reader: tree).map(\.hex)
        #expect(consistency.map { String($0.prefix(8)) } == ["0298d122", "07506a85", "fac54203", "6b47aaf2"])
    }

    @Test func rightEdgeRootEqualsTheDefinitionAtEverySize() throws {
        var tree = InMemoryMerkleTree()
        var hashes: [MerkleHash] = []
        for i in 0..<300 {
            let leaf = MerkleHash.leaf(Array("entry \(i)".utf8))
            hashes.append(leaf)
            tree.append(leafHash: leaf)
            #expect(tree.root == Merkle.root(leafHashes: hashes))
            // An edge rebuilt from the stored nodes continues the same tree.
            let rebuilt = try MerkleRightEdge(size: tree.size, reader: tree)
            #expect(rebuilt.root == tree.root)
        }
    }

    @Test func everyGeneratedProofVerifiesAndNoFlippedBitDoes() throws {
        var hashes: [MerkleHash] = []
        var tree = InMemoryMerkleTree()
        for i in 0..<70 {
            let leaf = MerkleHash.leaf(Array("leaf-\(i)".utf8))
            hashes.append(leaf)
            tree.append(leafHash: leaf)
        }
        var flips = 0
        for size in UInt64(1)...70 {
            let root = Merkle.root(leafHashes: Array(hashes[..<Int(size)]))
            for index in stride(from: UInt64(0), to: size, by: size > 20 ? 7 : 1) {
                let proof = try Merkle.inclusionProof(index: index, size: size, reader: tree)
                #expect(Merkle.verifyInclusion(leafHash: hashes[Int(index)], index: index, size: size, proof: proof, root: root))
                for (p, bit) in Self.someBits(proof, size: size) {
                    var broken = proof
                    broken[p] = Self.flip(broken[p], bit: bit)
                    flips += 1
                    #expect(!Merkle.verifyInclusion(leafHash: hashes[Int(index)], index: index, size: size, proof: broken, root: root))
                }
            }
            for first in stride(from: UInt64(1), through: size, by: size > 20 ? 5 : 1) {
                let firstRoot = Merkle.root(leafHashes: Array(hashes[..<Int(first)]))
                let proof = try Merkle.consistencyProof(first: first, second: size, reader: tree)
                #expect(Merkle.verifyConsistency(first: first, second: size, firstRoot: firstRoot, secondRoot: root, proof: proof))
                for (p, bit) in Self.someBits(proof, size: size) {
                    var broken = proof
                    broken[p] = Self.flip(broken[p], bit: bit)
                    flips += 1
                    #expect(!Merkle.verifyConsistency(first: first, second: size, firstRoot: firstRoot, secondRoot: root, proof: broken))
                }
            }
        }
        #expect(flips > 1000)
    }

    @Test func proofsOutsideTheTreeAreRefused() {
        let tree = InMemoryMerkleTree(leafHashes: Self.leaves.map(MerkleHash.leaf))
        #expect(throws: MerkleError.indexOutOfRange(index: 8, size: 8)) {
            try Merkle.inclusionProof(index: 8, size: 8, reader: tree)
        }
        #expect(throws: MerkleError.sizesOutOfOrder(first: 0, second: 8)) {
            try Merkle.consistencyProof(first: 0, second: 8, reader: tree)
        }
        // Leaf 8 is needed for a proof of leaf 0 in a tree of 9, and this tree has only 8.
        #expect(throws: MerkleError.missingNode(MerkleNodeAddress(level: 0, index: 8))) {
            try Merkle.inclusionProof(index: 0, size: 9, reader: tree)
        }
    }

    /// A deterministic spread of (hash, bit) positions of a proof.
    static func someBits(_ proof: [MerkleHash], size: UInt64) -> [(Int, Int)] {
        proof.indices.flatMap { p in [(p, 0), (p, Int((size * 37 + UInt64(p) * 11) % 256)), (p, 255)] }
    }

    static func flip(_ hash: MerkleHash, bit: Int) -> MerkleHash {
        var bytes = hash.bytes
        bytes[bit / 8] ^= 1 << UInt8(bit % 8)
        return MerkleHash(bytes: bytes)!
    }
}
