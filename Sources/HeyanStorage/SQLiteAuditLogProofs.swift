import CSQLite
import HeyanDomain
import HeyanTransparencyLog

/// The audit log's Merkle tree read from SQLite (docs/transparency-log.md, "Storage"). Every read
/// is one read transaction, so a proof and the tree size it is checked against come from one
/// snapshot. Tree index = `audit_log.sequence − 1`.
extension SQLiteVerificationStore: AuditLogProofs {
    public func treeHead() throws -> TreeHead {
        try database.read { db in
            let state = try AuditTree.state(on: db)
            return TreeHead(size: state.size, root: state.root)
        }
    }

    public func inclusionProof(index: UInt64, size: UInt64) throws -> [MerkleHash] {
        try database.read { db in
            let treeSize = try AuditTree.state(on: db).size
            guard size <= treeSize else {
                throw AuditTreeRangeError("the tree has \(treeSize) leaves, not \(size)")
            }
            guard index < size else {
                throw AuditTreeRangeError("leaf index \(index) is not inside a tree of size \(size)")
            }
            return try Merkle.inclusionProof(index: index, size: size, reader: SQLiteMerkleNodeReader(connection: db))
        }
    }

    public func consistencyProof(first: UInt64, second: UInt64) throws -> [MerkleHash] {
        try database.read { db in
            let treeSize = try AuditTree.state(on: db).size
            guard second <= treeSize else {
                throw AuditTreeRangeError("the tree has \(treeSize) leaves, not \(second)")
            }
            guard first > 0, first <= second else {
                throw AuditTreeRangeError("a consistency proof needs 0 < from ≤ to, got \(first) and \(second)")
            }
            return try Merkle.consistencyProof(
                first: first, second: second, reader: SQLiteMerkleNodeReader(connection: db))
        }
    }

    public func auditLeaf(index: UInt64) throws -> AuditLeaf? {
        guard index < UInt64(Int64.max) else { return nil }
        return try database.read { db in
            try Self.leaf(where: "sequence = ?1", argument: .integer(Int64(index) + 1), on: db)
        }
    }

    public func issuingLeaf(attestationID: String) throws -> AuditLeaf? {
        try database.read { db in
            try Self.leaf(
                where: "sequence = (SELECT issuing_sequence FROM attestations WHERE id = ?1)",
                argument: .text(attestationID), on: db)
        }
    }

    private static func leaf(where condition: String, argument: SQLiteValue, on db: SQLiteConnection) throws -> AuditLeaf? {
        let state = try AuditTree.state(on: db)
        let statement = try db.cachedStatement("SELECT \(AuditRow.columns) FROM audit_log WHERE \(condition)")
        defer { try? statement.reset() }
        try statement.bind(argument, at: 1)
        guard try statement.step() else { return nil }
        let entry = try AuditRow.decode(statement)
        let index = UInt64(entry.sequence - 1)
        // Entries of the open batch are not leaves yet for readers: only what `audit_tree` counts.
        guard index < state.size else { return nil }
        let key = String(entry.sequence)
        // An entry erased after retention has no salt: its leaf data alone remains (`salt` empty).
        let salt = statement.blob(at: AuditRow.Column.salt.position) ?? []
        guard let data = statement.blob(at: AuditRow.Column.leaf.position) else {
            throw StoredRowError.null(table: AuditRow.Column.table, key: key, column: "leaf")
        }
        return AuditLeaf(index: index, entry: entry, salt: salt, data: data, fromChain: index < state.chainLeaves)
    }

    public func latestCheckpointNote() throws -> StoredCheckpointNote? {
        try database.read { try CheckpointNoteRow.latest(on: $0) }
    }

    public func checkpointNotes() throws -> [StoredCheckpointNote] {
        try database.read { try CheckpointNoteRow.all(on: $0) }
    }

    public func latestCheckpointNote(cosignedBy minimum: Int) throws -> StoredCheckpointNote? {
        try database.read { try CheckpointNoteRow.latest(cosignedBy: minimum, on: $0) }
    }

