import HeyanDomain

// How commitments, spot checks and credit entries are laid out in migration 5's tables
// (CommitmentSchema.swift): each row type's `Column` lists its columns in SELECT order, and its
// decoder reads them by column (StoredRow).

enum CommitmentRow {
    enum Column: String, TableColumns {
        case id, certificateType = "certificate_type", requester, owner, matterCode = "matter_code", purpose
        case subjectIDType = "subject_id_type", subjectID = "subject_id", subjectName = "subject_name", claims
        case textSHA256 = "text_sha256", text, signedAt = "signed_at", signedVia = "signed_via"
        case createdAt = "created_at", status, sampleRule = "sample_rule", sampleSeed = "sample_seed"
        case sampleValue = "sample_value", sampleRate = "sample_rate", sampled, spotCheckID = "spot_check_id"
        case spotCheckDueAt = "spot_check_due_at", checkOutcome = "check_outcome", checkNote = "check_note"
        case checkEvidence = "check_evidence", checkedBy = "checked_by", checkedAt = "checked_at"
        case receiptID = "receipt_id", receiptJWS = "receipt_jws", receiptIssuedAt = "receipt_issued_at"
        case receiptExpiresAt = "receipt_expires_at", receiptRevokedAt = "receipt_revoked_at"
        case receiptRevocationReason = "receipt_revocation_reason", receiptRevokedBy = "receipt_revoked_by"
        case creditEntryID = "credit_entry_id", catalogVersion = "catalog_version"
        static let table = "commitments"
    }
    typealias C = Column

    /// The unique keys a commitment is read by.
    enum Key {
        case id, receiptID
    }

    static let columns = Column.selectList()
    static let insertSQL = "INSERT INTO commitments (\(columns)) VALUES (\(Column.parameterList))"
    static let selectByID = "SELECT \(columns) FROM commitments WHERE id = ?1"
    static let selectByReceiptID = "SELECT \(columns) FROM commitments WHERE receipt_id = ?1"

    static func insert(_ c: Commitment, on connection: SQLiteConnection) throws {
        let s = try connection.cachedStatement(insertSQL)
        try s.bind(c.id, at: C.id.parameter)
        try s.bind(c.certificateType, at: C.certificateType.parameter)
        try s.bind(c.requester, at: C.requester.parameter)
        try s.bind(c.owner, at: C.owner.parameter)
        try s.bind(c.matterCode, at: C.matterCode.parameter)
        try s.bind(c.purpose, at: C.purpose.parameter)
        try s.bind(c.subject.idType.rawValue, at: C.subjectIDType.parameter)
        try s.bind(c.subject.id, at: C.subjectID.parameter)
        try s.bind(c.subject.name, at: C.subjectName.parameter)
        try s.bind(c.claims.canonicalJSONText, at: C.claims.parameter)
        try s.bind(c.textSHA256, at: C.textSHA256.parameter)
        try s.bindText(c.text, at: C.text.parameter)
        try s.bind(c.signedAt, at: C.signedAt.parameter)
        try s.bind(c.signedVia.rawValue, at: C.signedVia.parameter)
        try s.bind(c.createdAt, at: C.createdAt.parameter)
        try bindMutable(c, on: s)
        try s.bind(c.sample.rule, at: C.sampleRule.parameter)
        try s.bind(c.sample.seed, at: C.sampleSeed.parameter)
        try s.bind(c.sample.value, at: C.sampleValue.parameter)
        try s.bind(c.sample.rate, at: C.sampleRate.parameter)
        try s.bind(Int64(c.sample.sampled ? 1 : 0), at: C.sampled.parameter)
        try s.bindText(c.spotCheckID, at: C.spotCheckID.parameter)
        try s.bindInteger(c.spotCheckDueAt, at: C.spotCheckDueAt.parameter)
        try s.bind(c.receipt.id, at: C.receiptID.parameter)
        try s.bind(c.receipt.jws, at: C.receiptJWS.parameter)
        try s.bind(c.receipt.issuedAt, at: C.receiptIssuedAt.parameter)
        try s.bind(c.receipt.expiresAt, at: C.receiptExpiresAt.parameter)
        try s.bind(Int64(c.catalogVersion), at: C.catalogVersion.parameter)
        try s.run()
    }

    /// The columns a spot-check finding changes.
    private static let mutable: [Column] = [
        .status, .checkOutcome, .checkNote, .checkEvidence, .checkedBy, .checkedAt, .receiptRevokedAt,
        .receiptRevocationReason, .receiptRevokedBy, .creditEntryID,
    ]

