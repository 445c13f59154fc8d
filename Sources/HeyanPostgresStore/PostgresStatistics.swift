import HeyanDomain
import HeyanPostgres

// The statistics queries on PostgreSQL: the same groups and counts as the SQLite store's
// (SQLiteGovernanceStore.swift), in one REPEATABLE READ snapshot. Text groups are ordered with
// COLLATE "C" (bytewise, as SQLite orders them) whatever the database's collation, NULLs first as in
// SQLite; the commitments section as SQLiteCommitmentStatistics.swift counts it.

extension PostgresVerificationStore {
    public func statisticsData(window: StatisticsWindow) throws -> StatisticsData {
        let from = window.from ?? Int64.min
        let to = window.to ?? Int64.max
        return try read(snapshot: true) { db in
            let bounds: [PostgresValue] = [.int64(from), .int64(to)]
            let requests = try db.query(
                """
                SELECT certificate_type, owner, requester, method, status, outcome, count(*) AS n
                FROM verifications WHERE created_at >= $1 AND created_at < $2
                GROUP BY 1, 2, 3, 4, 5, 6
                ORDER BY certificate_type COLLATE "C", owner COLLATE "C", requester COLLATE "C", method COLLATE "C",
                    status COLLATE "C", outcome COLLATE "C" NULLS FIRST
                """, bounds
            ).rows.map { row in
                StatisticsData.RequestCount(
                    certificateType: try row.decode("certificate_type"), owner: try row.decode("owner"),
                    requester: try row.decode("requester"), method: try Self.group(row, "method"),
                    status: try Self.group(row, "status"),
                    outcome: try row.decodeIfPresent("outcome", as: String.self).flatMap(Outcome.init(rawValue:)),
                    count: try row.decode("n"))
            }

            let answerTimes = try Self.times(
                """
                SELECT certificate_type, owner, answered_at - created_at AS millis FROM verifications
                WHERE status = $3 AND created_at >= $1 AND created_at < $2
                ORDER BY certificate_type COLLATE "C", owner COLLATE "C", millis
                """, bounds + [.text(VerificationStatus.answered.rawValue)], on: db)

            let deadlines = try db.query(
                """
                SELECT v.certificate_type, v.owner, count(*) FILTER (WHERE q.overdue) AS overdue,
                    count(*) FILTER (WHERE v.answered_at IS NOT NULL AND v.answered_at > q.due_at) AS late,
                    count(*) FILTER (WHERE q.due_beyond_calendar) AS beyond
                FROM queue_items q JOIN verifications v ON v.id = q.verification_id
                WHERE q.kind = $3 AND v.created_at >= $1 AND v.created_at < $2
                GROUP BY 1, 2 ORDER BY v.certificate_type COLLATE "C", v.owner COLLATE "C"
                """, bounds + [.text(QueueItemKind.verification.rawValue)]
            ).rows.map { row in
                StatisticsData.Deadlines(
                    certificateType: try row.decode("certificate_type"), owner: try row.decode("owner"),
                    overdue: try row.decode("overdue"), answeredAfterDue: try row.decode("late"),
                    dueBeyondCalendar: try row.decode("beyond"))
            }

            let complaints = try db.query(
                """
                SELECT against_department, status, catalog_standing, count(*) AS n FROM complaints
                WHERE created_at >= $1 AND created_at < $2
                GROUP BY 1, 2, 3
                ORDER BY against_department COLLATE "C", status COLLATE "C", catalog_standing COLLATE "C"
                """, bounds
            ).rows.map { row in
                StatisticsData.ComplaintCount(
                    againstDepartment: try row.decode("against_department"), status: try Self.group(row, "status"),
                    standing: try Self.group(row, "catalog_standing"), count: try row.decode("n"))
            }
            var data = StatisticsData(
                requests: requests, answerTimes: answerTimes, deadlines: deadlines, complaints: complaints)
            (data.commitments, data.checkTimes) = try Self.commitmentStatistics(bounds, on: db)
            return data
        }
    }

