import CSQLite
import Glibc
import HeyanDomain

// How each domain value is laid out in its table (migration 2 in HeyanSchema.swift): the column
// list a SELECT uses, the INSERT, and the decoding of a row. Column order in `columns` is the
// order `decode` reads.

enum VerificationRow {
    enum Column: String, TableColumns {
        case id, certificateType = "certificate_type", method, requester, owner, matterCode = "matter_code", purpose
        case subjectIDType = "subject_id_type", subjectID = "subject_id", subjectName = "subject_name", claims
        case status, outcome, disclosed, note, createdAt = "created_at", dueAt = "due_at"
        case answeredAt = "answered_at", attestationID = "attestation_id", catalogVersion = "catalog_version"
        static let table = "verifications"
    }
    typealias C = Column

    static let columns = Column.selectList()
    static let insertSQL = "INSERT INTO verifications (\(columns)) VALUES (\(Column.parameterList))"
    static let insertKey = StatementKey(insertSQL)
    static let selectByID = "SELECT \(columns) FROM verifications WHERE id = ?1"

    /// A verification with its claims and disclosure already in their stored text, so that the
    /// canonical JSON is written on the request's thread, not the writer's.
    struct Encoded: Sendable {
        let verification: Verification
        let claims: String
        let disclosed: String

        init(_ verification: Verification) {
            self.verification = verification
            claims = verification.claims.canonicalJSONText
            disclosed = verification.disclosed.canonicalJSONText
        }
    }

    static func insert(_ encoded: Encoded, on connection: SQLiteConnection) throws {
        let verification = encoded.verification
        let statement = try connection.cachedStatement(insertKey)
        try statement.bind(verification.id, at: C.id.parameter)
        try statement.bind(verification.certificateType, at: C.certificateType.parameter)
        try statement.bind(verification.method.rawValue, at: C.method.parameter)
        try statement.bind(verification.requester, at: C.requester.parameter)
        try statement.bind(verification.owner, at: C.owner.parameter)
        try statement.bind(verification.matterCode, at: C.matterCode.parameter)
        try statement.bind(verification.purpose, at: C.purpose.parameter)
        try statement.bind(verification.subject.idType.rawValue, at: C.subjectIDType.parameter)
        try statement.bind(verification.subject.id, at: C.subjectID.parameter)
        try statement.bind(verification.subject.name, at: C.subjectName.parameter)
        try statement.bind(encoded.claims, at: C.claims.parameter)
        try bindState(verification, disclosed: encoded.disclosed, on: statement)
        try statement.bind(verification.createdAt, at: C.createdAt.parameter)
        try statement.bindInteger(verification.dueAt, at: C.dueAt.parameter)
        try statement.bind(Int64(verification.catalogVersion), at: C.catalogVersion.parameter)
        try statement.run()
    }

    /// Binds the columns ``Verification/state`` decides, at their insert positions.
    private static func bindState(
        _ verification: Verification, disclosed: String? = nil, on statement: SQLiteStatement
    ) throws {
        let answer = verification.answer
        try statement.bind(verification.status.rawValue, at: C.status.parameter)
        try statement.bindText(answer?.outcome.rawValue, at: C.outcome.parameter)
        try statement.bind(disclosed ?? verification.disclosed.canonicalJSONText, at: C.disclosed.parameter)
        try statement.bindText(answer?.note, at: C.note.parameter)
        try statement.bindInteger(answer?.answeredAt, at: C.answeredAt.parameter)
        try statement.bindText(answer?.attestationID, at: C.attestationID.parameter)
    }

    /// Writes the state of a verification (its answer), numbered as the insert.
    static let updateStateSQL = """
        UPDATE verifications SET status = ?\(C.status.parameter), outcome = ?\(C.outcome.parameter),
            disclosed = ?\(C.disclosed.parameter), note = ?\(C.note.parameter),
            answered_at = ?\(C.answeredAt.parameter), attestation_id = ?\(C.attestationID.parameter)
        WHERE id = ?\(C.id.parameter)
        """

    static func updateAnswer(_ verification: Verification, on connection: SQLiteConnection) throws {
        let statement = try connection.cachedStatement(updateStateSQL)
        try statement.bind(verification.id, at: C.id.parameter)
        try bindState(verification, on: statement)
        try statement.run()
    }

