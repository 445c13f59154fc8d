import HeyanDomain

/// Catalog versions, complaints and statistics in the embedded store (migration
/// "catalog-governance", ``GovernanceSchema``). Writes go through the group-commit writer with
/// their audit entries; reads use the reader pool.
extension SQLiteVerificationStore: CatalogVersionStore, ComplaintStore, StatisticsStore {
    // MARK: - Catalog versions

    public func storeCatalogVersion(
        _ version: CatalogVersion, baseVersion: Int, audit: AuditEvent,
        completion: @escaping StoreCompletion<CatalogVersionWriteResult>
    ) {
        let catalogText: String
        do {
            catalogText = String(decoding: try version.catalog.jsonBytes(), as: UTF8.self)
        } catch {
            return completion(.failure(error))
        }
        writer.submit(
            { session in
                let db = session.connection
                let latest = try db.cachedStatement("SELECT coalesce(max(version), 0) FROM catalog_versions")
                guard try latest.step() else { return .baseVersionChanged(latest: 0) }
                let newest = Int(latest.int64(at: 0))
                try latest.reset()
                guard newest == baseVersion else { return .baseVersionChanged(latest: newest) }
                try CatalogVersionRow.insert(version, catalogText: catalogText, on: db)
                try session.appendAudit(audit, at: version.createdAt)
                return .stored
            }, completion: completion)
    }

    public func catalogVersions() throws -> [CatalogVersion] {
        try database.read { db in
            let statement = try db.cachedStatement(
                "SELECT \(CatalogVersionRow.columns) FROM catalog_versions ORDER BY version")
            var versions: [CatalogVersion] = []
            while try statement.step() { versions.append(try CatalogVersionRow.decode(statement)) }
            return versions
        }
    }

    public func catalogVersion(_ version: Int) throws -> CatalogVersion? {
        try database.read { db in
            let statement = try db.cachedStatement(
                "SELECT \(CatalogVersionRow.columns) FROM catalog_versions WHERE version = ?1")
            try statement.bind(Int64(version), at: 1)
            guard try statement.step() else { return nil }
            return try CatalogVersionRow.decode(statement)
        }
    }

    // MARK: - Complaints

    public func fileComplaint(_ complaint: Complaint, completion: @escaping StoreCompletion<Void>) {
        writer.submit(
            { session in
                try ComplaintRow.insert(complaint, on: session.connection)
                try session.appendAudit(complaint.filedEvent, at: complaint.createdAt)
            }, completion: completion)
    }

    public func handleComplaint(
        id: String, reply: String, actor: String, now: Millis, completion: @escaping StoreCompletion<ComplaintHandleResult>
    ) {
        writer.submit(
            { session in
                let db = session.connection
                guard let complaint = try ComplaintRow.fetch(id: id, on: db) else { return .notFound }
                guard complaint.status == .open else { return .alreadyHandled(complaint) }
                let (handled, event) = complaint.handled(reply: reply, by: actor, at: now)
                try ComplaintRow.updateHandling(handled, on: db)
                try session.appendAudit(event, at: now)
                return .handled(handled)
            }, completion: completion)
    }

    public func complaints(matching filter: ComplaintFilter, after cursor: String?, limit: Int) throws -> [Complaint] {
        var conditions = ["id > :cursor"]
        if filter.status != nil { conditions.append("status = :status") }
        if filter.filedBy != nil { conditions.append("filed_by = :filer") }
        let sql =
            "SELECT \(ComplaintRow.columns) FROM complaints WHERE \(conditions.joined(separator: " AND ")) "
            + "ORDER BY id LIMIT :limit"
        return try database.read { db in
            let statement = try db.cachedStatement(sql)
            try statement.bind(.text(cursor ?? ""), named: ":cursor")
            if let status = filter.status { try statement.bind(.text(status.rawValue), named: ":status") }
            if let filer = filter.filedBy { try statement.bind(.text(filer), named: ":filer") }
            try statement.bind(.integer(Int64(limit)), named: ":limit")
            var complaints: [Complaint] = []
            while try statement.step() { complaints.append(try ComplaintRow.decode(statement)) }
            return complaints
        }
    }

