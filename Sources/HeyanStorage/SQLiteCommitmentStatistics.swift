import HeyanDomain

/// The `commitments` statistics section's counts (docs/statistics.md): commitments created in
/// `[from, to)` with their spot checks and credit entries, per (type, owner).
extension SQLiteVerificationStore {
    static func commitmentStatistics(from: Millis, to: Millis, on db: SQLiteConnection) throws
        -> (counts: [StatisticsData.CommitmentCount], checkTimes: [StatisticsData.AnswerTimes])
    {
        struct Credit { var listed: Int; var removed: Int }
        var credit: [String: Credit] = [:]
        let entries = try db.cachedStatement(
            """
            SELECT c.certificate_type, c.owner,
                count(DISTINCT CASE WHEN e.removed_at IS NULL THEN e.subject_id_type || ':' || e.subject_id END),
                sum(e.removed_at IS NOT NULL)
            FROM credit_entries AS e JOIN commitments AS c ON c.id = e.commitment_id
            WHERE c.created_at >= ?1 AND c.created_at < ?2
            GROUP BY 1, 2
            """)
        try entries.bind(from, at: 1)
        try entries.bind(to, at: 2)
        while try entries.step() {
            let key =
                try entries.groupKey(at: 0, table: "commitments", column: "certificate_type") + "\u{0}"
                + entries.groupKey(at: 1, table: "commitments", column: "owner")
            credit[key] = Credit(listed: Int(entries.int64(at: 2)), removed: Int(entries.int64(at: 3)))
        }

        var counts: [StatisticsData.CommitmentCount] = []
        let rows = try db.cachedStatement(
            """
            SELECT c.certificate_type, c.owner, count(*), sum(c.sampled),
                sum(c.check_outcome IS ?3), sum(c.check_outcome IS ?4),
                sum(c.sampled = 1 AND c.check_outcome IS NULL), sum(coalesce(s.overdue, 0)),
                sum(c.receipt_revoked_at IS NOT NULL)
            FROM commitments AS c LEFT JOIN spot_checks AS s ON s.commitment_id = c.id
            WHERE c.created_at >= ?1 AND c.created_at < ?2
            GROUP BY 1, 2 ORDER BY 1, 2
            """)
        try rows.bind(from, at: 1)
        try rows.bind(to, at: 2)
        try rows.bind(SpotCheckOutcome.consistent.rawValue, at: 3)
        try rows.bind(SpotCheckOutcome.falseCommitment.rawValue, at: 4)
        while try rows.step() {
            let type = try rows.groupKey(at: 0, table: "commitments", column: "certificate_type")
            let owner = try rows.groupKey(at: 1, table: "commitments", column: "owner")
            let entry = credit[type + "\u{0}" + owner]
            counts.append(
                .init(
                    certificateType: type, owner: owner, commitments: Int(rows.int64(at: 2)),
                    sampled: Int(rows.int64(at: 3)), consistent: Int(rows.int64(at: 4)),
                    falseCommitments: Int(rows.int64(at: 5)), pending: Int(rows.int64(at: 6)),
                    overdue: Int(rows.int64(at: 7)), receiptsRevoked: Int(rows.int64(at: 8)),
                    creditListed: entry?.listed ?? 0, creditRemoved: entry?.removed ?? 0))
        }

        let checkTimes = try StatisticsData.AnswerTimes.grouped(
            """
            SELECT certificate_type, owner, checked_at - created_at FROM commitments
            WHERE checked_at IS NOT NULL AND created_at >= ?1 AND created_at < ?2 ORDER BY 1, 2, 3
            """, from: from, to: to, on: db)
        return (counts, checkTimes)
    }
}