    static func fetch(id: String, on connection: SQLiteConnection) throws -> Verification? {
        try connection.fetchOne(selectByID, key: id) { try decode($0) }
    }

    /// Reads ``columns`` starting at column `offset`.
    static func decode(_ statement: SQLiteStatement, offset: Int = 0) throws -> Verification {
        let row = try StoredRow<Column>(statement, offset: offset, key: .id)
        let disclosed = try row.claims(.disclosed)  // NOT NULL and canonical, answered or not
        let state: VerificationState
        switch try row.value(.status, as: VerificationStatus.self) {
        case .pending:
            state = .pending
        case .answered:
            guard let answeredAt = row.optionalInteger(.answeredAt) else {
                throw StoredRowError.null(table: Column.table, key: row.key, column: C.answeredAt.rawValue)
            }
            guard let outcome = try row.optionalValue(.outcome, as: Outcome.self) else {
                throw StoredRowError.null(table: Column.table, key: row.key, column: C.outcome.rawValue)
            }
            state = .answered(
                VerificationAnswer(
                    outcome: outcome, disclosed: disclosed, note: row.optionalText(.note),
                    answeredAt: answeredAt, attestationID: row.optionalText(.attestationID)))
        }
        return Verification(
            id: row.key, certificateType: try row.text(.certificateType), method: try row.value(.method),
            requester: try row.text(.requester), owner: try row.text(.owner), matterCode: try row.text(.matterCode),
            purpose: try row.text(.purpose),
            subject: Subject(
                idType: try row.value(.subjectIDType), id: try row.text(.subjectID), name: try row.text(.subjectName)),
            claims: try row.claims(.claims), state: state, createdAt: try row.integer(.createdAt),
            dueAt: row.optionalInteger(.dueAt), catalogVersion: try row.int(.catalogVersion))
    }
}

enum QueueItemRow {
    enum Column: String, QueueTableColumns {
        case id, kind, verificationID = "verification_id", owner, createdAt = "created_at", dueAt = "due_at", state
        case leaseToken = "lease_token", leaseExpiresAt = "lease_expires_at", leaseCount = "lease_count", overdue
        case answeredLeaseToken = "answered_lease_token"
        static let table = "queue_items"
    }
    typealias C = Column

    static let queue = QueueTable<Column>()
    static let columns = Column.selectList()
    /// `due_beyond_calendar` (migration 6) is written once, at insert, and read only by statistics.
    static let dueBeyondCalendarParameter = Column.allCases.count + 1
    static let insertSQL = """
        INSERT INTO queue_items (\(columns), due_beyond_calendar) VALUES (\(Column.parameterList), ?\(dueBeyondCalendarParameter))
        """

    /// - Parameter dueBeyondCalendar: `due_at` was counted past the calendar's covered days (migration 6).
    static func insert(_ item: QueueItem, dueBeyondCalendar: Bool = false, on connection: SQLiteConnection) throws {
        let statement = try connection.cachedStatement(insertSQL)
        try statement.bind(item.id, at: C.id.parameter)
        try statement.bind(item.kind.rawValue, at: C.kind.parameter)
        try statement.bind(item.verificationID, at: C.verificationID.parameter)
        try statement.bind(item.owner, at: C.owner.parameter)
        try statement.bind(item.createdAt, at: C.createdAt.parameter)
        try statement.bind(item.dueAt, at: C.dueAt.parameter)
        try queue.bindState(item, on: statement)
        try statement.bind(Int64(item.overdue ? 1 : 0), at: C.overdue.parameter)
        try statement.bind(Int64(dueBeyondCalendar ? 1 : 0), at: dueBeyondCalendarParameter)
        try statement.run()
    }

    static let selectByID = "SELECT \(columns) FROM queue_items WHERE id = ?1"
    /// Unanswered items due by `?1` not yet marked overdue, each with its verification's columns
    /// after its own.
    static let overdueSQL = """
        SELECT \(Column.selectList(qualifier: "q")), \(VerificationRow.Column.selectList(qualifier: "v"))
        FROM queue_items AS q JOIN verifications AS v ON v.id = q.verification_id
        WHERE q.overdue = 0 AND q.state <> '\(QueueItemState.Name.done.rawValue)' AND q.due_at <= ?1
        ORDER BY q.due_at
        """

