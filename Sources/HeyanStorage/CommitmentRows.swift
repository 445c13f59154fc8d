import HeyanDomain

// How commitments, spot checks and credit entries are laid out in migration 3's tables
// (CommitmentSchema.swift). Column order in `columns` is the order `decode` reads.

enum CommitmentRow {
    static let columns = """
        id, certificate_type, requester, owner, matter_code, purpose, subject_id_type, subject_id, subject_name, \
        claims, text_sha256, text, signed_at, signed_via, created_at, status, sample_rule, sample_seed, \
        sample_value, sample_rate, sampled, spot_check_id, spot_check_due_at, check_outcome, check_note, \
        check_evidence, checked_by, checked_at, receipt_id, receipt_jws, receipt_issued_at, receipt_expires_at, \
        receipt_revoked_at, receipt_revocation_reason, receipt_revoked_by, credit_entry_id, catalog_version
        """
    static let insertSQL =
        "INSERT INTO commitments (\(columns)) VALUES ("
        + (1...37).map { "?\($0)" }.joined(separator: ", ") + ")"

    static func insert(_ c: Commitment, on connection: SQLiteConnection) throws {
        let s = try connection.cachedStatement(insertSQL)
        try s.bind(c.id, at: 1)
        try s.bind(c.certificateType, at: 2)
        try s.bind(c.requester, at: 3)
        try s.bind(c.owner, at: 4)
        try s.bind(c.matterCode, at: 5)
        try s.bind(c.purpose, at: 6)
        try s.bind(c.subject.idType.rawValue, at: 7)
        try s.bind(c.subject.id, at: 8)
        try s.bind(c.subject.name, at: 9)
        try s.bind(claimsText(c.claims), at: 10)
        try s.bind(c.textSHA256, at: 11)
        try s.bindText(c.text, at: 12)
        try s.bind(c.signedAt, at: 13)
        try s.bind(c.signedVia.rawValue, at: 14)
        try s.bind(c.createdAt, at: 15)
        try bindMutable(c, on: s)
        try s.bind(c.sample.rule, at: 17)
        try s.bind(c.sample.seed, at: 18)
        try s.bind(c.sample.value, at: 19)
        try s.bind(c.sample.rate, at: 20)
        try s.bind(Int64(c.sample.sampled ? 1 : 0), at: 21)
        try s.bindText(c.spotCheckID, at: 22)
        try s.bindInteger(c.spotCheckDueAt, at: 23)
        try s.bind(c.receipt.id, at: 29)
        try s.bind(c.receipt.jws, at: 30)
        try s.bind(c.receipt.issuedAt, at: 31)
        try s.bind(c.receipt.expiresAt, at: 32)
        try s.bind(Int64(c.catalogVersion), at: 37)
        try s.run()
    }

    /// Binds the columns a spot-check answer changes, at their insert positions (16, 24–28, 33–36).
    private static func bindMutable(_ c: Commitment, on s: SQLiteStatement) throws {
        try s.bind(c.status.rawValue, at: 16)
        try s.bindText(c.finding?.outcome.rawValue, at: 24)
        try s.bindText(c.finding?.note, at: 25)
        try s.bindText(c.finding?.evidence, at: 26)
        try s.bindText(c.finding?.checkedBy, at: 27)
        try s.bindInteger(c.finding?.checkedAt, at: 28)
        try s.bindInteger(c.receipt.revokedAt, at: 33)
        try s.bindText(c.receipt.revocationReason, at: 34)
        try s.bindText(c.receipt.revokedBy, at: 35)
        try s.bindText(c.creditEntryID, at: 36)
    }

    /// Writes the outcome of a spot check (status, finding, revocation, credit entry).
    static func updateFinding(_ c: Commitment, on connection: SQLiteConnection) throws {
        let s = try connection.cachedStatement(
            """
            UPDATE commitments SET status = ?16, check_outcome = ?24, check_note = ?25, check_evidence = ?26,
                checked_by = ?27, checked_at = ?28, receipt_revoked_at = ?33, receipt_revocation_reason = ?34,
                receipt_revoked_by = ?35, credit_entry_id = ?36
            WHERE id = ?1
            """)
        try s.bind(c.id, at: 1)
        try bindMutable(c, on: s)
        try s.run()
    }

    static func fetch(_ column: String, _ value: String, on connection: SQLiteConnection) throws -> Commitment? {
        let s = try connection.cachedStatement("SELECT \(columns) FROM commitments WHERE \(column) = ?1")
        try s.bind(value, at: 1)
        defer { try? s.reset() }
        guard try s.step() else { return nil }
        return try decode(s)
    }

