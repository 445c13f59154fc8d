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
                let insert = try db.cachedStatement(
                    """
                    INSERT INTO catalog_versions
                        (version, effective_at, reason, legal_basis, actor, created_at, changed_codes, catalog)
                    VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)
                    """)
                try insert.bind(Int64(version.version), at: 1)
                try insert.bind(version.effectiveAt, at: 2)
                try insert.bind(version.reason, at: 3)
                try insert.bind(version.legalBasis, at: 4)
                try insert.bind(version.actor, at: 5)
                try insert.bind(version.createdAt, at: 6)
                try insert.bind(version.changedCodes.joined(separator: ","), at: 7)
                try insert.bind(catalogText, at: 8)
                try insert.run()
                try session.appendAudit(audit, at: version.createdAt)
                return .stored
            }, completion: completion)
    }

    static let catalogVersionColumns =
        "version, effective_at, reason, legal_basis, actor, created_at, changed_codes, catalog"

    public func catalogVersions() throws -> [CatalogVersion] {
        try database.read { db in
            let statement = try db.cachedStatement(
                "SELECT \(Self.catalogVersionColumns) FROM catalog_versions ORDER BY version")
            var versions: [CatalogVersion] = []
            while try statement.step() { versions.append(try Self.decodeCatalogVersion(statement)) }
            return versions
        }
    }

    public func catalogVersion(_ version: Int) throws -> CatalogVersion? {
        try database.read { db in
            let statement = try db.cachedStatement(
                "SELECT \(Self.catalogVersionColumns) FROM catalog_versions WHERE version = ?1")
            try statement.bind(Int64(version), at: 1)
            guard try statement.step() else { return nil }
            return try Self.decodeCatalogVersion(statement)
        }
    }

    static func decodeCatalogVersion(_ statement: SQLiteStatement) throws -> CatalogVersion {
        let number = statement.int64(at: 0)
        let catalog: Catalog
        do {
            catalog = try Catalog.decodeStored(Array((statement.text(at: 7) ?? "").utf8))
        } catch {
            throw StoredRowError.invalid(table: "catalog_versions", key: String(number), column: "catalog")
        }
        guard catalog.version == Int(number) else {
            throw StoredRowError.invalid(table: "catalog_versions", key: String(number), column: "version")
        }
        let codes = statement.text(at: 6) ?? ""
        return CatalogVersion(
            catalog: catalog, effectiveAt: statement.int64(at: 1), reason: statement.text(at: 2) ?? "",
            legalBasis: statement.text(at: 3) ?? "", actor: statement.text(at: 4) ?? "",
            createdAt: statement.int64(at: 5),
            changedCodes: codes.isEmpty ? [] : codes.split(separator: ",").map(String.init))
    }

    // MARK: - Complaints

    static let complaintColumns = """
        id, filed_by, on_behalf_of_citizen, against_department, certificate_demanded, catalog_standing, \
        catalog_version, matter_code, description, status, created_at, handled_at, handled_by, reply
        """

    public func fileComplaint(_ complaint: Complaint, completion: @escaping StoreCompletion<Void>) {
        writer.submit(
            { session in
                let statement = try session.connection.cachedStatement(
                    "INSERT INTO complaints (\(Self.complaintColumns)) VALUES "
                        + "(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)")
                try statement.bind(complaint.id, at: 1)
                try statement.bind(complaint.filedBy, at: 2)
                try statement.bind(complaint.onBehalfOfCitizen ? 1 : 0, at: 3)
                try statement.bind(complaint.againstDepartment, at: 4)
                try statement.bind(complaint.certificateDemanded, at: 5)
                try statement.bind(complaint.standing.rawValue, at: 6)
                try statement.bind(complaint.catalogVersion, at: 7)
                try statement.bindText(complaint.matterCode, at: 8)
                try statement.bind(complaint.description, at: 9)
                try statement.bind(complaint.status.rawValue, at: 10)
                try statement.bind(complaint.createdAt, at: 11)
                try statement.bindInteger(complaint.handledAt, at: 12)
                try statement.bindText(complaint.handledBy, at: 13)
                try statement.bindText(complaint.reply, at: 14)
                try statement.run()
                var detail = [
                    "complaint": complaint.id, "againstDepartment": complaint.againstDepartment,
                    "certificateDemanded": complaint.certificateDemanded,
                    "catalogStanding": complaint.standing.rawValue,
                    "onBehalfOfCitizen": complaint.onBehalfOfCitizen ? "true" : "false",
                ]
                if let matter = complaint.matterCode { detail["matterCode"] = matter }
                let code = complaint.standing == .unlisted ? nil : complaint.certificateDemanded
                try session.appendAudit(
                    AuditEvent(action: .complaintFiled, actor: complaint.filedBy, certificateType: code, detail: detail),
                    at: complaint.createdAt)
            }, completion: completion)
    }

    public func handleComplaint(
        id: String, reply: String, actor: String, now: Millis, completion: @escaping StoreCompletion<ComplaintHandleResult>
    ) {
        writer.submit(
            { session in
                let db = session.connection
                guard var complaint = try Self.fetchComplaint(id: id, on: db) else { return .notFound }
                guard complaint.status == .open else { return .alreadyHandled(complaint) }
                let update = try db.cachedStatement(
                    "UPDATE complaints SET status = 'handled', handled_at = ?2, handled_by = ?3, reply = ?4 WHERE id = ?1")
                try update.bind(id, at: 1)
                try update.bind(now, at: 2)
                try update.bind(actor, at: 3)
                try update.bind(reply, at: 4)
                try update.run()
                complaint.status = .handled
                complaint.handledAt = now
                complaint.handledBy = actor
                complaint.reply = reply
                try session.appendAudit(
                    AuditEvent(
                        action: .complaintHandled, actor: actor,
                        detail: ["complaint": id, "againstDepartment": complaint.againstDepartment]), at: now)
                return .handled(complaint)
            }, completion: completion)
    }

    public func complaints(matching filter: ComplaintFilter, after cursor: String?, limit: Int) throws -> [Complaint] {
        var conditions = ["id > :cursor"]
        if filter.status != nil { conditions.append("status = :status") }
        if filter.filedBy != nil { conditions.append("filed_by = :filer") }
        let sql =
            "SELECT \(Self.complaintColumns) FROM complaints WHERE \(conditions.joined(separator: " AND ")) "
            + "ORDER BY id LIMIT :limit"
        return try database.read { db in
            let statement = try db.cachedStatement(sql)
            try statement.bind(.text(cursor ?? ""), named: ":cursor")
            if let status = filter.status { try statement.bind(.text(status.rawValue), named: ":status") }
            if let filer = filter.filedBy { try statement.bind(.text(filer), named: ":filer") }
            try statement.bind(.integer(Int64(limit)), named: ":limit")
            var complaints: [Complaint] = []
            while try statement.step() { complaints.append(try Self.decodeComplaint(statement)) }
            return complaints
        }
    }

    static func fetchComplaint(id: String, on db: SQLiteConnection) throws -> Complaint? {
        let statement = try db.cachedStatement("SELECT \(complaintColumns) FROM complaints WHERE id = ?1")
        try statement.bind(id, at: 1)
        guard try statement.step() else { return nil }
        let complaint = try decodeComplaint(statement)
        try statement.reset()
        return complaint
    }

    static func decodeComplaint(_ statement: SQLiteStatement) throws -> Complaint {
        let id = statement.text(at: 0) ?? ""
        guard let standing = Complaint.CatalogStanding(rawValue: statement.text(at: 5) ?? "") else {
            throw StoredRowError.invalid(table: "complaints", key: id, column: "catalog_standing")
        }
        guard let status = Complaint.Status(rawValue: statement.text(at: 9) ?? "") else {
            throw StoredRowError.invalid(table: "complaints", key: id, column: "status")
        }
        return Complaint(
            id: id, filedBy: statement.text(at: 1) ?? "", onBehalfOfCitizen: statement.int64(at: 2) != 0,
            againstDepartment: statement.text(at: 3) ?? "", certificateDemanded: statement.text(at: 4) ?? "",
            standing: standing, catalogVersion: Int(statement.int64(at: 6)), matterCode: statement.text(at: 7),
            description: statement.text(at: 8) ?? "", status: status, createdAt: statement.int64(at: 10),
            handledAt: statement.optionalInt64(at: 11), handledBy: statement.text(at: 12), reply: statement.text(at: 13))
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
                let type = counts.text(at: 0) ?? ""
                guard let method = VerificationMethod(rawValue: counts.text(at: 3) ?? ""),
                    let status = VerificationStatus(rawValue: counts.text(at: 4) ?? "")
                else { throw StoredRowError.invalid(table: "verifications", key: type, column: "method") }
                requests.append(
                    .init(
                        certificateType: type, owner: counts.text(at: 1) ?? "", requester: counts.text(at: 2) ?? "",
                        method: method, status: status, outcome: counts.text(at: 5).flatMap(Outcome.init(rawValue:)),
                        count: Int(counts.int64(at: 6))))
            }

            let answerTimes = try StatisticsData.AnswerTimes.grouped(
                """
                SELECT certificate_type, owner, answered_at - created_at FROM verifications
                WHERE status = 'answered' AND created_at >= ?1 AND created_at < ?2 ORDER BY 1, 2, 3
                """, from: from, to: to, on: db)

            var deadlines: [StatisticsData.Deadlines] = []
            let late = try db.cachedStatement(
                """
                SELECT v.certificate_type, v.owner, sum(q.overdue),
                    sum(v.answered_at IS NOT NULL AND v.answered_at > q.due_at), sum(q.due_beyond_calendar)
                FROM queue_items q JOIN verifications v ON v.id = q.verification_id
                WHERE q.kind = 'verification' AND v.created_at >= ?1 AND v.created_at < ?2
                GROUP BY 1, 2 ORDER BY 1, 2
                """)
            try late.bind(from, at: 1)
            try late.bind(to, at: 2)
            while try late.step() {
                deadlines.append(
                    .init(
                        certificateType: late.text(at: 0) ?? "", owner: late.text(at: 1) ?? "",
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
                let against = filed.text(at: 0) ?? ""
                guard let status = Complaint.Status(rawValue: filed.text(at: 1) ?? ""),
                    let standing = Complaint.CatalogStanding(rawValue: filed.text(at: 2) ?? "")
                else { throw StoredRowError.invalid(table: "complaints", key: against, column: "status") }
                complaints.append(
                    .init(againstDepartment: against, status: status, standing: standing, count: Int(filed.int64(at: 3))))
            }
            var data = StatisticsData(requests: requests, answerTimes: answerTimes, deadlines: deadlines, complaints: complaints)
            (data.commitments, data.checkTimes) = try Self.commitmentStatistics(from: from, to: to, on: db)
            return data
        }
    }
}