    /// The `commitments` section's counts: commitments created in the window with their spot
    /// checks and credit entries, per (type, owner).
    private static func commitmentStatistics(_ bounds: [PostgresValue], on db: PostgresConnection) throws
        -> (counts: [StatisticsData.CommitmentCount], checkTimes: [StatisticsData.AnswerTimes])
    {
        let counts = try db.query(
            """
            WITH credit AS (
                SELECT c.certificate_type, c.owner,
                    count(DISTINCT e.subject_id_type || ':' || e.subject_id) FILTER (WHERE e.removed_at IS NULL) AS listed,
                    count(*) FILTER (WHERE e.removed_at IS NOT NULL) AS removed
                FROM credit_entries AS e JOIN commitments AS c ON c.id = e.commitment_id
                WHERE c.created_at >= $1 AND c.created_at < $2
                GROUP BY 1, 2)
            SELECT c.certificate_type, c.owner, count(*) AS n, count(*) FILTER (WHERE c.sampled) AS sampled,
                count(*) FILTER (WHERE c.check_outcome = $3) AS consistent,
                count(*) FILTER (WHERE c.check_outcome = $4) AS false_commitments,
                count(*) FILTER (WHERE c.sampled AND c.check_outcome IS NULL) AS pending,
                count(*) FILTER (WHERE s.overdue) AS overdue,
                count(*) FILTER (WHERE c.receipt_revoked_at IS NOT NULL) AS revoked,
                coalesce(min(credit.listed), 0) AS listed, coalesce(min(credit.removed), 0) AS removed
            FROM commitments AS c LEFT JOIN spot_checks AS s ON s.commitment_id = c.id
                LEFT JOIN credit ON credit.certificate_type = c.certificate_type AND credit.owner = c.owner
            WHERE c.created_at >= $1 AND c.created_at < $2
            GROUP BY 1, 2 ORDER BY c.certificate_type COLLATE "C", c.owner COLLATE "C"
            """,
            bounds + [.text(SpotCheckOutcome.consistent.rawValue), .text(SpotCheckOutcome.falseCommitment.rawValue)]
        ).rows.map { row in
            StatisticsData.CommitmentCount(
                certificateType: try row.decode("certificate_type"), owner: try row.decode("owner"),
                commitments: try row.decode("n"), sampled: try row.decode("sampled"),
                consistent: try row.decode("consistent"), falseCommitments: try row.decode("false_commitments"),
                pending: try row.decode("pending"), overdue: try row.decode("overdue"),
                receiptsRevoked: try row.decode("revoked"), creditListed: try row.decode("listed"),
                creditRemoved: try row.decode("removed"))
        }
        let checkTimes = try times(
            """
            SELECT certificate_type, owner, checked_at - created_at AS millis FROM commitments
            WHERE checked_at IS NOT NULL AND created_at >= $1 AND created_at < $2
            ORDER BY certificate_type COLLATE "C", owner COLLATE "C", millis
            """, bounds, on: db)
        return (counts, checkTimes)
    }

    /// Durations `sql` selects (`certificate_type`, `owner`, `millis`, ordered by all three),
    /// grouped per (type, owner).
    private static func times(_ sql: String, _ parameters: [PostgresValue], on db: PostgresConnection) throws
        -> [StatisticsData.AnswerTimes]
    {
        var times: [StatisticsData.AnswerTimes] = []
        for row in try db.query(sql, parameters).rows {
            let type: String = try row.decode("certificate_type")
            let owner: String = try row.decode("owner")
            let millis: Int64 = try row.decode("millis")
            if let last = times.last, last.certificateType == type, last.owner == owner {
                times[times.count - 1].millis.append(millis)
            } else {
                times.append(.init(certificateType: type, owner: owner, millis: [millis]))
            }
        }
        return times
    }

    private static func group<T: RawRepresentable>(_ row: PostgresRow, _ column: String) throws -> T
    where T.RawValue == String {
        guard let value = T(rawValue: try row.decode(column)) else {
            throw PostgresStoreError.corrupt(table: "statistics", key: "(group)", column: column)
        }
        return value
    }
}
