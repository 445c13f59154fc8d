import CSQLite
import HeyanDomain

// How each domain value is laid out in its table (migration 2 in HeyanSchema.swift): the column
// list a SELECT uses, the INSERT, and the decoding of a row. Column order in `columns` is the
// order `decode` reads.

enum VerificationRow {
    static let columns = """
        id, certificate_type, method, requester, owner, matter_code, purpose, subject_id_type, subject_id, \
        subject_name, claims, status, outcome, disclosed, note, created_at, due_at, answered_at, attestation_id, \
        catalog_version
        """
    static let insertSQL = "INSERT INTO verifications (\(columns)) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19, ?20)"
    static let selectByID = "SELECT \(columns) FROM verifications WHERE id = ?1"

    static func insert(_ verification: Verification, on connection: SQLiteConnection) throws {
        let statement = try connection.cachedStatement(insertSQL)
        try statement.bind(verification.id, at: 1)
        try statement.bind(verification.certificateType, at: 2)
        try statement.bind(verification.method.rawValue, at: 3)
        try statement.bind(verification.requester, at: 4)
        try statement.bind(verification.owner, at: 5)
        try statement.bind(verification.matterCode, at: 6)
        try statement.bind(verification.purpose, at: 7)
        try statement.bind(verification.subject.idType.rawValue, at: 8)
        try statement.bind(verification.subject.id, at: 9)
        try statement.bind(verification.subject.name, at: 10)
        try statement.bind(claimsText(verification.claims), at: 11)
        try statement.bind(verification.status.rawValue, at: 12)
        try statement.bindText(verification.outcome?.rawValue, at: 13)
        try statement.bind(claimsText(verification.disclosed), at: 14)
        try statement.bindText(verification.note, at: 15)
        try statement.bind(verification.createdAt, at: 16)
        try statement.bindInteger(verification.dueAt, at: 17)
        try statement.bindInteger(verification.answeredAt, at: 18)
        try statement.bindText(verification.attestationID, at: 19)
        try statement.bind(Int64(verification.catalogVersion), at: 20)
        try statement.run()
    }

    /// Writes the answer fields of an answered verification.
    static func updateAnswer(_ verification: Verification, on connection: SQLiteConnection) throws {
        let statement = try connection.cachedStatement(
            """
            UPDATE verifications SET status = ?2, outcome = ?3, disclosed = ?4, note = ?5, answered_at = ?6,
                attestation_id = ?7
            WHERE id = ?1
            """)
        try statement.bind(verification.id, at: 1)
        try statement.bind(verification.status.rawValue, at: 2)
        try statement.bindText(verification.outcome?.rawValue, at: 3)
        try statement.bind(claimsText(verification.disclosed), at: 4)
        try statement.bindText(verification.note, at: 5)
        try statement.bindInteger(verification.answeredAt, at: 6)
        try statement.bindText(verification.attestationID, at: 7)
        try statement.run()
    }

    static func fetch(id: String, on connection: SQLiteConnection) throws -> Verification? {
        let statement = try connection.cachedStatement(selectByID)
        try statement.bind(id, at: 1)
        defer { try? statement.reset() }
        guard try statement.step() else { return nil }
        return try decode(statement)
    }

    static func decode(_ statement: SQLiteStatement) throws -> Verification {
        let id = statement.text(at: 0) ?? ""
        func invalid(_ column: String) -> SQLiteError {
            StoredRowError.invalid(table: "verifications", key: id, column: column)
        }
        guard let method = VerificationMethod(rawValue: statement.text(at: 2) ?? "") else { throw invalid("method") }
        guard let idType = SubjectIDType(rawValue: statement.text(at: 7) ?? "") else { throw invalid("subject_id_type") }
        guard let status = VerificationStatus(rawValue: statement.text(at: 11) ?? "") else { throw invalid("status") }
        var outcome: Outcome?
        if let text = statement.text(at: 12) {
            guard let value = Outcome(rawValue: text) else { throw invalid("outcome") }
            outcome = value
        }
        guard let claims = decodeClaims(statement.text(at: 10)) else { throw invalid("claims") }
        guard let disclosed = decodeClaims(statement.text(at: 13)) else { throw invalid("disclosed") }
        return Verification(
            id: id, certificateType: statement.text(at: 1) ?? "", method: method, requester: statement.text(at: 3) ?? "",
            owner: statement.text(at: 4) ?? "", matterCode: statement.text(at: 5) ?? "",
            purpose: statement.text(at: 6) ?? "",
            subject: Subject(idType: idType, id: statement.text(at: 8) ?? "", name: statement.text(at: 9) ?? ""),
            claims: claims, status: status, outcome: outcome, disclosed: disclosed, note: statement.text(at: 14),
            createdAt: statement.int64(at: 15), dueAt: statement.optionalInt64(at: 16),
            answeredAt: statement.optionalInt64(at: 17), attestationID: statement.text(at: 18),
            catalogVersion: Int(statement.int64(at: 19)))
    }
}

