import CSQLite
import Glibc
import HeyanCrypto
import HeyanDomain
import HeyanTestSupport
import HeyanTransparencyLog
import Synchronization
import Testing

@testable import HeyanStorage

/// Recomputes every leaf from the rows (salt ‖ canonical entry, or salt ‖ chain hash for the
/// entries migrated from the chain), and checks the store's tree against them: size = entries,
/// root = RFC 6962 root of the leaves, stored `d` = recomputed `d`, and every inclusion proof
/// at the full size verifies.
func expectTreeMatchesLog(_ store: SQLiteVerificationStore, chainLeaves: Int = 0) throws {
    let rows = try store.database.read { db -> [(AuditEntry, [UInt8], [UInt8])] in
        let statement = try db.prepare("SELECT \(AuditRow.columns) FROM audit_log ORDER BY sequence")
        var rows: [(AuditEntry, [UInt8], [UInt8])] = []
        while try statement.step() {
            rows.append(
                (
                    try AuditRow.decode(statement), statement.blob(at: AuditRow.Column.salt.position) ?? [],
                    statement.blob(at: AuditRow.Column.leaf.position) ?? []
                ))
        }
        return rows
    }
    var leafHashes: [MerkleHash] = []
    for (offset, (entry, salt, stored)) in rows.enumerated() {
        #expect(entry.sequence == Int64(offset + 1))
        #expect(salt.count == 32)
        let hashed =
            offset < chainLeaves
            ? entry.hash : AuditEntry.canonicalBytes(sequence: entry.sequence, time: entry.time, event: entry.event)
        #expect(Digest.sha256(salt + hashed) == stored, "leaf \(offset)")
        leafHashes.append(.leaf(stored))
    }
    let head = try store.treeHead()
    #expect(head.size == UInt64(rows.count))
    #expect(head.root == Merkle.root(leafHashes: leafHashes))
    for index in leafHashes.indices {
        let proof = try store.inclusionProof(index: UInt64(index), size: head.size)
        #expect(
            Merkle.verifyInclusion(
                leafHash: leafHashes[index], index: UInt64(index), size: head.size, proof: proof, root: head.root))
    }
}

@Suite("Audit tree in SQLite: leaves, nodes, proofs, migration, checkpoint notes")
struct AuditTreeTests {
    let fixture: StoreFixture
    let t0 = StoreFixture.t0

    init() throws {
        fixture = try StoreFixture()
    }

    static func logSigner() throws -> NoteSigner {
        try NoteSigner(
            name: "localhost/audit/v1", key: try Ed25519.privateKey(seed: Digest.sha256(Array("heyan test log".utf8))))
    }

    @Test("every entry is a leaf: d = SHA-256(salt ‖ canonical entry), tree size = entries, proofs verify")
    func leavesAndProofs() throws {
        let empty = try fixture.sqliteStore.treeHead()
        #expect(empty == TreeHead(size: 0, root: .emptyTree))
        for index in 0..<7 {
            #expect(try fixture.submit(fixture.queued(createdAt: t0 + Millis(index), dueAt: t0 + 1000)) == .stored)
            #expect(try fixture.submit(fixture.answeredAtOnce(createdAt: t0 + Millis(index))) == .stored)
        }
        try expectTreeMatchesLog(fixture.sqliteStore)
        let head = try fixture.sqliteStore.treeHead()
        #expect(head.size == UInt64(try fixture.count("audit_log")))
        // Consistency from every smaller size, against roots rebuilt from the leaves.
        let leaves = try (0..<head.size).map { try #require(try fixture.sqliteStore.auditLeaf(index: $0)) }
        #expect(try fixture.sqliteStore.auditLeaf(index: head.size) == nil)
        for first in 1...head.size {
            let firstRoot = Merkle.root(leafHashes: leaves.prefix(Int(first)).map { .leaf($0.data) })
            let proof = try fixture.sqliteStore.consistencyProof(first: first, second: head.size)
            #expect(
                Merkle.verifyConsistency(
                    first: first, second: head.size, firstRoot: firstRoot, secondRoot: head.root, proof: proof))
        }
        // A leaf's `extra` recomputes its `d`.
        for leaf in leaves {
            #expect(!leaf.fromChain)
            #expect(AuditLeaf.candidates(extra: leaf.extra).first?.data == leaf.data)
        }
        // Ranges outside the tree are refused.
        #expect(throws: AuditTreeRangeError.self) { try fixture.sqliteStore.inclusionProof(index: 0, size: head.size + 1) }
        #expect(throws: AuditTreeRangeError.self) { try fixture.sqliteStore.inclusionProof(index: 3, size: 3) }
        #expect(throws: AuditTreeRangeError.self) { try fixture.sqliteStore.consistencyProof(first: 0, second: 3) }
        #expect(throws: AuditTreeRangeError.self) { try fixture.sqliteStore.consistencyProof(first: 4, second: 3) }
        // Level 0 is not stored twice: the nodes table holds levels ≥ 1 only, one per completed pair.
        #expect(try fixture.count("audit_tree_nodes") == Int64(head.size) - Int64(head.size.nonzeroBitCount))
    }

