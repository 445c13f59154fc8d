extension StatisticsData {
    /// Notify-and-commit figures of one (type, owner) over commitments created in the window
    /// (docs/statistics.md, section `commitments`).
    public struct CommitmentCount: Sendable, Equatable {
        public var certificateType: String
        public var owner: String
        /// Commitments accepted (each with a receipt).
        public var commitments: Int
        /// Sampled for a spot check.
        public var sampled: Int
        /// Spot checks answered `consistent`.
        public var consistent: Int
        /// Spot checks answered `false-commitment`.
        public var falseCommitments: Int
        /// Sampled and not answered yet.
        public var pending: Int
        /// Spot checks the sweep marked overdue (answered later or not).
        public var overdue: Int
        /// Receipts revoked (by a false-commitment finding).
        public var receiptsRevoked: Int
        /// Distinct subjects with an active credit entry from these commitments, now.
        public var creditListed: Int
        /// Credit entries from these commitments removed by credit repair.
        public var creditRemoved: Int

        public init(
            certificateType: String, owner: String, commitments: Int, sampled: Int, consistent: Int,
            falseCommitments: Int, pending: Int, overdue: Int, receiptsRevoked: Int, creditListed: Int,
            creditRemoved: Int
        ) {
            self.certificateType = certificateType
            self.owner = owner
            self.commitments = commitments
            self.sampled = sampled
            self.consistent = consistent
            self.falseCommitments = falseCommitments
            self.pending = pending
            self.overdue = overdue
            self.receiptsRevoked = receiptsRevoked
            self.creditListed = creditListed
            self.creditRemoved = creditRemoved
        }
    }
}