/// Claims as stored: canonical JSON text.
func claimsText(_ claims: ClaimSet) -> String {
    String(decoding: claims.canonicalJSON.jsonBytes(), as: UTF8.self)
}

func decodeClaims(_ text: String?) -> ClaimSet? {
    guard let text else { return nil }
    return try? ClaimSet.decode(canonical: Array(text.utf8))
}

enum QueueItemRow {
    static let columns = """
        id, kind, verification_id, owner, created_at, due_at, state, lease_token, lease_expires_at, lease_count, \
        overdue
        """
    static let insertSQL = """
        INSERT INTO queue_items (\(columns), due_beyond_calendar) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)
        """

    /// - Parameter dueBeyondCalendar: `due_at` was counted past the calendar's covered days (migration 6).
    static func insert(_ item: QueueItem, dueBeyondCalendar: Bool = false, on connection: SQLiteConnection) throws {
        let statement = try connection.cachedStatement(insertSQL)
        try statement.bind(item.id, at: 1)
        try statement.bind(item.kind.rawValue, at: 2)
        try statement.bind(item.verificationID, at: 3)
        try statement.bind(item.owner, at: 4)
        try statement.bind(item.createdAt, at: 5)
        try statement.bind(item.dueAt, at: 6)
        try statement.bind(item.state.rawValue, at: 7)
        try statement.bindText(item.leaseToken, at: 8)
        try statement.bindInteger(item.leaseExpiresAt, at: 9)
        try statement.bind(Int64(item.leaseCount), at: 10)
        try statement.bind(Int64(item.overdue ? 1 : 0), at: 11)
        try statement.bind(Int64(dueBeyondCalendar ? 1 : 0), at: 12)
        try statement.run()
    }

    /// Reads ``columns`` starting at column `offset`.
    static func decode(_ statement: SQLiteStatement, offset: Int = 0) throws -> QueueItem {
        let id = statement.text(at: offset) ?? ""
        guard let kind = QueueItemKind(rawValue: statement.text(at: offset + 1) ?? "") else {
            throw StoredRowError.invalid(table: "queue_items", key: id, column: "kind")
        }
        guard let state = QueueItemState(rawValue: statement.text(at: offset + 6) ?? "") else {
            throw StoredRowError.invalid(table: "queue_items", key: id, column: "state")
        }
        return QueueItem(
            id: id, kind: kind, verificationID: statement.text(at: offset + 2) ?? "",
            owner: statement.text(at: offset + 3) ?? "", createdAt: statement.int64(at: offset + 4),
            dueAt: statement.int64(at: offset + 5), state: state, leaseToken: statement.text(at: offset + 7),
            leaseExpiresAt: statement.optionalInt64(at: offset + 8), leaseCount: Int(statement.int64(at: offset + 9)),
            overdue: statement.int64(at: offset + 10) != 0)
    }
}

enum AttestationRow {
    static let columns = """
        id, verification_id, issuer, requester, certificate_type, subject_id, outcome, jws, issued_at, expires_at, \
        revoked_at, revocation_reason, revoked_by, jws_header
        """
    static let insertSQL = "INSERT INTO attestations (\(columns)) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)"
    /// The row with its protected header joined back (column 14; NULL for a row stored whole).
    static let selectByID = """
        SELECT a.id, a.verification_id, a.issuer, a.requester, a.certificate_type, a.subject_id, a.outcome, a.jws, \
            a.issued_at, a.expires_at, a.revoked_at, a.revocation_reason, a.revoked_by, a.jws_header, h.header
        FROM attestations a LEFT JOIN jws_headers h ON h.id = a.jws_header WHERE a.id = ?1
        """

    /// Stores `attestation` with its JWS protected header by reference (migration 3): `jws` holds
    /// the payload and signature segments, `jws_header` the header's row in `jws_headers`.
    static func insert(_ attestation: Attestation, in session: WriteSession) throws {
        let connection = session.connection
        let jws = attestation.jws
        var headerID: Int64?
        var rest = Substring(jws)
        if let dot = jws.utf8.firstIndex(of: UInt8(ascii: ".")) {
            headerID = try session.jwsHeaders.id(of: jws[..<dot], on: connection)
            rest = jws[jws.utf8.index(after: dot)...]
        }
        let statement = try connection.cachedStatement(insertSQL)
        try statement.bind(attestation.id, at: 1)
        try statement.bind(attestation.verificationID, at: 2)
        try statement.bind(attestation.issuer, at: 3)
        try statement.bind(attestation.requester, at: 4)
        try statement.bind(attestation.certificateType, at: 5)
        try statement.bind(attestation.subjectID, at: 6)
        try statement.bind(attestation.outcome.rawValue, at: 7)
        try statement.bind(headerID == nil ? jws : String(rest), at: 8)
        try statement.bind(attestation.issuedAt, at: 9)
        try statement.bind(attestation.expiresAt, at: 10)
        try statement.bindInteger(attestation.revokedAt, at: 11)
        try statement.bindText(attestation.revocationReason, at: 12)
        try statement.bindText(attestation.revokedBy, at: 13)
        try statement.bindInteger(headerID, at: 14)
        try statement.run()
    }