    /// Binds the columns a spot-check finding changes, at their insert positions.
    private static func bindMutable(_ c: Commitment, on s: SQLiteStatement) throws {
        try s.bind(c.status.rawValue, at: C.status.parameter)
        try s.bindText(c.finding?.outcome.rawValue, at: C.checkOutcome.parameter)
        try s.bindText(c.finding?.note, at: C.checkNote.parameter)
        try s.bindText(c.finding?.evidence, at: C.checkEvidence.parameter)
        try s.bindText(c.finding?.checkedBy, at: C.checkedBy.parameter)
        try s.bindInteger(c.finding?.checkedAt, at: C.checkedAt.parameter)
        try s.bindInteger(c.receipt.revokedAt, at: C.receiptRevokedAt.parameter)
        try s.bindText(c.receipt.revocationReason, at: C.receiptRevocationReason.parameter)
        try s.bindText(c.receipt.revokedBy, at: C.receiptRevokedBy.parameter)
        try s.bindText(c.creditEntryID, at: C.creditEntryID.parameter)
    }

    static let updateFindingSQL =
        "UPDATE commitments SET " + mutable.map { "\($0.rawValue) = ?\($0.parameter)" }.joined(separator: ", ")
        + " WHERE id = ?\(C.id.parameter)"

    /// Writes the outcome of a spot check (status, finding, revocation, credit entry).
    static func updateFinding(_ c: Commitment, on connection: SQLiteConnection) throws {
        let s = try connection.cachedStatement(updateFindingSQL)
        try s.bind(c.id, at: C.id.parameter)
        try bindMutable(c, on: s)
        try s.run()
    }

    static func fetch(_ key: Key, _ value: String, on connection: SQLiteConnection) throws -> Commitment? {
        try connection.fetchOne(key == .id ? selectByID : selectByReceiptID, key: value) { try decode($0) }
    }

    static func decode(_ s: SQLiteStatement, offset: Int = 0) throws -> Commitment {
        let row = try StoredRow<Column>(s, offset: offset, key: .id)
        var finding: SpotCheckFinding?
        if let outcome = try row.optionalValue(.checkOutcome, as: SpotCheckOutcome.self) {
            finding = SpotCheckFinding(
                outcome: outcome, note: row.optionalText(.checkNote), evidence: row.optionalText(.checkEvidence),
                checkedBy: try row.text(.checkedBy), checkedAt: try row.integer(.checkedAt))
        }
        return Commitment(
            id: row.key, certificateType: try row.text(.certificateType), requester: try row.text(.requester),
            owner: try row.text(.owner), matterCode: try row.text(.matterCode), purpose: try row.text(.purpose),
            subject: Subject(
                idType: try row.value(.subjectIDType), id: try row.text(.subjectID), name: try row.text(.subjectName)),
            claims: try row.claims(.claims), textSHA256: try row.blob(.textSHA256), text: row.optionalText(.text),
            signedAt: try row.integer(.signedAt), signedVia: try row.value(.signedVia),
            createdAt: try row.integer(.createdAt), status: try row.value(.status),
            sample: SpotCheckSample(
                rule: try row.text(.sampleRule), seed: try row.text(.sampleSeed), value: try row.text(.sampleValue),
                rate: try row.real(.sampleRate), sampled: try row.bool(.sampled)),
            spotCheckID: row.optionalText(.spotCheckID), spotCheckDueAt: row.optionalInteger(.spotCheckDueAt),
            finding: finding,
            receipt: CommitmentReceipt(
                id: try row.text(.receiptID), jws: try row.text(.receiptJWS), issuedAt: try row.integer(.receiptIssuedAt),
                expiresAt: try row.integer(.receiptExpiresAt), revokedAt: row.optionalInteger(.receiptRevokedAt),
                revocationReason: row.optionalText(.receiptRevocationReason),
                revokedBy: row.optionalText(.receiptRevokedBy)),
            creditEntryID: row.optionalText(.creditEntryID), catalogVersion: try row.int(.catalogVersion))
    }
}

enum SpotCheckRow {
    enum Column: String, QueueTableColumns {
        case id, commitmentID = "commitment_id", owner, createdAt = "created_at", dueAt = "due_at", state
        case leaseToken = "lease_token", leaseExpiresAt = "lease_expires_at", leaseCount = "lease_count", overdue
        case answeredLeaseToken = "answered_lease_token"
        static let table = "spot_checks"
    }
    typealias C = Column

    static let queue = QueueTable<Column>()
    static let columns = Column.selectList()
    static let insertSQL = "INSERT INTO spot_checks (\(columns)) VALUES (\(Column.parameterList))"
    static let selectByID = "SELECT \(columns) FROM spot_checks WHERE id = ?1"
    /// Unanswered spot checks due by `?1` not yet marked overdue, each with its commitment's columns
    /// after its own.
    static let overdueSQL = """
        SELECT \(Column.selectList(qualifier: "s")), \(CommitmentRow.Column.selectList(qualifier: "c"))
        FROM spot_checks AS s JOIN commitments AS c ON c.id = s.commitment_id
        WHERE s.overdue = 0 AND s.state <> '\(QueueItemState.Name.done.rawValue)' AND s.due_at <= ?1
        ORDER BY s.due_at
        """

