import HeyanCrypto
import HeyanDomain
import HeyanPostgres
import HeyanTransparencyLog

// The VerificationStore contract on PostgreSQL: the same steps as SQLiteVerificationStore, in one
// transaction per request.

extension PostgresVerificationStore: HeyanStore {
    public func submit(_ new: NewVerification, completion: @escaping StoreCompletion<SubmitResult>) {
        let pipelined = pipelined
        write(
            plain: { [self] in plainSubmission(new) }, value: .stored,
            otherwise: { tx in
                let db = tx.connection
                if let idempotency = new.idempotency, !(try PGIdempotencyRow.insertIfNew(idempotency, on: db)) {
                    // Another request (on any node) committed this key first.
                    guard let earlier = try PGIdempotencyRow.fetch(requester: idempotency.requester, key: idempotency.key, on: db)
                    else { throw PostgresStoreError.corrupt(table: "idempotency_keys", key: idempotency.key, column: "key") }
                    guard earlier.requestHash == idempotency.requestHash else { return .keyReused }
                    return .replayed(status: earlier.status, body: earlier.body)
                }
                // Known up front, audit entries included: sent in one round trip.
                var rows = [PGVerificationRow.insert(new.verification)]
                if let attestation = new.attestation { rows += tx.attestationStatements(attestation) }
                if let item = new.queueItem { rows.append(PGQueueItemRow.insert(item, dueBeyondCalendar: new.dueBeyondCalendar)) }
                rows += try tx.auditStatements(new.audit, at: new.verification.createdAt)
                try db.run(rows, pipelined: pipelined)
                tx.changed(.verification(id: new.verification.id))
                if let item = new.queueItem { tx.changed(.queue(owner: item.owner)) }
                return .stored
            }, completion: completion)
    }

    /// A submission as plain rows, for a batch's single round trip: the idempotency key as a plain
    /// INSERT — taken already, it fails the round trip, and the submission runs again the careful way,
    /// which replays or refuses the earlier request.
    private func plainSubmission(_ new: NewVerification) -> PlainWrite {
        var rows: [PGRow] = []
        rows.reserveCapacity(3 + new.audit.count)
        if let idempotency = new.idempotency { rows.append(PGIdempotencyRow.row(idempotency)) }
        rows.append(PGVerificationRow.row(new.verification))
        var headers: [String] = []
        if let attestation = new.attestation {
            let stored = storedHeaders.attestationRow(attestation)
            rows.append(stored.row)
            if let header = stored.unknownHeader { headers.append(header) }
        }
        var changes = [StoreChange.verification(id: new.verification.id)]
        if let item = new.queueItem {
            rows.append(PGQueueItemRow.row(item, dueBeyondCalendar: new.dueBeyondCalendar))
            changes.append(.queue(owner: item.owner))
        }
        rows += new.audit.map { AuditQueue.row($0, at: new.verification.createdAt) }
        return PlainWrite(rows: rows, auditEntries: new.audit.count, changes: changes, headers: headers)
    }

    public func recordRefusal(_ event: AuditEvent, at time: Millis, completion: @escaping StoreCompletion<Void>) {
        write(
            plain: { PlainWrite(rows: [AuditQueue.row(event, at: time)], auditEntries: 1) },
            value: (), otherwise: { tx in try tx.appendAudit(event, at: time) }, completion: completion)
    }

    public func lease(
        owner: String, clerk: String?, limit: Int, duration: Millis, now: Millis,
        completion: @escaping StoreCompletion<[LeasedItem]>
    ) {
        write(
            { tx in
                try PGQueueTable.lease(
                    PGQueueItemRow.columns, of: "queue_items", owner: owner, limit: limit, now: now, in: tx,
                    decode: PGQueueItemRow.decode,
                    about: { item in
                        guard let verification = try PGVerificationRow.fetch(id: item.verificationID, on: tx.connection)
                        else { throw PostgresStoreError.corrupt(table: "queue_items", key: item.id, column: "verification_id") }
                        return verification
                    },
                    transition: { item, verification, token in
                        QueueTransitions.lease(item, of: verification, token: token, now: now, duration: duration, clerk: clerk)
                    }
                ).map { LeasedItem(item: $0.work, verification: $0.about) }
            }, completion: completion)
    }

    public func answer(
        _ answer: OwnerAnswer, issue: @escaping @Sendable (Verification) throws -> Attestation,
        completion: @escaping StoreCompletion<AnswerResult>
    ) {
        write({ tx in try QueueTransitions.carryOut(answer, issue: issue, in: tx) }, completion: completion)
    }

