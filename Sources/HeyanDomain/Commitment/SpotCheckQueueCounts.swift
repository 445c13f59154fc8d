/// Queue depths of spot checks per owner, for `/metrics` (`heyan_queue_items{kind="spot-check"}`).
/// The embedded store implements it; a store without commitments has none.
public protocol SpotCheckQueueCounting: AnyObject, Sendable {
    /// Per owner: pending (including leases that expired), leased, and marked overdue, of
    /// spot checks not answered yet.
    func spotCheckQueueCounts() throws -> [QueueCount]
}
