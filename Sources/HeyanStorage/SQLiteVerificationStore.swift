import CSQLite
import Glibc
import HeyanDomain

/// heyan's embedded ``VerificationStore``: one SQLite file (``SQLiteStore``), written by a
/// ``GroupCommitWriter`` and read through the store's reader pool.
///
/// Every write is one job of a group-committed batch: its rows and its audit entries are written
/// inside the job's savepoint, and its completion runs on the writer thread only after the batch's
/// COMMIT returned (WAL, `synchronous=FULL`), so a caller that answers in the completion never
/// acknowledges anything that a crash could lose. docs/storage.md describes the tables and the
/// batching; docs/audit.md the hash chain and its checkpoints.
public final class SQLiteVerificationStore: VerificationStore {
    /// The database underneath: path, instance ID, schema version, and `read {}` for reports.
    public let database: SQLiteStore
    let writer: GroupCommitWriter
    /// "Now" for reads that depend on it (``queueCounts()``: whether a lease has expired) and the
    /// readiness probe's pace. Writes take their time as an argument instead; commit durations
    /// (``observeBatches(_:)``) are real time.
    let clock: any ServiceClock
    /// `/readyz` probe transactions: one at a time, at most one a second (SQLiteStoreReadiness.swift).
    let readinessProbe = ReadinessProbe()

    /// Opens (creating and migrating if needed) the database at `path` and starts the writer thread.
    ///
    /// - Parameters:
    ///   - hash: SHA-256, for the audit chain (`Digest.sha256` from HeyanCrypto).
    ///   - clock: the service clock (the system clock by default).
    public init(
        path: String, hash: @escaping @Sendable ([UInt8]) -> [UInt8],
        configuration: SQLiteConfiguration = SQLiteConfiguration(),
        clock: any ServiceClock = SystemClock()
    ) throws {
        database = try SQLiteStore(path: path, configuration: configuration)
        writer = try GroupCommitWriter(store: database, hash: hash)
        self.clock = clock
    }

    deinit {
        writer.shutdown()
    }

    /// Finishes the queued writes and stops the writer thread; later writes fail with
    /// `sqlite.closed`. Reads keep working. Also done on release.
    public func close() {
        writer.shutdown()
    }

    /// Commits and jobs so far: jobs per commit is the group-commit factor.
    public var statistics: GroupCommitStatistics { writer.statistics }

    // MARK: - Writes

    public func submit(_ new: NewVerification, completion: @escaping StoreCompletion<SubmitResult>) {
        // Encoded here, on the caller's thread: the writer is the serial part of a node, so it
        // only binds what is ready and does what depends on the order (the audit sequence, chain
        // hash and tree).
        let verification = VerificationRow.Encoded(new.verification)
        let attestation = new.attestation.map(AttestationRow.Encoded.init)
        let audit = new.audit.map { EncodedAuditEvent($0, at: new.verification.createdAt) }
        // The job captures only what it binds: capturing `new` would copy the verification, its
        // attestation and audit events (~60 strings, a reference-count operation each) into the
        // closure and release them again after the batch.
        let (queueItem, idempotency) = (new.queueItem, new.idempotency)
        let (dueBeyondCalendar, id) = (new.dueBeyondCalendar, new.verification.id)
        writer.submit(
            { session in
                let db = session.connection
                if let idempotency,
                    let earlier = try IdempotencyRow.fetch(
                        requester: idempotency.requester, key: idempotency.key, on: db)
                {
                    guard earlier.requestHash == idempotency.requestHash else { return .keyReused }
                    return .replayed(status: earlier.status, body: earlier.body)
                }
                try VerificationRow.insert(verification, on: db)
                if let queueItem {
                    try QueueItemRow.insert(queueItem, dueBeyondCalendar: dueBeyondCalendar, on: db)
                }
                if let idempotency { try IdempotencyRow.insert(idempotency, on: db) }
                // Entries first: the attestation's row keeps the sequence of the one that issued it.
                let entries = try audit.map { try session.appendAudit($0) }
                if let attestation { try AttestationRow.insert(attestation, issuedBy: entries, in: session) }
                session.changed(.verification(id: id))
                if let queueItem { session.changed(.queue(owner: queueItem.owner)) }
                return .stored
            }, completion: completion)
    }

    public func recordRefusal(_ event: AuditEvent, at time: Millis, completion: @escaping StoreCompletion<Void>) {
        let encoded = EncodedAuditEvent(event, at: time)
        writer.submit({ session in try session.appendAudit(encoded) }, completion: completion)
    }

