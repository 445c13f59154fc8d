import HeyanDomain
import HeyanPostgres

/// The console's lists (docs/console.md), as on SQLite: newest first, one keyset page at a time
/// (indexes of migration 4).
extension PostgresVerificationStore {
    public func verifications(requester: String, before cursor: ListCursor?, limit: Int) throws -> [Verification] {
        try read { db in
            try db.query(
                """
                SELECT \(PGVerificationRow.columns) FROM verifications
                WHERE requester = $1 AND (created_at, id) < ($2, $3) ORDER BY created_at DESC, id DESC LIMIT $4
                """,
                [.text(requester), .int64(cursor?.createdAt ?? Millis.max), .text(cursor?.id ?? ""), .int(max(0, limit))]
            ).rows.map(PGVerificationRow.decode)
        }
    }

    public func queueItems(owner: String, before cursor: ListCursor?, limit: Int) throws -> [LeasedItem] {
        try read { db in
            let items = try db.query(
                """
                SELECT \(PGQueueItemRow.columns) FROM queue_items
                WHERE owner = $1 AND (created_at, id) < ($2, $3) ORDER BY created_at DESC, id DESC LIMIT $4
                """,
                [.text(owner), .int64(cursor?.createdAt ?? Millis.max), .text(cursor?.id ?? ""), .int(max(0, limit))]
            ).rows.map(PGQueueItemRow.decode)
            // The page's verifications in one statement (in the same snapshot), not one per item.
            guard !items.isEmpty else { return [] }
            var verifications: [String: Verification] = [:]
            for row in try db.query(
                "SELECT \(PGVerificationRow.columns) FROM verifications WHERE id = ANY($1::text[])",
                [.array(items.map { .text($0.verificationID) })]
            ).rows {
                let verification = try PGVerificationRow.decode(row)
                verifications[verification.id] = verification
            }
            return try items.map { item in
                guard let verification = verifications[item.verificationID] else {
                    throw PostgresStoreError.corrupt(table: "queue_items", key: item.id, column: "verification_id")
                }
                return LeasedItem(item: item, verification: verification)
            }
        }
    }
}