    @Test("the issuing entry of an attestation is found by its id")
    func issuingLeaf() throws {
        let answered = fixture.answeredAtOnce()
        #expect(try fixture.submit(answered) == .stored)
        let id = try #require(answered.attestation?.id)
        let leaf = try #require(try fixture.sqliteStore.issuingLeaf(attestationID: id))
        #expect(leaf.entry.event.attestationID == id)
        #expect(try fixture.sqliteStore.issuingLeaf(attestationID: "att_unknown") == nil)
    }

    @Test("under concurrent submissions every committed entry is integrated exactly once")
    func concurrentIntegration() throws {
        let failures = Atomic<Int>(0)
        runOnThreads(8) { thread in
            for index in 0..<40 {
                let new =
                    index % 2 == 0
                    ? fixture.queued(createdAt: t0 + Millis(index), dueAt: t0 + 1000)
                    : fixture.answeredAtOnce(createdAt: t0 + Millis(index))
                if (try? fixture.submit(new)) != .stored { failures.add(1, ordering: .relaxed) }
            }
        }
        #expect(failures.load(ordering: .relaxed) == 0)
        let entries = try fixture.count("audit_log")
        #expect(entries >= 320)
        #expect(fixture.sqliteStore.statistics.commits < 320)  // batched, so appends shared transactions
        try expectTreeMatchesLog(fixture.sqliteStore)
        let report = try AuditChainVerifier.verify(databasePath: fixture.path, hash: Digest.sha256) { _ in }
        let root = try fixture.sqliteStore.treeHead().root
        #expect(report.isIntact && report.entries == entries && report.treeRoot == root)
    }

    @Test("reopening rebuilds the right edge from the stored nodes; the tree continues")
    func reopen() throws {
        for index in 0..<5 { #expect(try fixture.submit(fixture.queued(createdAt: t0 + Millis(index), dueAt: t0 + 1)) == .stored) }
        let before = try fixture.sqliteStore.treeHead()
        try fixture.reopen()
        #expect(try fixture.sqliteStore.treeHead() == before)
        for index in 0..<6 { #expect(try fixture.submit(fixture.answeredAtOnce(createdAt: t0 + Millis(index))) == .stored) }
        try expectTreeMatchesLog(fixture.sqliteStore)
        let after = try fixture.sqliteStore.treeHead()
        let proof = try fixture.sqliteStore.consistencyProof(first: before.size, second: after.size)
        #expect(
            Merkle.verifyConsistency(
                first: before.size, second: after.size, firstRoot: before.root, secondRoot: after.root, proof: proof))
    }

    @Test("checkpoint notes: signed when the tree grew, verify with the vkey, one root per size")
    func checkpointNotes() throws {
        let signer = try Self.logSigner()
        let origin = "localhost/audit/v1"
        #expect(try wait { fixture.sqliteStore.publishCheckpointNote(signer: signer, origin: origin, now: t0, completion: $0) } == nil)
        #expect(try fixture.submit(fixture.answeredAtOnce()) == .stored)
        let first = try #require(
            try wait { fixture.sqliteStore.publishCheckpointNote(signer: signer, origin: origin, now: t0, completion: $0) })
        let size1 = UInt64(try fixture.count("audit_log"))
        #expect(first.size == size1)
        let again = try wait { fixture.sqliteStore.publishCheckpointNote(signer: signer, origin: origin, now: t0 + 5, completion: $0) }
        #expect(again == first)
        #expect(try fixture.submit(fixture.answeredAtOnce()) == .stored)
        let second = try #require(
            try wait { fixture.sqliteStore.publishCheckpointNote(signer: signer, origin: origin, now: t0 + 9, completion: $0) })
        let root = try fixture.sqliteStore.treeHead().root
        let size2 = UInt64(try fixture.count("audit_log"))
        #expect(second.size == size2 && second.root == root)
        #expect(try fixture.sqliteStore.latestCheckpointNote() == second)
        #expect(try fixture.sqliteStore.checkpointNotes() == [first, second])