    public func lease(
        owner: String, clerk: String?, limit: Int, duration: Millis, now: Millis,
        completion: @escaping StoreCompletion<[LeasedItem]>
    ) {
        writer.submit(
            { session in
                try QueueItemRow.queue.lease(
                    owner: owner, limit: limit, now: now, in: session, decode: { try QueueItemRow.decode($0) },
                    about: { item in
                        guard let verification = try VerificationRow.fetch(id: item.verificationID, on: session.connection)
                        else { throw StoredRowError.invalid(table: "queue_items", key: item.id, column: "verification_id") }
                        return verification
                    },
                    transition: { item, verification, token in
                        QueueTransitions.lease(
                            item, of: verification, token: token, now: now, duration: duration, clerk: clerk)
                    }
                ).map { LeasedItem(item: $0.work, verification: $0.about) }
            }, completion: completion)
    }

    public func answer(
        _ answer: OwnerAnswer, issue: @escaping @Sendable (Verification) throws -> Attestation,
        completion: @escaping StoreCompletion<AnswerResult>
    ) {
        writer.submit({ session in try QueueTransitions.carryOut(answer, issue: issue, in: session) }, completion: completion)
    }

    public func putRecords(
        _ records: [SharedRecord], actor: String, clerk: String?, now: Millis,
        completion: @escaping StoreCompletion<[RecordWriteResult]>
    ) {
        writer.submit(
            { session in
                let db = session.connection
                var results: [RecordWriteResult] = []
                results.reserveCapacity(records.count)
                for record in records {
                    results.append(try RecordRow.put(record, now: now, on: db))
                    try session.appendAudit(
                        AuditEvent(
                            action: .recordPut, actor: actor, owner: record.owner,
                            certificateType: record.certificateType, subjectID: record.subjectID, clerk: clerk), at: now)
                }
                return results
            }, completion: recordsWritten(completion))
    }

    /// `completion`, after telling record lookups that records changed when the write committed.
    private func recordsWritten<T>(_ completion: @escaping StoreCompletion<T>) -> StoreCompletion<T> {
        { [database] result in
            if case .success = result { database.recordsChanged() }
            completion(result)
        }
    }

    public func deleteRecord(
        certificateType: String, subjectID: String, actor: String, clerk: String?, now: Millis,
        completion: @escaping StoreCompletion<Bool>
    ) {
        writer.submit(
            { session in
                let statement = try session.connection.cachedStatement(
                    "DELETE FROM records WHERE certificate_type = ?1 AND subject_id = ?2 RETURNING owner")
                try statement.bind(certificateType, at: 1)
                try statement.bind(subjectID, at: 2)
                guard try statement.step() else { return false }
                let owner = statement.text(at: 0)
                try statement.run()  // finish the DELETE
                try session.appendAudit(
                    AuditEvent(
                        action: .recordDeleted, actor: actor, owner: owner, certificateType: certificateType,
                        subjectID: subjectID, clerk: clerk), at: now)
                return true
            }, completion: recordsWritten(completion))
    }

    public func revoke(
        attestationID: String, actor: String, clerk: String?, reason: String, now: Millis,
        completion: @escaping StoreCompletion<RevokeResult>
    ) {
        writer.submit(
            { session in
                let db = session.connection
                guard let attestation = try AttestationRow.fetch(id: attestationID, on: db) else { return .notFound }
                guard attestation.revokedAt == nil else { return .alreadyRevoked(attestation) }
                let (revoked, event) = attestation.revoked(reason: reason, by: actor, clerk: clerk, at: now)
                try AttestationRow.updateRevocation(revoked, on: db)
                try session.appendAudit(event, at: now)
                session.changed(.verification(id: attestation.verificationID))
                return .revoked(revoked)
            }, completion: completion)
    }

    public func markOverdue(now: Millis, completion: @escaping StoreCompletion<Int>) {
        writer.submit(
            { session in
                try QueueItemRow.queue.markOverdue(now: now, selectSQL: QueueItemRow.overdueSQL, in: session) { row in
                    let item = try QueueItemRow.decode(row)
                    let verification = try VerificationRow.decode(row, offset: QueueItemRow.Column.allCases.count)
                    return QueueTransitions.overdue(item, of: verification, now: now)
                }
            }, completion: completion)
    }

    public func checkpoint(
        now: Millis, sign: @escaping @Sendable ([UInt8]) throws -> String,
        completion: @escaping StoreCompletion<AuditCheckpoint>
    ) {
        writer.submit(
            { session in
                let db = session.connection
                let head = session.auditHead
                if let last = try CheckpointRow.latest(on: db), last.size == head.sequence { return last }
                let root = head.tree.root.bytes
                let payload = AuditCheckpoint.payload(size: head.sequence, head: head.hash, time: now, treeRoot: root)
                let checkpoint = AuditCheckpoint(
                    size: head.sequence, head: head.hash, time: now, jws: try sign(payload), treeRoot: root)
                try CheckpointRow.insert(checkpoint, on: db)
                return checkpoint
            }, completion: completion)
    }

