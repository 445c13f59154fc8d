import HeyanDomain
import HeyanPostgres

// Complaints on PostgreSQL: the same steps and audit events as the SQLite store's
// (SQLiteGovernanceStore.swift).

extension PostgresVerificationStore {
    public func fileComplaint(_ complaint: Complaint, completion: @escaping StoreCompletion<Void>) {
        write(
            { tx in
                try tx.connection.query(
                    "INSERT INTO complaints (\(PGComplaintRow.columns)) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13,$14)",
                    PGComplaintRow.values(complaint))
                try tx.appendAudit(complaint.filedEvent, at: complaint.createdAt)
            }, completion: completion)
    }

    public func handleComplaint(
        id: String, reply: String, actor: String, now: Millis, completion: @escaping StoreCompletion<ComplaintHandleResult>
    ) {
        write(
            { tx in
                let db = tx.connection
                guard
                    let row = try db.query(
                        "SELECT \(PGComplaintRow.columns) FROM complaints WHERE id = $1 FOR UPDATE", [.text(id)]
                    ).rows.first
                else { return .notFound }
                let complaint = try PGComplaintRow.decode(row)
                guard complaint.status == .open else { return .alreadyHandled(complaint) }
                let (handled, event) = complaint.handled(reply: reply, by: actor, at: now)
                try db.query(
                    "UPDATE complaints SET status = $2, handled_at = $3, handled_by = $4, reply = $5 WHERE id = $1",
                    [.text(id), .text(handled.status.rawValue), .int64(now), .text(actor), .text(reply)])
                try tx.appendAudit(event, at: now)
                return .handled(handled)
            }, completion: completion)
    }

    public func complaints(matching filter: ComplaintFilter, after cursor: String?, limit: Int) throws -> [Complaint] {
        var conditions = [#"id COLLATE "C" > $1"#]
        var parameters: [PostgresValue] = [.text(cursor ?? "")]
        if let status = filter.status {
            parameters.append(.text(status.rawValue))
            conditions.append("status = $\(parameters.count)")
        }
        if let filer = filter.filedBy {
            parameters.append(.text(filer))
            conditions.append("filed_by = $\(parameters.count)")
        }
        parameters.append(.int(limit))
        // COLLATE "C": ids compare bytewise, as SQLite's BINARY collation compares them.
        let sql = """
            SELECT \(PGComplaintRow.columns) FROM complaints WHERE \(conditions.joined(separator: " AND "))
            ORDER BY id COLLATE "C" LIMIT $\(parameters.count)
            """
        return try read { try $0.query(sql, parameters).rows.map(PGComplaintRow.decode) }
    }
}

enum PGComplaintRow {
    static let columns = """
        id, filed_by, on_behalf_of_citizen, against_department, certificate_demanded, catalog_standing, \
        catalog_version, matter_code, description, status, created_at, handled_at, handled_by, reply
        """

    static func values(_ c: Complaint) -> [PostgresValue] {
        [
            .text(c.id), .text(c.filedBy), .bool(c.onBehalfOfCitizen), .text(c.againstDepartment),
            .text(c.certificateDemanded), .text(c.standing.rawValue), .int(c.catalogVersion), .text(c.matterCode),
            .text(c.description), .text(c.status.rawValue), .int64(c.createdAt), optional(c.handledAt),
            .text(c.handledBy), .text(c.reply),
        ]
    }

    static func decode(_ row: PostgresRow) throws -> Complaint {
        let id: String = try row.decode("id")
        guard let standing = Complaint.CatalogStanding(rawValue: try row.decode("catalog_standing")) else {
            throw PostgresStoreError.corrupt(table: "complaints", key: id, column: "catalog_standing")
        }
        guard let status = Complaint.Status(rawValue: try row.decode("status")) else {
            throw PostgresStoreError.corrupt(table: "complaints", key: id, column: "status")
        }
        return Complaint(
            id: id, filedBy: try row.decode("filed_by"), onBehalfOfCitizen: try row.decode("on_behalf_of_citizen"),
            againstDepartment: try row.decode("against_department"),
            certificateDemanded: try row.decode("certificate_demanded"), standing: standing,
            catalogVersion: try row.decode("catalog_version"), matterCode: try row.decodeIfPresent("matter_code"),
            description: try row.decode("description"), status: status, createdAt: try row.decode("created_at"),
            handledAt: try row.decodeIfPresent("handled_at"), handledBy: try row.decodeIfPresent("handled_by"),
            reply: try row.decodeIfPresent("reply"))
    }
}
