extension StatisticsAssembler {
    /// Notify-and-commit (告知承诺) per owning department and commitment type: commitments,
    /// spot-check results, revoked receipts, the credit list, and the median time to a finding.
    static func commitments(_ data: StatisticsData) -> StatisticsSection {
        struct Key: Hashable, Comparable {
            var owner: String
            var type: String
            static func < (a: Key, b: Key) -> Bool { (a.owner, a.type) < (b.owner, b.type) }
        }
        var counts: [Key: StatisticsData.CommitmentCount] = [:]
        for row in data.commitments { counts[Key(owner: row.owner, type: row.certificateType)] = row }
        var times: [Key: [Millis]] = [:]
        for row in data.checkTimes { times[Key(owner: row.owner, type: row.certificateType)] = row.millis }
        let rows = Set(counts.keys).union(times.keys).sorted().map { key -> [StatisticsCell] in
            let row = counts[key]
            let figures = [
                row?.commitments, row?.sampled, row?.consistent, row?.falseCommitments, row?.pending, row?.overdue,
                row?.receiptsRevoked, row?.creditListed, row?.creditRemoved,
            ].map { StatisticsCell.integer(Int64($0 ?? 0)) }
            let median = Percentile.nearestRank(times[key] ?? [], 0.5).map { StatisticsCell.integer($0) } ?? .empty
            return [.text(key.owner), .text(key.type)] + figures + [median]
        }
        return StatisticsSection(
            name: "commitments", title: "告知承诺与事后核查（按出证部门和证明事项）",
            columns: [
                "department", "certificateType", "commitments", "spotChecksSampled", "consistent", "falseCommitments",
                "spotChecksPending", "spotChecksOverdue", "receiptsRevoked", "creditListed", "creditRemoved",
                "medianCheckMs",
            ],
            rows: rows)
    }
}
