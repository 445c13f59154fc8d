import HeyanDomain

/// The console's lists (docs/console.md): a requester's verifications and an owner's queue items,
/// newest first, one keyset page at a time (indexes of migration 11).
extension SQLiteVerificationStore {
    static let verificationPageSQL = """
        SELECT \(VerificationRow.columns) FROM verifications
        WHERE requester = ?1 AND (created_at, id) < (?2, ?3) ORDER BY created_at DESC, id DESC LIMIT ?4
        """
    static let queuePageSQL = """
        SELECT \(QueueItemRow.Column.selectList()) FROM queue_items
        WHERE owner = ?1 AND (created_at, id) < (?2, ?3) ORDER BY created_at DESC, id DESC LIMIT ?4
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
            let items = try Self.page(Self.queuePageSQL, key: owner, before: cursor, limit: limit, on: db) {
                try QueueItemRow.decode($0)
            }
            return try items.map { item in
                guard let verification = try VerificationRow.fetch(id: item.verificationID, on: db) else {
                    throw StoredRowError.invalid(table: "queue_items", key: item.id, column: "verification_id")
                }
                return LeasedItem(item: item, verification: verification)
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
