import HeyanCrypto
import HeyanTestSupport
import HeyanTransparencyLog
import Testing

/// C2SP checkpoints and signed notes: the worked example (key from a fixed seed, the eight-leaf
/// tree) reproduced byte for byte, parsing, and the verifier's rules.
@Suite struct SignedNoteTests {
    static let exampleVKey = "heyan.example/audit+25edb79f+ARTQA+SgTvfupC87zzweD0IUNCJkZ/IDJJuRQsxG+TXy"
    static let exampleNote = """
        heyan.example/audit
        8
        XcnaeacGWamtVZy3Ad7ZoqudgjqtL0lgz+Nw7/RgQyg=

        — heyan.example/audit Je23n3Ne0l5p+NZipKMwJeFR0AZTfUwSVSEMnuTlCn8T8sWFPTTogjeg3JTJTCt1FIIUNV2ZXK9v9IUmOnsVw9eCaQg=

        """

    static func exampleSigner() throws -> NoteSigner {
        let key = try Ed25519.privateKey(seed: Digest.sha256(Array("heyan example key - do not use".utf8)))
        return try NoteSigner(name: "heyan.example/audit", key: key)
    }

    @Test func theWorkedExampleIsReproduced() throws {
        let signer = try Self.exampleSigner()
        #expect(signer.verifierKey.vkey == Self.exampleVKey)
        let tree = InMemoryMerkleTree(leafHashes: MerkleTreeTests.leaves.map(MerkleHash.leaf))
        let note = try signer.sign(Checkpoint(origin: "heyan.example/audit", size: tree.size, root: tree.root))
        #expect(note.serialized == Self.exampleNote)
    }

    @Test func parsingAndVerifying() throws {
        let key = try NoteVerifierKey(vkey: Self.exampleVKey)
        let note = try SignedNote(parsing: Self.exampleNote)
        let checkpoint = try Checkpoint(body: try key.verify(note))
        #expect(checkpoint.size == 8)
        #expect(checkpoint.origin == "heyan.example/audit")
        #expect(note.serialized == Self.exampleNote)

        // An unknown extra signature is ignored; a second, failing signature by the same key is not.
        let other = try NoteSigner(name: "witness.example", key: try PrivateKey.generate(.ed25519))
        let cosigned = SignedNote(text: note.text, signatures: note.signatures + [try other.sign(text: note.text)])
        #expect(try key.verify(SignedNote(parsing: cosigned.serialized)) == note.text)
        var bad = note.signatures[0].signature
        bad[0] ^= 1
        let forged = SignedNote(
            text: note.text, signatures: note.signatures + [NoteSignature(name: key.name, keyID: key.keyID, signature: bad)])
        #expect(throws: NoteError.unverified("the signature by heyan.example/audit does not verify")) {
            try key.verify(forged)
        }
        // A note signed only by another key, or with a changed text, does not verify.
        #expect(throws: NoteError.self) { try key.verify(SignedNote(text: note.text, signatures: [try other.sign(text: note.text)])) }
        let changed = SignedNote(text: note.text.replacingOccurrences(of: "\n8\n", with: "\n9\n"), signatures: note.signatures)
        #expect(throws: NoteError.self) { try key.verify(changed) }
    }

    @Test func malformedCheckpointsAndKeysAreRefused() {
        let root = MerkleHash.emptyTree.base64
        for body in ["o\n08\n\(root)\n", "o\n8\n\(root)", "o\n8\n\(root)\nextension\n", "o o\n8\n\(root)\n", "o\n8\nAAAA\n", "o\n-1\n\(root)\n"] {
            #expect(throws: NoteError.self) { try Checkpoint(body: body) }
        }
        #expect(throws: NoteError.self) { try NoteVerifierKey(vkey: "heyan.example/audit+25edb79e+ARTQA+SgTvfupC87zzweD0IUNCJkZ/IDJJuRQsxG+TXy") }
        #expect(throws: NoteError.self) { try SignedNote(parsing: "text\nno blank line\n") }
        #expect(throws: NoteError.self) { try SignedNote(parsing: "text\n\n— name AAAA\n") }
    }
}