    // MARK: - Statistics

    public func statisticsData(window: StatisticsWindow) throws -> StatisticsData {
        let from = window.from ?? Int64.min
        let to = window.to ?? Int64.max
        return try database.read { db in
            var requests: [StatisticsData.RequestCount] = []
            let counts = try db.cachedStatement(
                """
                SELECT certificate_type, owner, requester, method, status, outcome, count(*)
                FROM verifications WHERE created_at >= ?1 AND created_at < ?2
                GROUP BY 1, 2, 3, 4, 5, 6 ORDER BY 1, 2, 3, 4, 5, 6
                """)
            try counts.bind(from, at: 1)
            try counts.bind(to, at: 2)
            while try counts.step() {
                let table = VerificationRow.Column.table
                requests.append(
                    .init(
                        certificateType: try counts.groupKey(at: 0, table: table, column: "certificate_type"),
                        owner: try counts.groupKey(at: 1, table: table, column: "owner"),
                        requester: try counts.groupKey(at: 2, table: table, column: "requester"),
                        method: try counts.groupKey(at: 3, table: table, column: "method", as: VerificationMethod.self),
                        status: try counts.groupKey(at: 4, table: table, column: "status", as: VerificationStatus.self),
                        outcome: counts.text(at: 5).flatMap(Outcome.init(rawValue:)), count: Int(counts.int64(at: 6))))
            }

            let answerTimes = try StatisticsData.AnswerTimes.grouped(
                """
                SELECT certificate_type, owner, answered_at - created_at FROM verifications
                WHERE status = ?3 AND created_at >= ?1 AND created_at < ?2 ORDER BY 1, 2, 3
                """, from: from, to: to, parameters: [.text(VerificationStatus.answered.rawValue)], on: db)

            var deadlines: [StatisticsData.Deadlines] = []
            let late = try db.cachedStatement(
                """
                SELECT v.certificate_type, v.owner, sum(q.overdue),
                    sum(v.answered_at IS NOT NULL AND v.answered_at > q.due_at), sum(q.due_beyond_calendar)
                FROM queue_items q JOIN verifications v ON v.id = q.verification_id
                WHERE q.kind = ?3 AND v.created_at >= ?1 AND v.created_at < ?2
                GROUP BY 1, 2 ORDER BY 1, 2
                """)
            try late.bind(from, at: 1)
            try late.bind(to, at: 2)
            try late.bind(QueueItemKind.verification.rawValue, at: 3)
            while try late.step() {
                deadlines.append(
                    .init(
                        certificateType: try late.groupKey(at: 0, table: "verifications", column: "certificate_type"),
                        owner: try late.groupKey(at: 1, table: "verifications", column: "owner"),
                        overdue: Int(late.int64(at: 2)), answeredAfterDue: Int(late.int64(at: 3)),
                        dueBeyondCalendar: Int(late.int64(at: 4))))
            }

            var complaints: [StatisticsData.ComplaintCount] = []
            let filed = try db.cachedStatement(
                """
                SELECT against_department, status, catalog_standing, count(*) FROM complaints
                WHERE created_at >= ?1 AND created_at < ?2 GROUP BY 1, 2, 3 ORDER BY 1, 2, 3
                """)
            try filed.bind(from, at: 1)
            try filed.bind(to, at: 2)
            while try filed.step() {
                let table = ComplaintRow.Column.table
                complaints.append(
                    .init(
                        againstDepartment: try filed.groupKey(at: 0, table: table, column: "against_department"),
                        status: try filed.groupKey(at: 1, table: table, column: "status", as: Complaint.Status.self),
                        standing: try filed.groupKey(
                            at: 2, table: table, column: "catalog_standing", as: Complaint.CatalogStanding.self),
                        count: Int(filed.int64(at: 3))))
            }
            var data = StatisticsData(requests: requests, answerTimes: answerTimes, deadlines: deadlines, complaints: complaints)
            (data.commitments, data.checkTimes) = try Self.commitmentStatistics(from: from, to: to, on: db)
            return data
        }
    }
}
