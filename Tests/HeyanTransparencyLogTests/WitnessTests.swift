import HeyanCrypto
import HeyanTestSupport
import HeyanTransparencyLog
import Testing

/// The witness's decisions (C2SP tlog-witness `add-checkpoint`): it cosigns a checkpoint that
/// extends the last one it cosigned, and refuses rollbacks, forks, stale sizes, unknown logs and
/// unsigned checkpoints with the protocol's statuses.
@Suite struct WitnessTests {
    static let origin = "heyan.test/audit/v1"

    struct Log {
        let signer: NoteSigner
        var tree = InMemoryMerkleTree()

        init() throws { signer = try NoteSigner(name: WitnessTests.origin, key: try PrivateKey.generate(.ed25519)) }

        mutating func grow(_ count: Int, tag: String) {
            for i in 0..<count { tree.append(leafHash: .leaf(Array("\(tag) \(tree.size) \(i)".utf8))) }
        }

        func note() throws -> SignedNote {
            try signer.sign(Checkpoint(origin: WitnessTests.origin, size: tree.size, root: tree.root))
        }

        func request(from old: UInt64) throws -> String {
            let proof = old == 0 ? [] : try Merkle.consistencyProof(first: old, second: tree.size, reader: tree)
            return "old \(old)\n" + proof.map { $0.base64 + "\n" }.joined() + "\n" + (try note().serialized)
        }
    }

    @Test func cosignsGrowthAndRefusesRollbackAndFork() throws {
        var log = try Log()
        let witness = try WitnessPolicy(
            cosigner: Cosigner(name: "audit-office.test/witness", privateKey: try PrivateKey.generate(.ed25519)),
            logs: [log.signer.verifierKey])
        var state: WitnessedLog?
        let known: (String) -> WitnessedLog? = { _ in state }

        log.grow(5, tag: "a")
        guard case .cosigned(let line, let s1) = witness.addCheckpoint(body: try log.request(from: 0), known: known, now: 1_700_000_000)
        else { Issue.record("first checkpoint refused"); return }
        state = s1
        #expect(s1.size == 5)
        let cosigned = SignedNote(text: try log.note().text, signatures: try log.note().signatures + [line])
        #expect(try witness.cosigner.key.verifiedTime(of: SignedNote(parsing: cosigned.serialized)) == 1_700_000_000)
        // The log's own key still verifies the cosigned note (the extra line is ignored).
        #expect(try log.signer.verifierKey.verify(cosigned) == cosigned.text)

        let forkBase = log
        log.grow(7, tag: "a")
        guard case .cosigned(_, let s2) = witness.addCheckpoint(body: try log.request(from: 5), known: known, now: 1_700_000_010)
        else { Issue.record("growth refused"); return }
        state = s2
        #expect(s2.size == 12)

        // Stale old size: 409 with the witness's size.
        #expect(witness.addCheckpoint(body: try log.request(from: 5), known: known, now: 0) == .conflict(witnessSize: 12))
        // Rollback: a smaller checkpoint than the old size claimed.
        var smaller = forkBase
        smaller.grow(1, tag: "a")
        if case .badRequest = witness.addCheckpoint(body: "old 12\n\n" + (try smaller.note().serialized), known: known, now: 0) {
        } else { Issue.record("rollback not refused with 400") }
        // Fork: a database restored from size 5 and written differently to size 14.
        var fork = forkBase
        fork.grow(9, tag: "b")
        let forkProofFrom12 = "old 12\n" + (try Merkle.consistencyProof(first: 12, second: 14, reader: fork.tree)).map { $0.base64 + "\n" }.joined()
            + "\n" + (try fork.note().serialized)
        #expect(witness.addCheckpoint(body: forkProofFrom12, known: known, now: 0).status == 422)
        // Same size, other root.
        var sideways = forkBase
        sideways.grow(7, tag: "c")
        #expect(witness.addCheckpoint(body: "old 12\n\n" + (try sideways.note().serialized), known: known, now: 0).status == 422)
        // Unknown origin, unsigned checkpoint.
        let stranger = try NoteSigner(name: "other.test/log", key: try PrivateKey.generate(.ed25519))
        let strangerNote = try stranger.sign(Checkpoint(origin: "other.test/log", size: 1, root: .leaf([])))
        #expect(witness.addCheckpoint(body: "old 0\n\n" + strangerNote.serialized, known: known, now: 0).status == 404)
        let impostor = try NoteSigner(name: Self.origin, key: try PrivateKey.generate(.ed25519))
        let forged = try impostor.sign(Checkpoint(origin: Self.origin, size: log.tree.size + 1, root: .leaf([])))
        #expect(witness.addCheckpoint(body: "old 12\n\n" + forged.serialized, known: known, now: 0).status == 403)
        // Malformed requests.
        #expect(witness.addCheckpoint(body: "old x\n\n" + (try log.note().serialized), known: known, now: 0).status == 400)
        #expect(witness.addCheckpoint(body: "garbage", known: known, now: 0).status == 400)
    }

    @Test func cosignatureKeysRoundTrip() throws {
        let cosigner = try Cosigner(name: "w.test", privateKey: try PrivateKey.generate(.ed25519))
        let parsed = try CosignatureKey(vkey: cosigner.key.vkey)
        #expect(parsed == cosigner.key)
        let line = try cosigner.cosign(checkpointBody: "o\n1\n\(MerkleHash.emptyTree.base64)\n", time: 42)
        #expect(line.signature.count == 72)
        var bad = line.signature
        bad[20] ^= 1
        let note = SignedNote(
            text: "o\n1\n\(MerkleHash.emptyTree.base64)\n",
            signatures: [NoteSignature(name: line.name, keyID: line.keyID, signature: bad)])
        #expect(throws: NoteError.self) { try parsed.verifiedTime(of: note) }
    }
}