    static func fetch(id: String, on connection: SQLiteConnection) throws -> QueueItem? {
        try connection.fetchOne(selectByID, key: id) { try decode($0) }
    }

    /// Reads ``columns`` starting at column `offset`.
    static func decode(_ statement: SQLiteStatement, offset: Int = 0) throws -> QueueItem {
        let row = try StoredRow<Column>(statement, offset: offset, key: .id)
        return QueueItem(
            id: row.key, kind: try row.value(.kind), verificationID: try row.text(.verificationID),
            owner: try row.text(.owner), createdAt: try row.integer(.createdAt), dueAt: try row.integer(.dueAt),
            state: try row.queueState(), leaseCount: try row.int(.leaseCount), overdue: try row.bool(.overdue))
    }
}

enum AttestationRow {
    enum Column: String, TableColumns {
        case id, verificationID = "verification_id", issuer, requester, certificateType = "certificate_type"
        case subjectID = "subject_id", outcome, jws, issuedAt = "issued_at", expiresAt = "expires_at"
        case revokedAt = "revoked_at", revocationReason = "revocation_reason", revokedBy = "revoked_by"
        case jwsHeader = "jws_header"
        /// The audit entry that issued the attestation (migration 16): what `issuingLeaf` proves.
        case issuingSequence = "issuing_sequence"
        static let table = "attestations"
    }
    typealias C = Column

    static let columns = Column.selectList()
    static let insertSQL = "INSERT INTO attestations (\(columns)) VALUES (\(Column.parameterList))"
    static let insertKey = StatementKey(insertSQL)
    /// The row with its protected header joined back (one column after ``Column``; NULL for a row
    /// stored whole).
    static let selectByID = """
        SELECT \(Column.selectList(qualifier: "a")), h.header
        FROM attestations a LEFT JOIN jws_headers h ON h.id = a.jws_header WHERE a.id = ?1
        """

    /// Stores `attestation` with its JWS protected header by reference (migration 3): `jws` holds
    /// the payload and signature segments, `jws_header` the header's row in `jws_headers`.
    static func insert(_ attestation: Attestation, issuedBy entries: [AuditEntry], in session: WriteSession) throws {
        try insert(Encoded(attestation), issuedBy: entries, in: session)
    }

    /// An attestation with its JWS already split at the first `.` into the protected header
    /// (stored once, in `jws_headers`) and the rest (stored in the row), on the request's thread.
    struct Encoded: Sendable {
        let attestation: Attestation
        /// The protected header; `nil` for a JWS without a `.` (then stored whole).
        let header: Substring?
        /// What `jws` holds: the payload and signature segments, or the whole JWS.
        let stored: String

        init(_ attestation: Attestation) {
            self.attestation = attestation
            if let split = attestation.jwsSplitAtHeader {
                header = split.header
                stored = String(split.rest)
            } else {
                header = nil
                stored = attestation.jws
            }
        }
    }

    /// `entries`: the audit entries the same job appended before the row; the first that names the
    /// attestation issued it, and the row keeps its sequence, so that finding it for a proof needs no
    /// index on `audit_log` (migration 16). A job whose entries do not name the attestation fails.
    static func insert(_ encoded: Encoded, issuedBy entries: [AuditEntry], in session: WriteSession) throws {
        let attestation = encoded.attestation
        guard let issuingSequence = entries.first(where: { $0.event.attestationID == attestation.id })?.sequence else {
            throw StoredRowError.null(table: Column.table, key: attestation.id, column: C.issuingSequence.rawValue)
        }
        let connection = session.connection
        let headerID = try encoded.header.map { try session.jwsHeaders.id(of: $0, on: connection) }
        let statement = try connection.cachedStatement(insertKey)
        try statement.bind(attestation.id, at: C.id.parameter)
        try statement.bind(attestation.verificationID, at: C.verificationID.parameter)
        try statement.bind(attestation.issuer, at: C.issuer.parameter)
        try statement.bind(attestation.requester, at: C.requester.parameter)
        try statement.bind(attestation.certificateType, at: C.certificateType.parameter)
        try statement.bind(attestation.subjectID, at: C.subjectID.parameter)
        try statement.bind(attestation.outcome.rawValue, at: C.outcome.parameter)
        try statement.bind(encoded.stored, at: C.jws.parameter)
        try statement.bind(attestation.issuedAt, at: C.issuedAt.parameter)
        try statement.bind(attestation.expiresAt, at: C.expiresAt.parameter)
        try statement.bindInteger(attestation.revokedAt, at: C.revokedAt.parameter)
        try statement.bindText(attestation.revocationReason, at: C.revocationReason.parameter)
        try statement.bindText(attestation.revokedBy, at: C.revokedBy.parameter)
        try statement.bindInteger(headerID, at: C.jwsHeader.parameter)
        try statement.bind(issuingSequence, at: C.issuingSequence.parameter)
        try statement.run()
    }