        let body = try signer.verifierKey.verify(try SignedNote(parsing: second.note))
        #expect(try Checkpoint(body: body) == Checkpoint(origin: origin, size: size2, root: second.root))
        // A second root for a signed size is refused by the table itself.
        #expect(throws: SQLiteError.self) {
            try fixture.rawSQL(
                "INSERT INTO audit_checkpoint_notes (size, root, note, created_at) VALUES (\(size2), zeroblob(32), 'x', 0)")
        }
        // The verifier checks each note's root and signature.
        var notesSeen: [UInt64] = []
        let report = try AuditChainVerifier.verify(
            databasePath: fixture.path, hash: Digest.sha256, verifyCheckpoint: { _ in },
            verifyNote: { note in
                notesSeen.append(note.size)
                _ = try signer.verifierKey.verify(try SignedNote(parsing: note.note))
            })
        #expect(report.isIntact && report.checkpointNotes == 2 && notesSeen == [size1, size2])
        try fixture.rawSQL("UPDATE audit_checkpoint_notes SET root = zeroblob(32) WHERE size = \(size1)")
        let broken = try AuditChainVerifier.verify(databasePath: fixture.path, hash: Digest.sha256) { _ in }
        #expect(broken.firstBreak?.kind == .checkpointNote && broken.firstBreak?.sequence == Int64(size1))
    }

    @Test("the verifier catches an edited leaf, a salt changed, and a tree state that disagrees")
    func verifierCatchesTreeEdits() throws {
        for index in 0..<4 { #expect(try fixture.submit(fixture.answeredAtOnce(createdAt: t0 + Millis(index))) == .stored) }
        _ = try wait { fixture.sqliteStore.checkpoint(now: t0 + 9, sign: { _ in "jws" }, completion: $0) }
        #expect(try AuditChainVerifier.verify(databasePath: fixture.path, hash: Digest.sha256) { _ in }.isIntact)
        try fixture.rawSQL("UPDATE audit_tree SET root = zeroblob(32)")
        let state = try AuditChainVerifier.verify(databasePath: fixture.path, hash: Digest.sha256) { _ in }
        #expect(state.firstBreak?.kind == .treeState)
        try fixture.rawSQL(
            "DROP TRIGGER audit_log_append_only_update; UPDATE audit_log SET salt = zeroblob(32) WHERE sequence = 3")
        let edited = try AuditChainVerifier.verify(databasePath: fixture.path, hash: Digest.sha256) { _ in }
        #expect(edited.firstBreak?.kind == .leaf && edited.firstBreak?.sequence == 3)
    }

    @Test("a JWS checkpoint whose treeRoot disagrees with the leaves is reported")
    func checkpointTreeRoot() throws {
        #expect(try fixture.submit(fixture.answeredAtOnce()) == .stored)
        _ = try wait { fixture.sqliteStore.checkpoint(now: t0 + 9, sign: { _ in "jws" }, completion: $0) }
        try fixture.rawSQL("UPDATE audit_checkpoints SET tree_root = zeroblob(32)")
        let report = try AuditChainVerifier.verify(databasePath: fixture.path, hash: Digest.sha256) { _ in }
        #expect(report.firstBreak?.kind == .checkpointTreeRoot)
    }

    @Test("migration 7 makes an existing chain the first leaves, d = SHA-256(salt ‖ chain hash), fresh salts")
    func migratesExistingChain() throws {
        let directory = TemporaryDirectory()
        let path = directory.file("old.sqlite")
        do {
            let connection = try SQLiteConnection(path: path)
            try Migrator(Array(HeyanSchema.migrations.prefix(6))).migrate(connection)
            var previous = AuditEntry.genesisHash
            for sequence in Int64(1)...5 {
                let event = AuditEvent(action: .recordPut, actor: "dept-civil", subjectID: "11010519491231002X")
                let hash = Digest.sha256(
                    previous + AuditEntry.canonicalBytes(sequence: sequence, time: t0 + sequence, event: event))
                try connection.execute(
                    """
                    INSERT INTO audit_log (sequence, time, action, actor, subject_id, previous_hash, hash)
                    VALUES (?, ?, 'record.put', 'dept-civil', '11010519491231002X', ?, ?)
                    """, arguments: [.integer(sequence), .integer(t0 + sequence), .blob(previous), .blob(hash)])
                previous = hash
            }
        }
        let store = try SQLiteVerificationStore(path: path, hash: Digest.sha256)
        defer { store.close() }
        #expect(try store.database.read { try Migrator.userVersion(of: $0) } == HeyanSchema.latestVersion)
        #expect(try store.treeHead().size == 5)
        try expectTreeMatchesLog(store, chainLeaves: 5)
        let salts = try (0..<5).map { try #require(try store.auditLeaf(index: UInt64($0))) }
        #expect(Set(salts.map(\.salt)).count == 5)
        #expect(salts.allSatisfy { $0.fromChain })
        // A chain leaf's `extra` is salt ‖ previous hash ‖ entry; its second reading gives `d`.
        #expect(AuditLeaf.candidates(extra: salts[2].extra).contains { $0.data == salts[2].data })

        // New entries continue the tree with d over their canonical bytes.
        let fixtureLike = try wait { store.submit(fixture.answeredAtOnce(), completion: $0) }
        #expect(fixtureLike == .stored)
        #expect(try store.auditLeaf(index: 5)?.fromChain == false)
        try expectTreeMatchesLog(store, chainLeaves: 5)
        let report = try AuditChainVerifier.verify(databasePath: path, hash: Digest.sha256) { _ in }
        let count = try store.database.read { try $0.fetchScalar("SELECT count(*) FROM audit_log")?.integerValue }
        #expect(report.isIntact && report.entries == count)
    }
}