    static func insert(_ item: SpotCheck, on connection: SQLiteConnection) throws {
        let s = try connection.cachedStatement(insertSQL)
        try s.bind(item.id, at: C.id.parameter)
        try s.bind(item.commitmentID, at: C.commitmentID.parameter)
        try s.bind(item.owner, at: C.owner.parameter)
        try s.bind(item.createdAt, at: C.createdAt.parameter)
        try s.bind(item.dueAt, at: C.dueAt.parameter)
        try queue.bindState(item, on: s)
        try s.bind(Int64(item.overdue ? 1 : 0), at: C.overdue.parameter)
        try s.run()
    }

    static func fetch(id: String, on connection: SQLiteConnection) throws -> SpotCheck? {
        try connection.fetchOne(selectByID, key: id) { try decode($0) }
    }

    static func decode(_ s: SQLiteStatement, offset: Int = 0) throws -> SpotCheck {
        let row = try StoredRow<Column>(s, offset: offset, key: .id)
        return SpotCheck(
            id: row.key, commitmentID: try row.text(.commitmentID), owner: try row.text(.owner),
            createdAt: try row.integer(.createdAt), dueAt: try row.integer(.dueAt), state: try row.queueState(),
            leaseCount: try row.int(.leaseCount), overdue: try row.bool(.overdue))
    }
}

enum CreditEntryRow {
    enum Column: String, TableColumns {
        case id, subjectIDType = "subject_id_type", subjectID = "subject_id", certificateType = "certificate_type"
        case commitmentID = "commitment_id", reason, evidence, recordedBy = "recorded_by", recordedAt = "recorded_at"
        case removedAt = "removed_at", removedBy = "removed_by", removalReason = "removal_reason"
        static let table = "credit_entries"
    }
    typealias C = Column

    static let columns = Column.selectList()
    static let insertSQL = "INSERT INTO credit_entries (\(columns)) VALUES (\(Column.parameterList))"
    static let updateRemovalSQL = """
        UPDATE credit_entries SET removed_at = ?\(C.removedAt.parameter), removed_by = ?\(C.removedBy.parameter),
            removal_reason = ?\(C.removalReason.parameter)
        WHERE id = ?\(C.id.parameter)
        """

    static func insert(_ e: CreditEntry, on connection: SQLiteConnection) throws {
        let s = try connection.cachedStatement(insertSQL)
        try s.bind(e.id, at: C.id.parameter)
        try s.bind(e.subjectIDType.rawValue, at: C.subjectIDType.parameter)
        try s.bind(e.subjectID, at: C.subjectID.parameter)
        try s.bind(e.certificateType, at: C.certificateType.parameter)
        try s.bind(e.commitmentID, at: C.commitmentID.parameter)
        try s.bind(e.reason, at: C.reason.parameter)
        try s.bindText(e.evidence, at: C.evidence.parameter)
        try s.bind(e.recordedBy, at: C.recordedBy.parameter)
        try s.bind(e.recordedAt, at: C.recordedAt.parameter)
        try bindRemoval(e, on: s)
        try s.run()
    }

    private static func bindRemoval(_ e: CreditEntry, on s: SQLiteStatement) throws {
        try s.bindInteger(e.removedAt, at: C.removedAt.parameter)
        try s.bindText(e.removedBy, at: C.removedBy.parameter)
        try s.bindText(e.removalReason, at: C.removalReason.parameter)
    }

    /// Records the removal of an entry (credit repair).
    static func updateRemoval(_ e: CreditEntry, on connection: SQLiteConnection) throws {
        let s = try connection.cachedStatement(updateRemovalSQL)
        try s.bind(e.id, at: C.id.parameter)
        try bindRemoval(e, on: s)
        try s.run()
    }

    static func decode(_ s: SQLiteStatement) throws -> CreditEntry {
        let row = try StoredRow<Column>(s, key: .id)
        return CreditEntry(
            id: row.key, subjectIDType: try row.value(.subjectIDType), subjectID: try row.text(.subjectID),
            certificateType: try row.text(.certificateType), commitmentID: try row.text(.commitmentID),
            reason: try row.text(.reason), evidence: row.optionalText(.evidence), recordedBy: try row.text(.recordedBy),
            recordedAt: try row.integer(.recordedAt), removedAt: row.optionalInteger(.removedAt),
            removedBy: row.optionalText(.removedBy), removalReason: row.optionalText(.removalReason))
    }

    /// Entries about `subjectID`, oldest first; only active ones when `activeOnly`.
    static func fetch(subjectID: String, activeOnly: Bool, on connection: SQLiteConnection) throws -> [CreditEntry] {
        let s = try connection.cachedStatement(
            "SELECT \(columns) FROM credit_entries WHERE subject_id = ?1"
                + (activeOnly ? " AND removed_at IS NULL" : "") + " ORDER BY recorded_at, id")
        try s.bind(subjectID, at: 1)
        defer { try? s.reset() }
        var entries: [CreditEntry] = []
        while try s.step() { entries.append(try decode(s)) }
        return entries
    }
}