    public func putRecords(
        _ records: [SharedRecord], actor: String, clerk: String?, now: Millis,
        completion: @escaping StoreCompletion<[RecordWriteResult]>
    ) {
        write(
            { tx in
                var results: [RecordWriteResult] = []
                for record in records {
                    // xmax = 0 only for a freshly inserted row: created, else updated.
                    let row = try tx.connection.query(
                        """
                        INSERT INTO records (certificate_type, subject_id, owner, claims, updated_at)
                        VALUES ($1, $2, $3, $4, $5)
                        ON CONFLICT (certificate_type, subject_id) DO UPDATE
                            SET owner = excluded.owner, claims = excluded.claims, updated_at = excluded.updated_at
                        RETURNING (xmax = 0) AS created
                        """,
                        [
                            .text(record.certificateType), .text(record.subjectID), .text(record.owner),
                            .text(record.claims.canonicalJSONText), .int64(now),
                        ]
                    ).rows.first
                    results.append(try row?.decode("created", as: Bool.self) == true ? .created : .updated)
                    try tx.appendAudit(
                        AuditEvent(
                            action: .recordPut, actor: actor, owner: record.owner,
                            certificateType: record.certificateType, subjectID: record.subjectID, clerk: clerk), at: now)
                }
                return results
            }, completion: completion)
    }

    public func deleteRecord(
        certificateType: String, subjectID: String, actor: String, clerk: String?, now: Millis,
        completion: @escaping StoreCompletion<Bool>
    ) {
        write(
            { tx in
                guard
                    let row = try tx.connection.query(
                        "DELETE FROM records WHERE certificate_type = $1 AND subject_id = $2 RETURNING owner",
                        [.text(certificateType), .text(subjectID)]
                    ).rows.first
                else { return false }
                try tx.appendAudit(
                    AuditEvent(
                        action: .recordDeleted, actor: actor, owner: try row.decode("owner"),
                        certificateType: certificateType, subjectID: subjectID, clerk: clerk), at: now)
                return true
            }, completion: completion)
    }

    public func revoke(
        attestationID: String, actor: String, clerk: String?, reason: String, now: Millis,
        completion: @escaping StoreCompletion<RevokeResult>
    ) {
        write(
            { tx in
                let db = tx.connection
                guard
                    let row = try db.query(
                        "SELECT \(PGAttestationRow.selectColumns) FROM attestations WHERE id = $1 FOR UPDATE", [.text(attestationID)]
                    ).rows.first
                else { return .notFound }
                let attestation = try PGAttestationRow.decode(row)
                guard attestation.revokedAt == nil else { return .alreadyRevoked(attestation) }
                let (revoked, event) = attestation.revoked(reason: reason, by: actor, clerk: clerk, at: now)
                try db.query(
                    "UPDATE attestations SET revoked_at = $2, revocation_reason = $3, revoked_by = $4 WHERE id = $1",
                    [.text(revoked.id), .int64(now), .text(reason), .text(actor)])
                try tx.appendAudit(event, at: now)
                tx.changed(.verification(id: attestation.verificationID))
                return .revoked(revoked)
            }, completion: completion)
    }

    public func markOverdue(now: Millis, completion: @escaping StoreCompletion<Int>) {
        write(
            { tx in
                let db = tx.connection
                var marked = 0
                for row in try PGQueueTable.overdueCandidates(PGQueueItemRow.columns, of: "queue_items", now: now, on: db) {
                    let item = try PGQueueItemRow.decode(row)
                    guard let verification = try PGVerificationRow.fetch(id: item.verificationID, on: db) else {
                        throw PostgresStoreError.corrupt(table: "queue_items", key: item.id, column: "verification_id")
                    }
                    guard let step = QueueTransitions.overdue(item, of: verification, now: now) else { continue }
                    try PGQueueTable.markOverdue(step.work, table: "queue_items", on: db)
                    try tx.appendAudit(step.audit, at: now)
                    marked += 1
                }
                return marked
            }, completion: completion)
    }

    public func checkpoint(
        now: Millis, sign: @escaping @Sendable ([UInt8]) throws -> String,
        completion: @escaping StoreCompletion<AuditCheckpoint>
    ) {
        writeAfterIntegration(
            { tx in
                let db = tx.connection
                // Under the tree's row lock: the tree cannot grow meanwhile, and a node that
                // briefly also believes it leads sees this checkpoint before writing its own.
                let head = try tx.lockedTreeHead()
                let size = Int64(head.size)
                if let last = try PGCheckpointRow.latest(on: db), last.size >= size { return last }
                let root = head.root.bytes
                let payload = AuditCheckpoint.payload(size: size, head: head.headHash, time: now, treeRoot: root)
                let checkpoint = AuditCheckpoint(
                    size: size, head: head.headHash, time: now, jws: try sign(payload), treeRoot: root)
                try db.query(
                    "INSERT INTO audit_checkpoints (size, head, time, jws, tree_root) VALUES ($1, $2, $3, $4, $5)",
                    [.int64(checkpoint.size), .bytes(checkpoint.head), .int64(now), .text(checkpoint.jws), .bytes(root)])
                return checkpoint
            }, completion: completion)
    }