    /// Records a revocation.
    static func updateRevocation(_ attestation: Attestation, on connection: SQLiteConnection) throws {
        let statement = try connection.cachedStatement(
            """
            UPDATE attestations SET revoked_at = ?\(C.revokedAt.parameter),
                revocation_reason = ?\(C.revocationReason.parameter), revoked_by = ?\(C.revokedBy.parameter)
            WHERE id = ?\(C.id.parameter)
            """)
        try statement.bind(attestation.id, at: C.id.parameter)
        try statement.bindInteger(attestation.revokedAt, at: C.revokedAt.parameter)
        try statement.bindText(attestation.revocationReason, at: C.revocationReason.parameter)
        try statement.bindText(attestation.revokedBy, at: C.revokedBy.parameter)
        try statement.run()
    }

    static func fetch(id: String, on connection: SQLiteConnection) throws -> Attestation? {
        try connection.fetchOne(selectByID, key: id) { try decode($0) }
    }

    /// Reads a row of ``selectByID``.
    static func decode(_ statement: SQLiteStatement) throws -> Attestation {
        let row = try StoredRow<Column>(statement, key: .id)
        var jws = try row.text(.jws)
        if !row.isNull(.jwsHeader) {
            guard let header = statement.text(at: Column.allCases.count) else { throw row.invalid(.jwsHeader) }
            jws = header + "." + jws
        }
        return Attestation(
            id: row.key, verificationID: try row.text(.verificationID), issuer: try row.text(.issuer),
            requester: try row.text(.requester), certificateType: try row.text(.certificateType),
            subjectID: try row.text(.subjectID), outcome: try row.value(.outcome), jws: jws,
            issuedAt: try row.integer(.issuedAt), expiresAt: try row.integer(.expiresAt),
            revokedAt: row.optionalInteger(.revokedAt), revocationReason: row.optionalText(.revocationReason),
            revokedBy: row.optionalText(.revokedBy))
    }
}

enum RecordRow {
    enum Column: String, TableColumns {
        case certificateType = "certificate_type", subjectID = "subject_id", owner, claims, updatedAt = "updated_at"
        static let table = "records"
    }
    typealias C = Column

    static let columns = Column.selectList()
    static let selectByKey = """
        SELECT \(columns) FROM records
        WHERE certificate_type = ?\(C.certificateType.parameter) AND subject_id = ?\(C.subjectID.parameter)
        """
    /// Inserts a record unless its key exists (then nothing changes: ``update``).
    static let insertSQL = """
        INSERT INTO records (\(columns)) VALUES (\(Column.parameterList))
        ON CONFLICT (certificate_type, subject_id) DO NOTHING
        """
    static let updateSQL = """
        UPDATE records SET owner = ?\(C.owner.parameter), claims = ?\(C.claims.parameter),
            updated_at = ?\(C.updatedAt.parameter)
        WHERE certificate_type = ?\(C.certificateType.parameter) AND subject_id = ?\(C.subjectID.parameter)
        """

    /// Creates `record` (stamped `now`), or replaces the stored one with the same key.
    static func put(_ record: SharedRecord, now: Millis, on connection: SQLiteConnection) throws -> RecordWriteResult {
        let claims = record.claims.canonicalJSONText
        func bind(_ statement: SQLiteStatement) throws {
            try statement.bind(record.certificateType, at: C.certificateType.parameter)
            try statement.bind(record.subjectID, at: C.subjectID.parameter)
            try statement.bind(record.owner, at: C.owner.parameter)
            try statement.bind(claims, at: C.claims.parameter)
            try statement.bind(now, at: C.updatedAt.parameter)
        }
        let insert = try connection.cachedStatement(insertSQL)
        try bind(insert)
        try insert.run()
        if connection.changes == 1 { return .created }
        let update = try connection.cachedStatement(updateSQL)
        try bind(update)
        try update.run()
        return .updated
    }