    static func fetch(id: String, on connection: SQLiteConnection) throws -> Attestation? {
        let statement = try connection.cachedStatement(selectByID)
        try statement.bind(id, at: 1)
        defer { try? statement.reset() }
        guard try statement.step() else { return nil }
        return try decode(statement)
    }

    /// Reads a row of ``selectByID``.
    static func decode(_ statement: SQLiteStatement) throws -> Attestation {
        let id = statement.text(at: 0) ?? ""
        guard let outcome = Outcome(rawValue: statement.text(at: 6) ?? "") else {
            throw StoredRowError.invalid(table: "attestations", key: id, column: "outcome")
        }
        var jws = statement.text(at: 7) ?? ""
        if statement.optionalInt64(at: 13) != nil {
            guard let header = statement.text(at: 14) else {
                throw StoredRowError.invalid(table: "attestations", key: id, column: "jws_header")
            }
            jws = header + "." + jws
        }
        return Attestation(
            id: id, verificationID: statement.text(at: 1) ?? "", issuer: statement.text(at: 2) ?? "",
            requester: statement.text(at: 3) ?? "", certificateType: statement.text(at: 4) ?? "",
            subjectID: statement.text(at: 5) ?? "", outcome: outcome, jws: jws,
            issuedAt: statement.int64(at: 8), expiresAt: statement.int64(at: 9),
            revokedAt: statement.optionalInt64(at: 10), revocationReason: statement.text(at: 11),
            revokedBy: statement.text(at: 12))
    }
}

enum RecordRow {
    static let selectByKey = """
        SELECT certificate_type, subject_id, owner, claims, updated_at FROM records
        WHERE certificate_type = ?1 AND subject_id = ?2
        """

    static func decode(_ statement: SQLiteStatement) throws -> SharedRecord {
        let type = statement.text(at: 0) ?? ""
        let subject = statement.text(at: 1) ?? ""
        guard let claims = decodeClaims(statement.text(at: 3)) else {
            throw StoredRowError.invalid(table: "records", key: "\(type)/\(subject)", column: "claims")
        }
        return SharedRecord(
            certificateType: type, subjectID: subject, owner: statement.text(at: 2) ?? "", claims: claims,
            updatedAt: statement.int64(at: 4))
    }
}

enum IdempotencyRow {
    static let selectByKey = """
        SELECT requester, key, request_hash, status, body, created_at FROM idempotency_keys
        WHERE requester = ?1 AND key = ?2
        """
    static let insertSQL = """
        INSERT INTO idempotency_keys (requester, key, request_hash, status, body, created_at)
        VALUES (?1, ?2, ?3, ?4, ?5, ?6)
        """

    static func fetch(requester: String, key: String, on connection: SQLiteConnection) throws -> IdempotencyRecord? {
        let statement = try connection.cachedStatement(selectByKey)
        try statement.bind(requester, at: 1)
        try statement.bind(key, at: 2)
        defer { try? statement.reset() }
        guard try statement.step() else { return nil }
        return IdempotencyRecord(
            requester: statement.text(at: 0) ?? "", key: statement.text(at: 1) ?? "",
            requestHash: statement.blob(at: 2) ?? [], status: Int(statement.int64(at: 3)),
            body: statement.blob(at: 4) ?? [], createdAt: statement.int64(at: 5))
    }

    static func insert(_ record: IdempotencyRecord, on connection: SQLiteConnection) throws {
        let statement = try connection.cachedStatement(insertSQL)
        try statement.bind(record.requester, at: 1)
        try statement.bind(record.key, at: 2)
        try statement.bind(record.requestHash, at: 3)
        try statement.bind(Int64(record.status), at: 4)
        try statement.bind(record.body, at: 5)
        try statement.bind(record.createdAt, at: 6)
        try statement.run()
    }
}

enum CheckpointRow {
    static let selectLatest = "SELECT size, head, time, jws FROM audit_checkpoints ORDER BY size DESC LIMIT 1"
    static let selectAll = "SELECT size, head, time, jws FROM audit_checkpoints ORDER BY size"
    static let insertSQL = "INSERT INTO audit_checkpoints (size, head, time, jws) VALUES (?1, ?2, ?3, ?4)"

    static func decode(_ statement: SQLiteStatement) -> AuditCheckpoint {
        AuditCheckpoint(
            size: statement.int64(at: 0), head: statement.blob(at: 1) ?? [], time: statement.int64(at: 2),
            jws: statement.text(at: 3) ?? "")
    }

    static func latest(on connection: SQLiteConnection) throws -> AuditCheckpoint? {
        let statement = try connection.cachedStatement(selectLatest)
        defer { try? statement.reset() }
        guard try statement.step() else { return nil }
        return decode(statement)
    }
}