    // MARK: reads

    public func verification(id: String) throws -> Verification? {
        try read { try PGVerificationRow.fetch(id: id, on: $0) }
    }

    public func queueItem(id: String) throws -> QueueItem? {
        try read { try PGQueueItemRow.fetch(id: id, on: $0) }
    }

    public func attestation(id: String) throws -> Attestation? {
        try read { try PGAttestationRow.fetch(id: id, on: $0) }
    }

    public func record(certificateType: String, subjectID: String) throws -> SharedRecord? {
        try read { db in
            try db.query(
                "SELECT certificate_type, subject_id, owner, claims, updated_at FROM records WHERE certificate_type = $1 AND subject_id = $2",
                [.text(certificateType), .text(subjectID)]
            ).rows.first.map(PGRecordRow.decode)
        }
    }

    /// Later, from the record reader: one statement for every lookup waiting when it is free.
    public func lookUpRecord(certificateType: String, subjectID: String) -> StoreRead<SharedRecord?> {
        let key = RecordKey(certificateType: certificateType, subjectID: subjectID)
        return .later { [recordReader] completion in recordReader.lookUp(key, completion: completion) }
    }

    /// Statements the record reader ran so far (a test hook and figure, package-internal).
    package var recordReadBatches: Int { recordReader.readBatches }

    /// The record reader connection's server process (a test hook, package-internal).
    package var recordReaderBackendPID: Int32 { recordReader.backendPID }

    /// Holds the record reader until the returned function is called, so that the lookups queued
    /// meanwhile form one batch (a test hook, package-internal).
    package func holdRecordReader() -> @Sendable () -> Void { recordReader.hold() }

    /// Entries by sequence: first waits (at most 2 s) until every entry committed before the call
    /// is integrated, so a read after a write sees that write's entries; past the wait, answers
    /// what is integrated (docs/postgresql.md, "Audit").
    public func auditEntries(matching filter: AuditFilter, after sequence: Int64, limit: Int) throws -> [AuditEntry] {
        guard limit > 0 else { return [] }
        try awaitAuditIntegration()
        var conditions = ["sequence > $1"]
        var parameters: [PostgresValue] = [.int64(sequence)]
        func add(_ condition: (String) -> String, _ value: PostgresValue) {
            parameters.append(value)
            conditions.append(condition("$\(parameters.count)"))
        }
        if let subject = filter.subjectID { add({ "subject_id = \($0)" }, .text(subject)) }
        if let department = filter.department {
            add({ "(actor = \($0) OR requester = \($0) OR owner = \($0))" }, .text(department))
        }
        if let type = filter.certificateType { add({ "certificate_type = \($0)" }, .text(type)) }
        if let action = filter.action { add({ "action = \($0)" }, .text(action.rawValue)) }
        if let from = filter.from { add({ "time >= \($0)" }, .int64(from)) }
        if let to = filter.to { add({ "time < \($0)" }, .int64(to)) }
        parameters.append(.int(limit))
        let sql = """
            SELECT \(PGAuditRow.columns) FROM audit_log WHERE \(conditions.joined(separator: " AND "))
            ORDER BY sequence LIMIT $\(parameters.count)
            """
        return try read { try $0.query(sql, parameters).rows.map(PGAuditRow.decode) }
    }

    public func latestCheckpoint() throws -> AuditCheckpoint? {
        try read { try PGCheckpointRow.latest(on: $0) }
    }

    public func queueCounts() throws -> [QueueCount] {
        let now = clock.now()
        return try read { try PGQueueTable.depths(of: "queue_items", now: now, on: $0) }
    }

    public func idempotencyRecord(requester: String, key: String) throws -> IdempotencyRecord? {
        try read { try PGIdempotencyRow.fetch(requester: requester, key: key, on: $0) }
    }

    /// Later, from the idempotency reader: one statement for every lookup waiting when it is free.
    public func lookUpIdempotencyRecord(requester: String, key: String) -> StoreRead<IdempotencyRecord?> {
        let id = IdempotencyKeyID(requester: requester, key: key)
        return .later { [idempotencyReader] completion in idempotencyReader.lookUp(id, completion: completion) }
    }

