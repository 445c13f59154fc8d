import HeyanDomain

/// Spot-check queue depths, counted like ``SQLiteVerificationStore/queueCounts()``.
extension SQLiteVerificationStore: SpotCheckQueueCounting {
    public func spotCheckQueueCounts() throws -> [QueueCount] {
        try queueDepths(of: "spot_checks")
    }
}