    static func decode(_ s: SQLiteStatement, offset o: Int = 0) throws -> Commitment {
        let id = s.text(at: o) ?? ""
        func invalid(_ column: String) -> SQLiteError { StoredRowError.invalid(table: "commitments", key: id, column: column) }
        guard let idType = SubjectIDType(rawValue: s.text(at: o + 6) ?? "") else { throw invalid("subject_id_type") }
        guard let claims = decodeClaims(s.text(at: o + 9)) else { throw invalid("claims") }
        guard let via = CommitmentSignature(rawValue: s.text(at: o + 13) ?? "") else { throw invalid("signed_via") }
        guard let status = CommitmentStatus(rawValue: s.text(at: o + 15) ?? "") else { throw invalid("status") }
        var finding: SpotCheckFinding?
        if let outcomeText = s.text(at: o + 23) {
            guard let outcome = SpotCheckOutcome(rawValue: outcomeText) else { throw invalid("check_outcome") }
            finding = SpotCheckFinding(
                outcome: outcome, note: s.text(at: o + 24), evidence: s.text(at: o + 25),
                checkedBy: s.text(at: o + 26) ?? "", checkedAt: s.int64(at: o + 27))
        }
        return Commitment(
            id: id, certificateType: s.text(at: o + 1) ?? "", requester: s.text(at: o + 2) ?? "",
            owner: s.text(at: o + 3) ?? "", matterCode: s.text(at: o + 4) ?? "", purpose: s.text(at: o + 5) ?? "",
            subject: Subject(idType: idType, id: s.text(at: o + 7) ?? "", name: s.text(at: o + 8) ?? ""),
            claims: claims, textSHA256: s.blob(at: o + 10) ?? [], text: s.text(at: o + 11),
            signedAt: s.int64(at: o + 12), signedVia: via, createdAt: s.int64(at: o + 14), status: status,
            sample: SpotCheckSample(
                rule: s.text(at: o + 16) ?? "", seed: s.text(at: o + 17) ?? "", value: s.text(at: o + 18) ?? "",
                rate: s.double(at: o + 19), sampled: s.int64(at: o + 20) != 0),
            spotCheckID: s.text(at: o + 21), spotCheckDueAt: s.optionalInt64(at: o + 22), finding: finding,
            receipt: CommitmentReceipt(
                id: s.text(at: o + 28) ?? "", jws: s.text(at: o + 29) ?? "", issuedAt: s.int64(at: o + 30),
                expiresAt: s.int64(at: o + 31), revokedAt: s.optionalInt64(at: o + 32),
                revocationReason: s.text(at: o + 33), revokedBy: s.text(at: o + 34)),
            creditEntryID: s.text(at: o + 35), catalogVersion: Int(s.int64(at: o + 36)))
    }
}

enum SpotCheckRow {
    static let columns = """
        id, commitment_id, owner, created_at, due_at, state, lease_token, lease_expires_at, lease_count, overdue
        """

    static func insert(_ item: SpotCheck, on connection: SQLiteConnection) throws {
        let s = try connection.cachedStatement(
            "INSERT INTO spot_checks (\(columns)) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)")
        try s.bind(item.id, at: 1)
        try s.bind(item.commitmentID, at: 2)
        try s.bind(item.owner, at: 3)
        try s.bind(item.createdAt, at: 4)
        try s.bind(item.dueAt, at: 5)
        try s.bind(item.state.rawValue, at: 6)
        try s.bindText(item.leaseToken, at: 7)
        try s.bindInteger(item.leaseExpiresAt, at: 8)
        try s.bind(Int64(item.leaseCount), at: 9)
        try s.bind(Int64(item.overdue ? 1 : 0), at: 10)
        try s.run()
    }

    static func decode(_ s: SQLiteStatement, offset o: Int = 0) throws -> SpotCheck {
        let id = s.text(at: o) ?? ""
        guard let state = QueueItemState(rawValue: s.text(at: o + 5) ?? "") else {
            throw StoredRowError.invalid(table: "spot_checks", key: id, column: "state")
        }
        return SpotCheck(
            id: id, commitmentID: s.text(at: o + 1) ?? "", owner: s.text(at: o + 2) ?? "",
            createdAt: s.int64(at: o + 3), dueAt: s.int64(at: o + 4), state: state, leaseToken: s.text(at: o + 6),
            leaseExpiresAt: s.optionalInt64(at: o + 7), leaseCount: Int(s.int64(at: o + 8)),
            overdue: s.int64(at: o + 9) != 0)
    }
}

enum CreditEntryRow {
    static let columns = """
        id, subject_id_type, subject_id, certificate_type, commitment_id, reason, evidence, recorded_by, \
        recorded_at, removed_at, removed_by, removal_reason
        """

    static func insert(_ e: CreditEntry, on connection: SQLiteConnection) throws {
        let s = try connection.cachedStatement(
            "INSERT INTO credit_entries (\(columns)) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)")
        try s.bind(e.id, at: 1)
        try s.bind(e.subjectIDType.rawValue, at: 2)
        try s.bind(e.subjectID, at: 3)
        try s.bind(e.certificateType, at: 4)
        try s.bind(e.commitmentID, at: 5)
        try s.bind(e.reason, at: 6)
        try s.bindText(e.evidence, at: 7)
        try s.bind(e.recordedBy, at: 8)
        try s.bind(e.recordedAt, at: 9)
        try s.bindInteger(e.removedAt, at: 10)
        try s.bindText(e.removedBy, at: 11)
        try s.bindText(e.removalReason, at: 12)
        try s.run()
    }

    static func decode(_ s: SQLiteStatement) throws -> CreditEntry {
        let id = s.text(at: 0) ?? ""
        guard let idType = SubjectIDType(rawValue: s.text(at: 1) ?? "") else {
            throw StoredRowError.invalid(table: "credit_entries", key: id, column: "subject_id_type")
        }
        return CreditEntry(
            id: id, subjectIDType: idType, subjectID: s.text(at: 2) ?? "", certificateType: s.text(at: 3) ?? "",
            commitmentID: s.text(at: 4) ?? "", reason: s.text(at: 5) ?? "", evidence: s.text(at: 6),
            recordedBy: s.text(at: 7) ?? "", recordedAt: s.int64(at: 8), removedAt: s.optionalInt64(at: 9),
            removedBy: s.text(at: 10), removalReason: s.text(at: 11))
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