    public func erasePersonalData(_ request: ErasureRequest, completion: @escaping StoreCompletion<ErasureCounts>) {
        writer.submit(
            { session in
                let db = session.connection
                var counts = ErasureCounts()
                let limit = Int64(request.limit)
                // Audit entries: those naming a subject (access records) and refused requests
                // (security logs), each before its own cut-off.
                let select = try db.cachedStatement(
                    """
                    SELECT sequence, detail, subject_id IS NOT NULL FROM audit_log
                    WHERE salt IS NOT NULL AND (
                        (subject_id IS NOT NULL AND time < ?1)
                        OR (action IN ('request.refused', 'request.refused.aggregate') AND time < ?2))
                    ORDER BY sequence LIMIT ?3
                    """)
                var rows: [(Int64, String?, Bool)] = []
                do {
                    defer { try? select.reset() }
                    try select.bind(request.accessBefore, at: 1)
                    try select.bind(request.securityBefore, at: 2)
                    try select.bind(limit, at: 3)
                    while try select.step() {
                        rows.append((select.int64(at: 0), select.text(at: 1), select.int64(at: 2) != 0))
                    }
                }
                let update = try db.cachedStatement(
                    "UPDATE audit_log SET salt = NULL, subject_id = NULL, detail = ?1 WHERE sequence = ?2")
                for (sequence, detail, namedSubject) in rows {
                    let kept = AuditRetention.keptDetail(of: AuditDetailText.decode(detail) ?? [:])
                    try update.reset()
                    try update.bind(AuditDetailText.encode(kept).map(SQLiteValue.text) ?? .null, at: 1)
                    try update.bind(sequence, at: 2)
                    try update.run()
                    if namedSubject { counts.entries += 1 } else { counts.securityEntries += 1 }
                }
                // Verifications answered before the cut-off: subject, name, claims, disclosure, note.
                try db.execute(
                    """
                    UPDATE verifications SET subject_id = '', subject_name = '', claims = '{}', disclosed = '{}', note = NULL
                    WHERE rowid IN (SELECT rowid FROM verifications
                        WHERE status = 'answered' AND created_at < ?1 AND subject_id != '' LIMIT ?2)
                    """, arguments: [.integer(request.accessBefore), .integer(limit)])
                counts.verifications = Int(db.changes)
                // Attestations issued before the cut-off: the subject and the signed payload (the
                // holder keeps its copy; heyan keeps id, parties, type, outcome and times).
                try db.execute(
                    """
                    UPDATE attestations SET subject_id = '', jws = '', jws_header = NULL
                    WHERE rowid IN (SELECT rowid FROM attestations WHERE issued_at < ?1 AND subject_id != '' LIMIT ?2)
                    """, arguments: [.integer(request.accessBefore), .integer(limit)])
                counts.attestations = Int(db.changes)
                if counts.total > 0 {
                    let entry = try session.appendAudit(AuditRetention.erasedEvent(request, counts), at: request.now)
                    counts.auditSequence = entry.sequence
                }
                return counts
            }, completion: completion)
    }

    public func attachCosignatures(
        _ cosignatures: [WitnessCosignature], size: UInt64, now: Millis,
        completion: @escaping StoreCompletion<StoredCheckpointNote?>
    ) {
        writer.submit(
            { session in
                for cosignature in cosignatures {
                    try session.connection.execute(
                        """
                        INSERT INTO audit_checkpoint_cosignatures (size, witness, line, received_at) VALUES (?1, ?2, ?3, ?4)
                        ON CONFLICT (size, witness) DO UPDATE SET line = excluded.line, received_at = excluded.received_at
                        """,
                        arguments: [.integer(Int64(size)), .text(cosignature.witness), .text(cosignature.line), .integer(now)])
                }
                return try CheckpointNoteRow.note(size: size, on: session.connection)
            }, completion: completion)
    }