    static func decode(_ statement: SQLiteStatement) throws -> SharedRecord {
        let type = statement.text(at: C.certificateType.position) ?? "?"
        let subject = statement.text(at: C.subjectID.position) ?? "?"
        let row = StoredRow<Column>(statement, key: "\(type)/\(subject)")
        return SharedRecord(
            certificateType: try row.text(.certificateType), subjectID: try row.text(.subjectID),
            owner: try row.text(.owner), claims: try row.claims(.claims), updatedAt: try row.integer(.updatedAt))
    }
}

enum IdempotencyRow {
    enum Column: String, TableColumns {
        case requester, key, requestHash = "request_hash", status, body, createdAt = "created_at"
        static let table = "idempotency_keys"
    }
    typealias C = Column

    static let columns = Column.selectList()
    static let selectByKey = """
        SELECT \(columns) FROM idempotency_keys
        WHERE requester = ?\(C.requester.parameter) AND key = ?\(C.key.parameter)
        """
    static let insertSQL = "INSERT INTO idempotency_keys (\(columns)) VALUES (\(Column.parameterList))"

    static func fetch(requester: String, key: String, on connection: SQLiteConnection) throws -> IdempotencyRecord? {
        let statement = try connection.cachedStatement(selectByKey)
        try statement.bind(requester, at: C.requester.parameter)
        try statement.bind(key, at: C.key.parameter)
        defer { try? statement.reset() }
        guard try statement.step() else { return nil }
        let row = StoredRow<Column>(statement, key: "\(requester)/\(key)")
        return IdempotencyRecord(
            requester: try row.text(.requester), key: try row.text(.key), requestHash: try row.blob(.requestHash),
            status: try row.int(.status), body: try row.blob(.body), createdAt: try row.integer(.createdAt))
    }

    static func insert(_ record: IdempotencyRecord, on connection: SQLiteConnection) throws {
        let statement = try connection.cachedStatement(insertSQL)
        try statement.bind(record.requester, at: C.requester.parameter)
        try statement.bind(record.key, at: C.key.parameter)
        try statement.bind(record.requestHash, at: C.requestHash.parameter)
        try statement.bind(Int64(record.status), at: C.status.parameter)
        try statement.bind(record.body, at: C.body.parameter)
        try statement.bind(record.createdAt, at: C.createdAt.parameter)
        try statement.run()
    }
}

enum CheckpointRow {
    enum Column: String, TableColumns {
        case size, head, time, jws
        /// The Merkle root at `size` (migration 7); NULL in checkpoints signed before the tree.
        case treeRoot = "tree_root"
        static let table = "audit_checkpoints"
    }
    typealias C = Column

    static let columns = Column.selectList()
    static let selectLatest = "SELECT \(columns) FROM audit_checkpoints ORDER BY size DESC LIMIT 1"
    static let selectAll = "SELECT \(columns) FROM audit_checkpoints ORDER BY size"
    static let insertSQL = "INSERT INTO audit_checkpoints (\(columns)) VALUES (\(Column.parameterList))"

    static func decode(_ statement: SQLiteStatement) throws -> AuditCheckpoint {
        let row = StoredRow<Column>(statement, key: String(statement.int64(at: C.size.position)))
        return AuditCheckpoint(
            size: try row.integer(.size), head: try row.blob(.head), time: try row.integer(.time),
            jws: try row.text(.jws), treeRoot: statement.blob(at: C.treeRoot.position))
    }

    static func insert(_ checkpoint: AuditCheckpoint, on connection: SQLiteConnection) throws {
        let statement = try connection.cachedStatement(insertSQL)
        try statement.bind(checkpoint.size, at: C.size.parameter)
        try statement.bind(checkpoint.head, at: C.head.parameter)
        try statement.bind(checkpoint.time, at: C.time.parameter)
        try statement.bind(checkpoint.jws, at: C.jws.parameter)
        try statement.bind(checkpoint.treeRoot.map(SQLiteValue.blob), at: C.treeRoot.parameter)
        try statement.run()
    }

    static func latest(on connection: SQLiteConnection) throws -> AuditCheckpoint? {
        let statement = try connection.cachedStatement(selectLatest)
        defer { try? statement.reset() }
        guard try statement.step() else { return nil }
        return try decode(statement)
    }
}
