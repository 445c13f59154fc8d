/// One batch as the writer thread saw it, for `/metrics` (the engines' `observeBatches`).
public struct GroupCommitBatch: Sendable, Equatable {
    /// Jobs in the batch.
    public var jobs: Int
    /// From taking the writer connection (before `BEGIN`) to `COMMIT` returning, the WAL flush (and a
    /// synchronous standby's acknowledgement) included.
    public var seconds: Double
    /// False when the batch failed as a whole (BEGIN or COMMIT failed, every job of it failed). A
    /// batch whose only job threw is rolled back rather than committed, and is still true here.
    public var committed: Bool

    public init(jobs: Int, seconds: Double, committed: Bool) {
        self.jobs = jobs
        self.seconds = seconds
        self.committed = committed
    }
}