    public func publishCheckpointNote(
        signer: NoteSigner, origin: String, now: Millis, completion: @escaping StoreCompletion<StoredCheckpointNote?>
    ) {
        writer.submit(
            { session in
                let tree = session.auditHead.tree
                let latest = try CheckpointNoteRow.latest(on: session.connection)
                guard tree.size > 0, tree.size > latest?.size ?? 0 else { return latest }
                let note = try signer.sign(Checkpoint(origin: origin, size: tree.size, root: tree.root))
                let stored = StoredCheckpointNote(size: tree.size, root: tree.root, note: note.serialized, createdAt: now)
                // The primary key on size refuses a second root for a size already signed.
                try CheckpointNoteRow.insert(stored, on: session.connection)
                return stored
            }, completion: completion)
    }
}

/// How a ``StoredCheckpointNote`` is laid out in `audit_checkpoint_notes`.
enum CheckpointNoteRow {
    static let columns = "size, root, note, created_at"

    static func decode(_ statement: SQLiteStatement, on db: SQLiteConnection) throws -> StoredCheckpointNote {
        let note = try decode(statement)
        let lines = try db.cachedStatement(
            "SELECT line FROM audit_checkpoint_cosignatures WHERE size = ?1 ORDER BY witness")
        defer { try? lines.reset() }
        try lines.bind(Int64(note.size), at: 1)
        var cosignatures: [String] = []
        while try lines.step() { cosignatures.append(lines.text(at: 0) ?? "") }
        return StoredCheckpointNote(
            size: note.size, root: note.root, note: note.note, createdAt: note.createdAt, cosignatures: cosignatures)
    }

    /// The newest note with at least `minimum` cosignatures.
    static func latest(cosignedBy minimum: Int, on db: SQLiteConnection) throws -> StoredCheckpointNote? {
        guard minimum > 0 else { return try latest(on: db) }
        let statement = try db.cachedStatement(
            """
            SELECT \(columns) FROM audit_checkpoint_notes n
            WHERE (SELECT count(*) FROM audit_checkpoint_cosignatures c WHERE c.size = n.size) >= ?1
            ORDER BY size DESC LIMIT 1
            """)
        defer { try? statement.reset() }
        try statement.bind(Int64(minimum), at: 1)
        guard try statement.step() else { return nil }
        return try decode(statement, on: db)
    }

    static func note(size: UInt64, on db: SQLiteConnection) throws -> StoredCheckpointNote? {
        let statement = try db.cachedStatement("SELECT \(columns) FROM audit_checkpoint_notes WHERE size = ?1")
        defer { try? statement.reset() }
        try statement.bind(Int64(size), at: 1)
        guard try statement.step() else { return nil }
        return try decode(statement, on: db)
    }

    static func decode(_ statement: SQLiteStatement) throws -> StoredCheckpointNote {
        let size = statement.int64(at: 0)
        guard let root = statement.blob(at: 1).flatMap(MerkleHash.init(bytes:)) else {
            throw StoredRowError.null(table: "audit_checkpoint_notes", key: String(size), column: "root")
        }
        guard let note = statement.text(at: 2) else {
            throw StoredRowError.null(table: "audit_checkpoint_notes", key: String(size), column: "note")
        }
        return StoredCheckpointNote(size: UInt64(size), root: root, note: note, createdAt: statement.int64(at: 3))
    }

    static func latest(on db: SQLiteConnection) throws -> StoredCheckpointNote? {
        let statement = try db.cachedStatement("SELECT \(columns) FROM audit_checkpoint_notes ORDER BY size DESC LIMIT 1")
        defer { try? statement.reset() }
        guard try statement.step() else { return nil }
        return try decode(statement, on: db)
    }

    static func all(on db: SQLiteConnection) throws -> [StoredCheckpointNote] {
        let statement = try db.cachedStatement("SELECT \(columns) FROM audit_checkpoint_notes ORDER BY size")
        defer { try? statement.reset() }
        var notes: [StoredCheckpointNote] = []
        while try statement.step() { notes.append(try decode(statement, on: db)) }
        return notes
    }

    static func insert(_ note: StoredCheckpointNote, on db: SQLiteConnection) throws {
        try db.execute(
            "INSERT INTO audit_checkpoint_notes (size, root, note, created_at) VALUES (?1, ?2, ?3, ?4)",
            arguments: [.integer(Int64(note.size)), .blob(note.root.bytes), .text(note.note), .integer(note.createdAt)])
    }
}
