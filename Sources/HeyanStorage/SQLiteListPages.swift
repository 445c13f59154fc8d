import HeyanDomain

/// The console's lists (docs/console.md): a requester's verifications and an owner's queue items,
/// newest first, one keyset page at a time (indexes of migration 11).
extension SQLiteVerificationStore {
    static let verificationPageSQL = """
        SELECT \(VerificationRow.columns) FROM verifications
        WHERE requester = ?1 AND (created_at, id) < (?2, ?3) ORDER BY created_at DESC, id DESC LIMIT ?4
        """
    /// Each item with its verification's columns after its own (as ``QueueItemRow/overdueSQL``).
    static let queuePageSQL = """
        SELECT \(QueueItemRow.Column.selectList(qualifier: "q")), \(VerificationRow.Column.selectList(qualifier: "v"))
        FROM queue_items AS q JOIN verifications AS v ON v.id = q.verification_id
        WHERE q.owner = ?1 AND (q.created_at, q.id) < (?2, ?3) ORDER BY q.created_at DESC, q.id DESC LIMIT ?4
        """

    public func verifications(requester: String, before cursor: ListCursor?, limit: Int) throws -> [Verification] {
        try database.read { db in
            try Self.page(Self.verificationPageSQL, key: requester, before: cursor, limit: limit, on: db) {
                try VerificationRow.decode($0)
            }
        }
    }

    public func queueItems(owner: String, before cursor: ListCursor?, limit: Int) throws -> [LeasedItem] {
        try database.read { db in
            try Self.page(Self.queuePageSQL, key: owner, before: cursor, limit: limit, on: db) { row in
                LeasedItem(
                    item: try QueueItemRow.decode(row),
                    verification: try VerificationRow.decode(row, offset: QueueItemRow.Column.allCases.count))
            }
        }
    }

    private static func page<Row>(
        _ sql: String, key: String, before cursor: ListCursor?, limit: Int, on db: SQLiteConnection,
        decode: (SQLiteStatement) throws -> Row
    ) throws -> [Row] {
        let statement = try db.cachedStatement(sql)
        defer { try? statement.reset() }
        try statement.bind(key, at: 1)
        try statement.bind(cursor?.createdAt ?? Millis.max, at: 2)
        try statement.bind(cursor?.id ?? "", at: 3)
        try statement.bind(max(0, limit), at: 4)
        var rows: [Row] = []
        while try statement.step() { rows.append(try decode(statement)) }
        return rows
    }
}