    /// Statements the idempotency reader ran so far (a test hook, package-internal).
    package var idempotencyReadBatches: Int { idempotencyReader.readBatches }

    /// Holds the idempotency reader until the returned function is called (a test hook, package-internal).
    package func holdIdempotencyReader() -> @Sendable () -> Void { idempotencyReader.hold() }

    // MARK: signing headers

    public func registerSigningHeader(_ header: String, completion: @escaping StoreCompletion<Void>) {
        write({ tx in try tx.registerHeader(header) }, completion: completion)
    }

    public func signingHeaders() throws -> [String] {
        try read { try $0.query("SELECT header FROM jws_headers ORDER BY id").rows.map { try $0.decode("header") } }
    }

    // MARK: catalog versions

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
        write(
            { tx in
                let db = tx.connection
                // Orders catalog changes across nodes (readers are not blocked).
                try db.query("LOCK TABLE catalog_versions IN SHARE ROW EXCLUSIVE MODE")
                let newest: Int = try db.query("SELECT coalesce(max(version), 0) AS newest FROM catalog_versions")
                    .rows.first?.decode("newest") ?? 0
                guard newest == baseVersion else { return .baseVersionChanged(latest: newest) }
                try db.query(
                    "INSERT INTO catalog_versions (\(PGCatalogVersionRow.columns)) VALUES ($1,$2,$3,$4,$5,$6,$7,$8)",
                    [
                        .int(version.version), .int64(version.effectiveAt), .text(version.reason), .text(version.legalBasis),
                        .text(version.actor), .int64(version.createdAt), .text(version.changedCodes.joined(separator: ",")),
                        .text(catalogText),
                    ])
                try tx.appendAudit(audit, at: version.createdAt)
                return .stored
            }, completion: completion)
    }

    public func catalogVersions() throws -> [CatalogVersion] {
        try read {
            try $0.query("SELECT \(PGCatalogVersionRow.columns) FROM catalog_versions ORDER BY version").rows
                .map(PGCatalogVersionRow.decode)
        }
    }

    public func catalogVersion(_ version: Int) throws -> CatalogVersion? {
        try read {
            try $0.query("SELECT \(PGCatalogVersionRow.columns) FROM catalog_versions WHERE version = $1", [.int(version)])
                .rows.first.map(PGCatalogVersionRow.decode)
        }
    }

    // MARK: readiness

    public func checkReadiness(minimumFreeBytes: Int64, completion: @escaping @Sendable (StoreReadiness) -> Void) {
        // Free disk space is the database server's to watch; ready when a write transaction commits.
        let probe = PostgresStatement("SELECT 1")
        write(
            plain: { PlainWrite(statements: [probe]) }, value: (),
            otherwise: { tx in _ = try tx.connection.query(probe.sql) }
        ) { result in
            switch result {
            case .success: completion(.ready)
            case .failure(let error): completion(.notReady("the PostgreSQL store cannot commit: \(StoreError(error).cause)"))
            }
        }
    }
}

/// A fresh lease token: 128 random bits, lowercase hex (as the SQLite store's).
enum SecureRandomToken {
    static func make() -> String {
        let digits = Array("0123456789abcdef".utf8)
        var hex: [UInt8] = []
        for byte in SecureRandom.bytes(16) {
            hex.append(digits[Int(byte >> 4)])
            hex.append(digits[Int(byte & 0x0F)])
        }
        return String(decoding: hex, as: UTF8.self)
    }
}

/// The rows of an owner's answer on PostgreSQL (``QueueTransitions/carryOut(_:issue:in:)`` decides).
/// The item is read `FOR UPDATE`: two nodes answering one item at once are decided one after the other.
extension WriteTransaction: QueueAnswerTransaction {
    func queueItem(id: String) throws -> QueueItem? { try PGQueueItemRow.fetch(id: id, on: connection, lock: true) }
    func verification(id: String) throws -> Verification? { try PGVerificationRow.fetch(id: id, on: connection) }
    func attestation(id: String) throws -> Attestation? { try PGAttestationRow.fetch(id: id, on: connection) }

    func persistAnswer(
        _ verification: Verification, attestation: Attestation, item: QueueItem, event: AuditEvent, at time: Millis
    ) throws {
        try PGVerificationRow.updateAnswer(verification, on: connection)
        try connection.run(attestationStatements(attestation))
        try PGQueueItemRow.persistState(of: item, on: connection)
        try appendAudit(event, at: time)
        changed(.verification(id: verification.id))
    }
}
