import HeyanDomain

// How catalog versions and complaints are laid out in the catalog-governance migration's tables
// (GovernanceSchema.swift), read by column (StoredRow).

enum CatalogVersionRow {
    enum Column: String, TableColumns {
        case version, effectiveAt = "effective_at", reason, legalBasis = "legal_basis", actor
        case createdAt = "created_at", changedCodes = "changed_codes", catalog
        static let table = "catalog_versions"
    }
    typealias C = Column

    static let columns = Column.selectList()
    static let insertSQL = "INSERT INTO catalog_versions (\(columns)) VALUES (\(Column.parameterList))"

    /// Stores `version` with its catalog as JSON text (`catalogText`).
    static func insert(_ version: CatalogVersion, catalogText: String, on connection: SQLiteConnection) throws {
        let insert = try connection.cachedStatement(insertSQL)
        try insert.bind(Int64(version.version), at: C.version.parameter)
        try insert.bind(version.effectiveAt, at: C.effectiveAt.parameter)
        try insert.bind(version.reason, at: C.reason.parameter)
        try insert.bind(version.legalBasis, at: C.legalBasis.parameter)
        try insert.bind(version.actor, at: C.actor.parameter)
        try insert.bind(version.createdAt, at: C.createdAt.parameter)
        try insert.bind(version.changedCodes.joined(separator: ","), at: C.changedCodes.parameter)
        try insert.bind(catalogText, at: C.catalog.parameter)
        try insert.run()
    }

    static func decode(_ statement: SQLiteStatement) throws -> CatalogVersion {
        let number = statement.int64(at: C.version.position)
        let row = StoredRow<Column>(statement, key: String(number))
        let catalog: Catalog
        do {
            catalog = try Catalog.decodeStored(Array(try row.text(.catalog).utf8))
        } catch {
            throw row.invalid(.catalog)
        }
        guard catalog.version == Int(try row.integer(.version)) else { throw row.invalid(.version) }
        let codes = try row.text(.changedCodes)
        return CatalogVersion(
            catalog: catalog, effectiveAt: try row.integer(.effectiveAt), reason: try row.text(.reason),
            legalBasis: try row.text(.legalBasis), actor: try row.text(.actor), createdAt: try row.integer(.createdAt),
            changedCodes: codes.isEmpty ? [] : codes.split(separator: ",").map(String.init))
    }
}

enum ComplaintRow {
    enum Column: String, TableColumns {
        case id, filedBy = "filed_by", onBehalfOfCitizen = "on_behalf_of_citizen"
        case againstDepartment = "against_department", certificateDemanded = "certificate_demanded"
        case standing = "catalog_standing", catalogVersion = "catalog_version", matterCode = "matter_code"
        case description, status, createdAt = "created_at", handledAt = "handled_at", handledBy = "handled_by", reply
        static let table = "complaints"
    }
    typealias C = Column

    static let columns = Column.selectList()
    static let insertSQL = "INSERT INTO complaints (\(columns)) VALUES (\(Column.parameterList))"
    static let selectByID = "SELECT \(columns) FROM complaints WHERE id = ?1"
    static let updateHandlingSQL = """
        UPDATE complaints SET status = ?\(C.status.parameter), handled_at = ?\(C.handledAt.parameter),
            handled_by = ?\(C.handledBy.parameter), reply = ?\(C.reply.parameter)
        WHERE id = ?\(C.id.parameter)
        """

    static func insert(_ complaint: Complaint, on connection: SQLiteConnection) throws {
        let statement = try connection.cachedStatement(insertSQL)
        try statement.bind(complaint.id, at: C.id.parameter)
        try statement.bind(complaint.filedBy, at: C.filedBy.parameter)
        try statement.bind(complaint.onBehalfOfCitizen ? 1 : 0, at: C.onBehalfOfCitizen.parameter)
        try statement.bind(complaint.againstDepartment, at: C.againstDepartment.parameter)
        try statement.bind(complaint.certificateDemanded, at: C.certificateDemanded.parameter)
        try statement.bind(complaint.standing.rawValue, at: C.standing.parameter)
        try statement.bind(complaint.catalogVersion, at: C.catalogVersion.parameter)
        try statement.bindText(complaint.matterCode, at: C.matterCode.parameter)
        try statement.bind(complaint.description, at: C.description.parameter)
        try bindHandling(complaint, on: statement)
        try statement.bind(complaint.createdAt, at: C.createdAt.parameter)
        try statement.run()
    }

    private static func bindHandling(_ complaint: Complaint, on statement: SQLiteStatement) throws {
        try statement.bind(complaint.status.rawValue, at: C.status.parameter)
        try statement.bindInteger(complaint.handledAt, at: C.handledAt.parameter)
        try statement.bindText(complaint.handledBy, at: C.handledBy.parameter)
        try statement.bindText(complaint.reply, at: C.reply.parameter)
    }

    /// Writes the status, handling time, handler and reply of `complaint`.
    static func updateHandling(_ complaint: Complaint, on connection: SQLiteConnection) throws {
        let statement = try connection.cachedStatement(updateHandlingSQL)
        try statement.bind(complaint.id, at: C.id.parameter)
        try bindHandling(complaint, on: statement)
        try statement.run()
    }

    static func fetch(id: String, on connection: SQLiteConnection) throws -> Complaint? {
        try connection.fetchOne(selectByID, key: id) { try decode($0) }
    }

    static func decode(_ statement: SQLiteStatement) throws -> Complaint {
        let row = try StoredRow<Column>(statement, key: .id)
        return Complaint(
            id: row.key, filedBy: try row.text(.filedBy), onBehalfOfCitizen: try row.bool(.onBehalfOfCitizen),
            againstDepartment: try row.text(.againstDepartment), certificateDemanded: try row.text(.certificateDemanded),
            standing: try row.value(.standing), catalogVersion: try row.int(.catalogVersion),
            matterCode: row.optionalText(.matterCode), description: try row.text(.description),
            status: try row.value(.status), createdAt: try row.integer(.createdAt),
            handledAt: row.optionalInteger(.handledAt), handledBy: row.optionalText(.handledBy),
            reply: row.optionalText(.reply))
    }
}
