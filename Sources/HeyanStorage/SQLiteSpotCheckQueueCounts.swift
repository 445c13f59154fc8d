import HeyanDomain

/// Spot-check queue depths, counted like ``SQLiteVerificationStore/queueCounts()``.
extension SQLiteVerificationStore: SpotCheckQueueCounting {
    public func spotCheckQueueCounts() throws -> [QueueCount] {
        let now = clock()
        return try database.read { db in
            // A leased spot check whose lease expired waits for the owner again: it counts as pending.
            let statement = try db.cachedStatement(
                """
                SELECT owner,
                    sum(state = 'pending' OR lease_expires_at <= ?1),
                    sum(state = 'leased' AND lease_expires_at > ?1),
                    sum(overdue)
                FROM spot_checks WHERE state <> 'done' GROUP BY owner ORDER BY owner
                """)
            try statement.bind(now, at: 1)
            var counts: [QueueCount] = []
            while try statement.step() {
                counts.append(
                    QueueCount(
                        owner: statement.text(at: 0) ?? "", pending: Int(statement.int64(at: 1)),
                        leased: Int(statement.int64(at: 2)), overdue: Int(statement.int64(at: 3))))
            }
            return counts
        }
    }
}
