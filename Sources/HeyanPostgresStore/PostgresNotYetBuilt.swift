import HeyanDomain
import HeyanPostgres
import HeyanTransparencyLog

// What the PostgreSQL store does not do yet (docs/postgresql.md, "Not built yet"). Each such
// operation fails with `store.failed` ("… is not implemented on PostgreSQL yet"), never a silent
// wrong answer. Where an empty answer is the true one — no commitment can be stored on this engine
// yet, so there are no spot checks to lease, count or mark overdue — that answer is given, so the
// shared queue route and the maintenance loop keep working.

extension PostgresVerificationStore {
    // MARK: commitments, spot checks, credit list

    public func submitCommitment(_ new: NewCommitment, completion: @escaping StoreCompletion<CommitmentSubmitResult>) {
        completion(.failure(PostgresStoreError.notImplemented("storing a commitment")))
    }

    public func leaseSpotChecks(
        owner: String, clerk: String?, limit: Int, duration: Millis, now: Millis,
        completion: @escaping StoreCompletion<[LeasedSpotCheck]>
    ) {
        completion(.success([]))  // no commitment, so no spot check, exists on this engine
    }

    public func answerSpotCheck(_ answer: SpotCheckAnswer, completion: @escaping StoreCompletion<SpotCheckAnswerResult>) {
        completion(.failure(PostgresStoreError.notImplemented("answering a spot check")))
    }

    public func markSpotChecksOverdue(now: Millis, completion: @escaping StoreCompletion<Int>) {
        completion(.success(0))  // no spot check exists on this engine
    }

    public func removeCreditEntry(
        subjectID: String, entryID: String, actor: String, reason: String, now: Millis,
        completion: @escaping StoreCompletion<CreditRemovalResult>
    ) {
        completion(.failure(PostgresStoreError.notImplemented("removing a credit-list entry")))
    }

    public func commitment(id: String) throws -> Commitment? { throw PostgresStoreError.notImplemented("reading a commitment") }
    public func commitment(receiptID: String) throws -> Commitment? {
        throw PostgresStoreError.notImplemented("reading a commitment")
    }
    public func spotCheck(id: String) throws -> SpotCheck? { throw PostgresStoreError.notImplemented("reading a spot check") }
    public func creditEntries(subjectID: String) throws -> [CreditEntry] {
        throw PostgresStoreError.notImplemented("reading the credit list")
    }
    public func spotCheckSeed() throws -> [UInt8] { throw PostgresStoreError.notImplemented("the spot-check seed") }
    public func spotCheckQueueCounts() throws -> [QueueCount] { [] }  // no spot check exists on this engine
}

// MARK: - the audit tree's proofs

extension PostgresVerificationStore: AuditLogProofs {
    public func treeHead() throws -> TreeHead {
        try read { db in
            guard let row = try db.query("SELECT size, root FROM audit_tree WHERE id = 0").rows.first,
                let root = MerkleHash(bytes: try row.decode("root"))
            else { throw PostgresStoreError.corrupt(table: "audit_tree", key: "0", column: "root") }
            return TreeHead(size: UInt64(try row.decode("size", as: Int64.self)), root: root)
        }
    }

    public func inclusionProof(index: UInt64, size: UInt64) throws -> [MerkleHash] {
        try read(snapshot: true) { db in
            try Merkle.inclusionProof(index: index, size: size, reader: PostgresMerkleNodeReader(connection: db))
        }
    }

    public func consistencyProof(first: UInt64, second: UInt64) throws -> [MerkleHash] {
        try read(snapshot: true) { db in
            try Merkle.consistencyProof(first: first, second: second, reader: PostgresMerkleNodeReader(connection: db))
        }
    }

    public func auditLeaf(index: UInt64) throws -> AuditLeaf? {
        try read { db in
            guard
                let row = try db.query(
                    "SELECT \(PGAuditRow.columns), salt, leaf FROM audit_log WHERE sequence = $1", [.int64(Int64(index) + 1)]
                ).rows.first
            else { return nil }
            return AuditLeaf(
                index: index, entry: try PGAuditRow.decode(row), salt: try row.decode("salt"), data: try row.decode("leaf"),
                fromChain: false)
        }
    }

    public func issuingLeaf(attestationID: String) throws -> AuditLeaf? {
        let sequence: Int64? = try read { db in
            try db.query(
                "SELECT min(sequence) AS sequence FROM audit_log WHERE attestation_id = $1", [.text(attestationID)]
            ).rows.first?.decodeIfPresent("sequence")
        }
        guard let sequence else { return nil }
        return try auditLeaf(index: UInt64(sequence - 1))
    }

    public func latestCheckpointNote() throws -> StoredCheckpointNote? {
        try read { db in
            try db.query("SELECT size, root, note, created_at FROM audit_checkpoint_notes ORDER BY size DESC LIMIT 1")
                .rows.first.map(Self.decodeNote)
        }
    }

    public func checkpointNotes() throws -> [StoredCheckpointNote] {
        try read { db in
            try db.query("SELECT size, root, note, created_at FROM audit_checkpoint_notes ORDER BY size").rows
                .map(Self.decodeNote)
        }
    }

    /// Without witnesses (`minimum` 0) the latest note; cosignatures are not stored on this engine yet.
    public func latestCheckpointNote(cosignedBy minimum: Int) throws -> StoredCheckpointNote? {
        guard minimum <= 0 else { throw PostgresStoreError.notImplemented("witness cosignatures") }
        return try latestCheckpointNote()
    }

    public func attachCosignatures(
        _ cosignatures: [WitnessCosignature], size: UInt64, now: Millis,
        completion: @escaping StoreCompletion<StoredCheckpointNote?>
    ) {
        completion(.failure(PostgresStoreError.notImplemented("storing witness cosignatures")))
    }

    public func erasePersonalData(_ request: ErasureRequest, completion: @escaping StoreCompletion<ErasureCounts>) {
        completion(.failure(PostgresStoreError.notImplemented("erasing personal data after retention")))
    }

    public func publishCheckpointNote(
        signer: NoteSigner, origin: String, now: Millis, completion: @escaping StoreCompletion<StoredCheckpointNote?>
    ) {
        write(
            { tx in
                let tree = try tx.auditHead().tree
                let latest = try tx.connection.query(
                    "SELECT size, root, note, created_at FROM audit_checkpoint_notes ORDER BY size DESC LIMIT 1"
                ).rows.first.map(Self.decodeNote)
                guard tree.size > 0, tree.size > latest?.size ?? 0 else { return latest }
                let note = try signer.sign(Checkpoint(origin: origin, size: tree.size, root: tree.root))
                let stored = StoredCheckpointNote(size: tree.size, root: tree.root, note: note.serialized, createdAt: now)
                // The primary key on size refuses a second root for a size already signed.
                try tx.connection.query(
                    "INSERT INTO audit_checkpoint_notes (size, root, note, created_at) VALUES ($1, $2, $3, $4)",
                    [.int64(Int64(stored.size)), .bytes(stored.root.bytes), .text(stored.note), .int64(now)])
                return stored
            }, completion: completion)
    }

    static func decodeNote(_ row: PostgresRow) throws -> StoredCheckpointNote {
        let size: Int64 = try row.decode("size")
        guard let root = MerkleHash(bytes: try row.decode("root")) else {
            throw PostgresStoreError.corrupt(table: "audit_checkpoint_notes", key: String(size), column: "root")
        }
        return StoredCheckpointNote(
            size: UInt64(size), root: root, note: try row.decode("note"), createdAt: try row.decode("created_at"))
    }
}