    // MARK: - Reads

    public func verification(id: String) throws -> Verification? {
        try database.read { try VerificationRow.fetch(id: id, on: $0) }
    }

    public func queueItem(id: String) throws -> QueueItem? {
        try database.read { try QueueItemRow.fetch(id: id, on: $0) }
    }

    public func attestation(id: String) throws -> Attestation? {
        try database.read { try AttestationRow.fetch(id: id, on: $0) }
    }

    public func record(certificateType: String, subjectID: String) throws -> SharedRecord? {
        try database.readRecords { db in
            let statement = try db.cachedStatement(RecordRow.selectByKey)
            try statement.bind(certificateType, at: 1)
            try statement.bind(subjectID, at: 2)
            guard try statement.step() else { return nil }
            return try RecordRow.decode(statement)
        }
    }

    /// Read now, on the caller's thread: a local read costs less than any hop to another thread.
    public func lookUpRecord(certificateType: String, subjectID: String) -> StoreRead<SharedRecord?> {
        .now(Result { try record(certificateType: certificateType, subjectID: subjectID) })
    }

    public func auditEntries(matching filter: AuditFilter, after sequence: Int64, limit: Int) throws -> [AuditEntry] {
        guard limit > 0 else { return [] }
        let sql = AuditQuery.sql(for: filter)
        return try database.read { db in
            let statement = try db.cachedStatement(sql)
            try statement.bind(.integer(sequence), named: ":after")
            if let subject = filter.subjectID { try statement.bind(.text(subject), named: ":subject") }
            if let department = filter.department { try statement.bind(.text(department), named: ":department") }
            if let type = filter.certificateType { try statement.bind(.text(type), named: ":type") }
            if let action = filter.action { try statement.bind(.text(action.rawValue), named: ":action") }
            if let from = filter.from { try statement.bind(.integer(from), named: ":from") }
            if let to = filter.to { try statement.bind(.integer(to), named: ":to") }
            try statement.bind(.integer(Int64(limit)), named: ":limit")
            var entries: [AuditEntry] = []
            while try statement.step() {
                entries.append(try AuditRow.decode(statement))
            }
            return entries
        }
    }

    public func latestCheckpoint() throws -> AuditCheckpoint? {
        try database.read { try CheckpointRow.latest(on: $0) }
    }

    public func queueCounts() throws -> [QueueCount] {
        let now = clock.now()
        return try database.read { try QueueItemRow.queue.depths(now: now, on: $0) }
    }

    /// Read now, on the caller's thread (as ``lookUpRecord(certificateType:subjectID:)``).
    public func lookUpIdempotencyRecord(requester: String, key: String) -> StoreRead<IdempotencyRecord?> {
        .now(Result { try idempotencyRecord(requester: requester, key: key) })
    }

    public func idempotencyRecord(requester: String, key: String) throws -> IdempotencyRecord? {
        try database.read { try IdempotencyRow.fetch(requester: requester, key: key, on: $0) }
    }

    // MARK: - Changes

    public func observeChanges(_ observer: @escaping @Sendable (StoreChange) -> Void) {
        writer.observe(observer)
    }

    /// Calls `observer` on the writer thread after each group-commit batch (size, time, committed),
    /// for `/metrics`.
    public func observeBatches(_ observer: @escaping @Sendable (GroupCommitBatch) -> Void) {
        writer.observeBatches(observer)
    }
}

/// The rows of an owner's answer on SQLite (``QueueTransitions/carryOut(_:issue:in:)`` decides).
/// The single writer serialises answers, so the item needs no lock.
extension WriteSession: QueueAnswerTransaction {
    func queueItem(id: String) throws -> QueueItem? { try QueueItemRow.fetch(id: id, on: connection) }
    func verification(id: String) throws -> Verification? { try VerificationRow.fetch(id: id, on: connection) }
    func attestation(id: String) throws -> Attestation? { try AttestationRow.fetch(id: id, on: connection) }

    func persistAnswer(
        _ verification: Verification, attestation: Attestation, item: QueueItem, event: AuditEvent, at time: Millis
    ) throws {
        try VerificationRow.updateAnswer(verification, on: connection)
        let issuing = try appendAudit(event, at: time)
        try AttestationRow.insert(attestation, issuedBy: [issuing], in: self)
        try QueueItemRow.queue.persistState(of: item, on: connection)
        changed(.verification(id: verification.id))
    }
}
