import HeyanDomain

/// Spot-check queue depths, counted like ``SQLiteVerificationStore/queueCounts()``.
extension SQLiteVerificationStore: SpotCheckQueueCounting {
    public func spotCheckQueueCounts() throws -> [QueueCount] {
        let now = clock.now()
        return try database.read { try SpotCheckRow.queue.depths(now: now, on: $0) }
    }
}
