import HeyanDomain
import HeyanPostgres

// The statistics queries on PostgreSQL: the same groups and counts as the SQLite store's
// (SQLiteGovernanceStore.swift), in one REPEATABLE READ snapshot. Text groups are ordered with
// COLLATE "C" (bytewise, as SQLite orders them) whatever the database's collation, NULLs first as in
// SQLite. The commitments
// section is empty: no commitment can be stored on this engine yet (docs/postgresql.md).

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

            var answerTimes: [StatisticsData.AnswerTimes] = []
            for row in try db.query(
                """
                SELECT certificate_type, owner, answered_at - created_at AS millis FROM verifications
                WHERE status = $3 AND created_at >= $1 AND created_at < $2
                ORDER BY certificate_type COLLATE "C", owner COLLATE "C", millis
                """, bounds + [.text(VerificationStatus.answered.rawValue)]
            ).rows {
                let type: String = try row.decode("certificate_type")
                let owner: String = try row.decode("owner")
                let millis: Int64 = try row.decode("millis")
                if let last = answerTimes.last, last.certificateType == type, last.owner == owner {
                    answerTimes[answerTimes.count - 1].millis.append(millis)
                } else {
                    answerTimes.append(.init(certificateType: type, owner: owner, millis: [millis]))
                }
            }

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
            return StatisticsData(requests: requests, answerTimes: answerTimes, deadlines: deadlines, complaints: complaints)
        }
    }

    private static func group<T: RawRepresentable>(_ row: PostgresRow, _ column: String) throws -> T
    where T.RawValue == String {
        guard let value = T(rawValue: try row.decode(column)) else {
            throw PostgresStoreError.corrupt(table: "statistics", key: "(group)", column: column)
        }
        return value
    }
}
