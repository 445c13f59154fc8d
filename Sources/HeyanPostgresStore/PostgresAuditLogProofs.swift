import HeyanDomain
import HeyanPostgres
import HeyanTransparencyLog

/// The audit log's Merkle tree on PostgreSQL: proofs, signed checkpoint notes with their witness
/// cosignatures, and erasure after retention — the same contract as the SQLite store's
/// (docs/transparency-log.md, docs/audit.md "Retention").
extension PostgresVerificationStore: AuditLogProofs {
    /// The integrated tree (entries still queued are not in it; ``awaitAuditIntegration(timeout:)``
    /// waits for them). No wait here: `/metrics` reads it on the writer's completion thread.
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
                index: index, entry: try PGAuditRow.decode(row), salt: try row.decodeIfPresent("salt") ?? [],
                data: try row.decode("leaf"),
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
        try read { try PGCheckpointNoteRow.latest(cosignedBy: 0, on: $0) }
    }

    public func checkpointNotes() throws -> [StoredCheckpointNote] {
        try read { try PGCheckpointNoteRow.all(on: $0) }
    }

    public func latestCheckpointNote(cosignedBy minimum: Int) throws -> StoredCheckpointNote? {
        try read(snapshot: true) { try PGCheckpointNoteRow.latest(cosignedBy: minimum, on: $0) }
    }

    public func attachCosignatures(
        _ cosignatures: [WitnessCosignature], size: UInt64, now: Millis,
        completion: @escaping StoreCompletion<StoredCheckpointNote?>
    ) {
        write(
            { tx in
                for cosignature in cosignatures {
                    try tx.connection.query(
                        """
                        INSERT INTO audit_checkpoint_cosignatures (size, witness, line, received_at) VALUES ($1, $2, $3, $4)
                        ON CONFLICT (size, witness) DO UPDATE SET line = excluded.line, received_at = excluded.received_at
                        """, [.int64(Int64(size)), .text(cosignature.witness), .text(cosignature.line), .int64(now)])
                }
                return try PGCheckpointNoteRow.note(size: size, on: tx.connection)
            }, completion: completion)
    }

    /// As the SQLite store erases (docs/audit.md, "Retention"): the append-only trigger of
    /// migration 3 lets exactly this UPDATE of `audit_log` through.
    public func erasePersonalData(_ request: ErasureRequest, completion: @escaping StoreCompletion<ErasureCounts>) {
        write(
            { tx in
                let db = tx.connection
                var counts = ErasureCounts()
                // Audit entries: those naming a subject (access records) and refused requests
                // (security logs), each before its own cut-off.
                let rows = try db.query(
                    """
                    SELECT sequence, detail, subject_id IS NOT NULL AS named_subject FROM audit_log
                    WHERE salt IS NOT NULL AND (
                        (subject_id IS NOT NULL AND time < $1)
                        OR (action IN ('request.refused', 'request.refused.aggregate') AND time < $2))
                    ORDER BY sequence LIMIT $3 FOR UPDATE
                    """, [.int64(request.accessBefore), .int64(request.securityBefore), .int(request.limit)]
                ).rows
                for row in rows {
                    let sequence: Int64 = try row.decode("sequence")
                    let kept = AuditRetention.keptDetail(of: AuditDetailText.decode(try row.decodeIfPresent("detail")) ?? [:])
                    try db.query(
                        "UPDATE audit_log SET salt = NULL, subject_id = NULL, detail = $1 WHERE sequence = $2",
                        [.text(AuditDetailText.encode(kept)), .int64(sequence)])
                    if try row.decode("named_subject", as: Bool.self) { counts.entries += 1 } else { counts.securityEntries += 1 }
                }
                // Verifications answered before the cut-off: subject, name, claims, disclosure, note.
                counts.verifications = try db.query(
                    """
                    UPDATE verifications SET subject_id = '', subject_name = '', claims = '{}', disclosed = '{}', note = NULL
                    WHERE id IN (SELECT id FROM verifications
                        WHERE status = 'answered' AND created_at < $1 AND subject_id <> '' LIMIT $2 FOR UPDATE)
                    """, [.int64(request.accessBefore), .int(request.limit)]
                ).affectedRows
                // Attestations issued before the cut-off: the subject and the signed payload (the
                // holder keeps its copy; heyan keeps id, parties, type, outcome and times).
                counts.attestations = try db.query(
                    """
                    UPDATE attestations SET subject_id = '', jws = '', header_id = NULL
                    WHERE id IN (SELECT id FROM attestations WHERE issued_at < $1 AND subject_id <> '' LIMIT $2 FOR UPDATE)
                    """, [.int64(request.accessBefore), .int(request.limit)]
                ).affectedRows
                if counts.total > 0 { try tx.appendAudit(AuditRetention.erasedEvent(request, counts), at: request.now) }
                return counts
            },
            completion: { [self] result in
                // The `audit.erased` entry was queued, not sequenced (docs/postgresql.md, "Audit"):
                // wait for its integration to report its sequence as SQLite does. Erasure runs on
                // the elected node, one job at a time, so action and time name that one entry.
                guard case .success(let erased) = result, erased.total > 0 else { return completion(result) }
                Thread.detach { [self] in
                    completion(
                        Result {
                            _ = try awaitAuditIntegration(timeout: 10)
                            var counts = erased
                            counts.auditSequence = try read {
                                try $0.query(
                                    "SELECT max(sequence) AS s FROM audit_log WHERE action = $1 AND time = $2",
                                    [.text(AuditRetention.action.rawValue), .int64(request.now)]
                                ).rows.first?.decodeIfPresent("s")
                            }
                            return counts
                        })
                }
            })
    }

    public func publishCheckpointNote(
        signer: NoteSigner, origin: String, now: Millis, completion: @escaping StoreCompletion<StoredCheckpointNote?>
    ) {
        writeAfterIntegration(
            { tx in
                // Under the tree's row lock, against the stored newest note: never two roots for a
                // size, never a note behind the newest, even with two nodes signing at once.
                let head = try tx.lockedTreeHead()
                let tree = (size: head.size, root: head.root)
                let latest = try PGCheckpointNoteRow.latest(cosignedBy: 0, on: tx.connection)
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

}

/// How a ``StoredCheckpointNote`` is laid out in `audit_checkpoint_notes`, with its witnesses'
/// lines from `audit_checkpoint_cosignatures`.
enum PGCheckpointNoteRow {
    /// The newest note with at least `minimum` cosignatures (any note when 0).
    static func latest(cosignedBy minimum: Int, on db: PostgresConnection) throws -> StoredCheckpointNote? {
        try notes(
            """
            WHERE (SELECT count(*) FROM audit_checkpoint_cosignatures c WHERE c.size = n.size) >= $1
            ORDER BY size DESC LIMIT 1
            """, [.int(max(0, minimum))], on: db
        ).first
    }

    static func note(size: UInt64, on db: PostgresConnection) throws -> StoredCheckpointNote? {
        try notes("WHERE size = $1", [.int64(Int64(size))], on: db).first
    }

    static func all(on db: PostgresConnection) throws -> [StoredCheckpointNote] {
        try notes("ORDER BY size", [], on: db)
    }

    private static func notes(_ clause: String, _ parameters: [PostgresValue], on db: PostgresConnection) throws
        -> [StoredCheckpointNote]
    {
        try db.query("SELECT size, root, note, created_at FROM audit_checkpoint_notes n \(clause)", parameters).rows.map {
            row in
            let size: Int64 = try row.decode("size")
            guard let root = MerkleHash(bytes: try row.decode("root")) else {
                throw PostgresStoreError.corrupt(table: "audit_checkpoint_notes", key: String(size), column: "root")
            }
            let cosignatures = try db.query(
                "SELECT line FROM audit_checkpoint_cosignatures WHERE size = $1 ORDER BY witness", [.int64(size)]
            ).rows.map { try $0.decode("line", as: String.self) }
            return StoredCheckpointNote(
                size: UInt64(size), root: root, note: try row.decode("note"), createdAt: try row.decode("created_at"),
                cosignatures: cosignatures)
        }
    }
}
