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
    /// "Now" for reads that depend on it (``queueCounts()``: whether a lease has expired).
    let clock: @Sendable () -> Millis

    /// Opens (creating and migrating if needed) the database at `path` and starts the writer thread.
    ///
    /// - Parameters:
    ///   - hash: SHA-256, for the audit chain (`Digest.sha256` from HeyanCrypto).
    ///   - clock: the time ``queueCounts()`` judges leases by; the system clock by default. Writes
    ///     take their time as an argument instead.
    public init(
        path: String, hash: @escaping @Sendable ([UInt8]) -> [UInt8],
        configuration: SQLiteConfiguration = SQLiteConfiguration(),
        clock: @escaping @Sendable () -> Millis = systemMillis
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
        writer.submit(
            { session in
                let db = session.connection
                if let idempotency = new.idempotency,
                    let earlier = try IdempotencyRow.fetch(
                        requester: idempotency.requester, key: idempotency.key, on: db)
                {
                    guard earlier.requestHash == idempotency.requestHash else { return .keyReused }
                    return .replayed(status: earlier.status, body: earlier.body)
                }
                try VerificationRow.insert(new.verification, on: db)
                if let attestation = new.attestation { try AttestationRow.insert(attestation, in: session) }
                if let item = new.queueItem { try QueueItemRow.insert(item, on: db) }
                if let idempotency = new.idempotency { try IdempotencyRow.insert(idempotency, on: db) }
                for event in new.audit {
                    try session.appendAudit(event, at: new.verification.createdAt)
                }
                session.changed(.verification(id: new.verification.id))
                if let item = new.queueItem { session.changed(.queue(owner: item.owner)) }
                return .stored
            }, completion: completion)
    }

    public func recordRefusal(_ event: AuditEvent, at time: Millis, completion: @escaping StoreCompletion<Void>) {
        writer.submit({ session in try session.appendAudit(event, at: time) }, completion: completion)
    }

    public func lease(
        owner: String, limit: Int, duration: Millis, now: Millis, completion: @escaping StoreCompletion<[LeasedItem]>
    ) {
        writer.submit(
            { session in
                guard limit > 0 else { return [] }
                let db = session.connection
                // Two index-ordered scans (pending; leased but expired) merged here, rather than one
                // OR query that SQLite would have to sort in full.
                var candidates = try QueueLeasing.items(
                    "SELECT \(QueueItemRow.columns) FROM queue_items WHERE owner = ?1 AND state = 'pending' "
                        + "ORDER BY due_at, created_at LIMIT ?2", owner: owner, now: nil, limit: limit, on: db)
                candidates += try QueueLeasing.items(
                    "SELECT \(QueueItemRow.columns) FROM queue_items WHERE owner = ?1 AND state = 'leased' "
                        + "AND lease_expires_at <= ?3 ORDER BY due_at, created_at LIMIT ?2",
                    owner: owner, now: now, limit: limit, on: db)
                candidates.sort { ($0.dueAt, $0.createdAt, $0.id) < ($1.dueAt, $1.createdAt, $1.id) }

                var leased: [LeasedItem] = []
                leased.reserveCapacity(min(limit, candidates.count))
                let update = """
                    UPDATE queue_items SET state = 'leased', lease_token = ?2, lease_expires_at = ?3, lease_count = ?4
                    WHERE id = ?1
                    """
                for var item in candidates.prefix(limit) {
                    item.state = .leased
                    item.leaseToken = try session.random.token()
                    item.leaseExpiresAt = now + duration
                    item.leaseCount += 1
                    let statement = try db.cachedStatement(update)
                    try statement.bind(item.id, at: 1)
                    try statement.bindText(item.leaseToken, at: 2)
                    try statement.bindInteger(item.leaseExpiresAt, at: 3)
                    try statement.bind(Int64(item.leaseCount), at: 4)
                    try statement.run()
                    guard let verification = try VerificationRow.fetch(id: item.verificationID, on: db) else {
                        throw StoredRowError.invalid(table: "queue_items", key: item.id, column: "verification_id")
                    }
                    try session.appendAudit(
                        AuditEvent(
                            action: .queueLeased, actor: owner, requester: verification.requester, owner: owner,
                            certificateType: verification.certificateType, subjectID: verification.subject.id,
                            verificationID: verification.id, queueItemID: item.id,
                            detail: [
                                "leaseExpiresAt": Timestamp.rfc3339(now + duration),
                                "leaseCount": String(item.leaseCount),
                            ]), at: now)
                    leased.append(LeasedItem(item: item, verification: verification))
                }
                return leased
            }, completion: completion)
    }

    public func answer(
        _ answer: OwnerAnswer, issue: @escaping @Sendable (Verification) throws -> Attestation,
        completion: @escaping StoreCompletion<AnswerResult>
    ) {
        writer.submit(
            { session in
                let db = session.connection
                let statement = try db.cachedStatement(
                    "SELECT \(QueueItemRow.columns), answered_lease_token FROM queue_items WHERE id = ?1")
                try statement.bind(answer.queueItemID, at: 1)
                guard try statement.step() else { return .notFound }
                let item = try QueueItemRow.decode(statement)
                let answeredToken = statement.text(at: 11)
                try statement.reset()
                guard item.owner == answer.owner else { return .notFound }
                guard var verification = try VerificationRow.fetch(id: item.verificationID, on: db) else {
                    throw StoredRowError.invalid(table: "queue_items", key: item.id, column: "verification_id")
                }

                if item.state == .done {
                    guard answeredToken == answer.leaseToken, verification.outcome == answer.outcome,
                        verification.note == answer.note, verification.disclosed == answer.disclosed,
                        let attestationID = verification.attestationID
                    else { return .staleLease }
                    guard let attestation = try AttestationRow.fetch(id: attestationID, on: db) else {
                        throw StoredRowError.invalid(table: "verifications", key: verification.id, column: "attestation_id")
                    }
                    return .repeated(verification, attestation)
                }
                guard item.state == .leased, item.leaseToken == answer.leaseToken,
                    let expires = item.leaseExpiresAt, expires > answer.answeredAt
                else { return .staleLease }

                verification.status = .answered
                verification.outcome = answer.outcome
                verification.note = answer.note
                verification.disclosed = answer.disclosed
                verification.answeredAt = answer.answeredAt
                verification.attestationID = nil
                let attestation = try issue(verification)
                verification.attestationID = attestation.id

                try VerificationRow.updateAnswer(verification, on: db)
                try AttestationRow.insert(attestation, in: session)
                let done = try db.cachedStatement(
                    "UPDATE queue_items SET state = 'done', answered_lease_token = ?2 WHERE id = ?1")
                try done.bind(item.id, at: 1)
                try done.bind(answer.leaseToken, at: 2)
                try done.run()

                try session.appendAudit(
                    AuditEvent(
                        action: .verificationAnswered, actor: answer.owner, requester: verification.requester,
                        owner: verification.owner, certificateType: verification.certificateType,
                        subjectID: verification.subject.id, verificationID: verification.id,
                        attestationID: attestation.id, queueItemID: item.id,
                        detail: [
                            "outcome": answer.outcome.rawValue, "answeredBy": answer.owner,
                            "expiresAt": Timestamp.rfc3339(attestation.expiresAt),
                        ]),
                    at: answer.answeredAt)
                session.changed(.verification(id: verification.id))
                return .answered(verification, attestation)
            }, completion: completion)
    }

    public func putRecords(
        _ records: [SharedRecord], actor: String, now: Millis, completion: @escaping StoreCompletion<[RecordWriteResult]>
    ) {
        writer.submit(
            { session in
                let db = session.connection
                var results: [RecordWriteResult] = []
                results.reserveCapacity(records.count)
                for record in records {
                    let claims = claimsText(record.claims)
                    let insert = try db.cachedStatement(
                        """
                        INSERT INTO records (certificate_type, subject_id, owner, claims, updated_at)
                        VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT (certificate_type, subject_id) DO NOTHING
                        """)
                    try insert.bind(record.certificateType, at: 1)
                    try insert.bind(record.subjectID, at: 2)
                    try insert.bind(record.owner, at: 3)
                    try insert.bind(claims, at: 4)
                    try insert.bind(now, at: 5)
                    try insert.run()
                    if db.changes == 1 {
                        results.append(.created)
                    } else {
                        let update = try db.cachedStatement(
                            """
                            UPDATE records SET owner = ?3, claims = ?4, updated_at = ?5
                            WHERE certificate_type = ?1 AND subject_id = ?2
                            """)
                        try update.bind(record.certificateType, at: 1)
                        try update.bind(record.subjectID, at: 2)
                        try update.bind(record.owner, at: 3)
                        try update.bind(claims, at: 4)
                        try update.bind(now, at: 5)
                        try update.run()
                        results.append(.updated)
                    }
                    try session.appendAudit(
                        AuditEvent(
                            action: .recordPut, actor: actor, owner: record.owner,
                            certificateType: record.certificateType, subjectID: record.subjectID), at: now)
                }
                return results
            }, completion: completion)
    }

    public func deleteRecord(
        certificateType: String, subjectID: String, actor: String, now: Millis, completion: @escaping StoreCompletion<Bool>
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
                        subjectID: subjectID), at: now)
                return true
            }, completion: completion)
    }

    public func revoke(
        attestationID: String, actor: String, reason: String, now: Millis, completion: @escaping StoreCompletion<RevokeResult>
    ) {
        writer.submit(
            { session in
                let db = session.connection
                guard var attestation = try AttestationRow.fetch(id: attestationID, on: db) else { return .notFound }
                guard attestation.revokedAt == nil else { return .alreadyRevoked(attestation) }
                attestation.revokedAt = now
                attestation.revocationReason = reason
                attestation.revokedBy = actor
                let statement = try db.cachedStatement(
                    "UPDATE attestations SET revoked_at = ?2, revocation_reason = ?3, revoked_by = ?4 WHERE id = ?1")
                try statement.bind(attestationID, at: 1)
                try statement.bind(now, at: 2)
                try statement.bind(reason, at: 3)
                try statement.bind(actor, at: 4)
                try statement.run()
                try session.appendAudit(
                    AuditEvent(
                        action: .attestationRevoked, actor: actor, requester: attestation.requester,
                        owner: attestation.issuer, certificateType: attestation.certificateType,
                        subjectID: attestation.subjectID, verificationID: attestation.verificationID,
                        attestationID: attestation.id, detail: ["reason": reason]), at: now)
                session.changed(.verification(id: attestation.verificationID))
                return .revoked(attestation)
            }, completion: completion)
    }

    public func markOverdue(now: Millis, completion: @escaping StoreCompletion<Int>) {
        writer.submit(
            { session in
                try session.markOverdue(
                    table: "queue_items",
                    selectSQL: """
                        SELECT q.id, q.owner, q.due_at, v.id, v.requester, v.certificate_type, v.subject_id
                        FROM queue_items AS q JOIN verifications AS v ON v.id = q.verification_id
                        WHERE q.overdue = 0 AND q.state <> 'done' AND q.due_at <= ?1
                        ORDER BY q.due_at
                        """, now: now
                ) { row, id in
                    AuditEvent(
                        action: .queueOverdue, actor: "heyan", requester: row.text(at: 4), owner: row.text(at: 1),
                        certificateType: row.text(at: 5), subjectID: row.text(at: 6), verificationID: row.text(at: 3),
                        queueItemID: id, detail: ["dueAt": Timestamp.rfc3339(row.int64(at: 2))])
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
                let payload = AuditCheckpoint.payload(size: head.sequence, head: head.hash, time: now)
                let checkpoint = AuditCheckpoint(size: head.sequence, head: head.hash, time: now, jws: try sign(payload))
                let statement = try db.cachedStatement(CheckpointRow.insertSQL)
                try statement.bind(checkpoint.size, at: 1)
                try statement.bind(checkpoint.head, at: 2)
                try statement.bind(checkpoint.time, at: 3)
                try statement.bind(checkpoint.jws, at: 4)
                try statement.run()
                return checkpoint
            }, completion: completion)
    }

    // MARK: - Reads

    public func verification(id: String) throws -> Verification? {
        try database.read { try VerificationRow.fetch(id: id, on: $0) }
    }

    public func queueItem(id: String) throws -> QueueItem? {
        try database.read { db in
            let statement = try db.cachedStatement("SELECT \(QueueItemRow.columns) FROM queue_items WHERE id = ?1")
            try statement.bind(id, at: 1)
            guard try statement.step() else { return nil }
            return try QueueItemRow.decode(statement)
        }
    }

    public func attestation(id: String) throws -> Attestation? {
        try database.read { try AttestationRow.fetch(id: id, on: $0) }
    }

    public func record(certificateType: String, subjectID: String) throws -> SharedRecord? {
        try database.read { db in
            let statement = try db.cachedStatement(RecordRow.selectByKey)
            try statement.bind(certificateType, at: 1)
            try statement.bind(subjectID, at: 2)
            guard try statement.step() else { return nil }
            return try RecordRow.decode(statement)
        }
    }

    public func auditEntries(matching filter: AuditFilter, after sequence: Int64, limit: Int) throws -> [AuditEntry] {
        guard limit > 0 else { return [] }
        // One SQL text per combination of set fields (at most 64), so the statement cache stays small.
        var conditions = ["sequence > :after"]
        if filter.subjectID != nil { conditions.append("subject_id = :subject") }
        if filter.certificateType != nil { conditions.append("certificate_type = :type") }
        if filter.action != nil { conditions.append("action = :action") }
        if filter.from != nil { conditions.append("time >= :from") }
        if filter.to != nil { conditions.append("time < :to") }
        let sql: String
        if filter.department != nil {
            // Actor, requester or owner: one index-ordered, limited scan per column, merged, rather
            // than an OR that makes SQLite sort every matching entry after the cursor.
            let branches = ["actor", "requester", "owner"].map { column in
                "SELECT sequence FROM (SELECT sequence FROM audit_log WHERE \(column) = :department AND "
                    + conditions.joined(separator: " AND ") + " ORDER BY sequence LIMIT :limit)"
            }
            sql =
                "SELECT \(AuditRow.columns) FROM audit_log WHERE sequence IN (\(branches.joined(separator: " UNION ALL ")))"
                + " ORDER BY sequence LIMIT :limit"
        } else {
            sql =
                "SELECT \(AuditRow.columns) FROM audit_log WHERE \(conditions.joined(separator: " AND ")) "
                + "ORDER BY sequence LIMIT :limit"
        }
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
        try queueDepths(of: "queue_items")
    }

    /// Depth per owner of a queue table (`queue_items` or `spot_checks`, which share the lease
    /// columns). A leased item whose lease expired waits for a worker again: it counts as pending.
    /// The oldest unanswered item's creation time comes from the same pass.
    ///
    /// Read at every `/metrics` scrape, so its cost must not grow with the history: the owners
    /// are found by index seeks (one per owner), then only each owner's pending and leased items
    /// are read through the `(owner, state, …)` index — never the answered ones.
    func queueDepths(of table: StaticString) throws -> [QueueCount] {
        let now = clock()
        return try database.read { db in
            let statement = try db.cachedStatement(Self.queueDepthSQL(table))
            try statement.bind(now, at: 1)
            var counts: [QueueCount] = []
            while try statement.step() {
                counts.append(
                    QueueCount(
                        owner: statement.text(at: 0) ?? "", pending: Int(statement.int64(at: 1)),
                        leased: Int(statement.int64(at: 2)), overdue: Int(statement.int64(at: 3)),
                        oldestCreatedAt: statement.int64(at: 4)))
            }
            return counts
        }
    }

    /// The query of ``queueDepths(of:)``; `?1` is now.
    static func queueDepthSQL(_ table: StaticString) -> String {
        """
        WITH RECURSIVE owners(owner) AS (
            SELECT min(owner) FROM \(table)
            UNION ALL
            SELECT (SELECT min(later.owner) FROM \(table) later WHERE later.owner > owners.owner)
            FROM owners WHERE owners.owner IS NOT NULL)
        SELECT owners.owner,
            sum(item.state = 'pending' OR item.lease_expires_at <= ?1),
            sum(item.state = 'leased' AND item.lease_expires_at > ?1),
            sum(item.overdue),
            min(item.created_at)
        FROM owners JOIN \(table) item ON item.owner = owners.owner AND item.state IN ('pending', 'leased')
        GROUP BY owners.owner ORDER BY owners.owner
        """
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

/// Reads lease candidates.
enum QueueLeasing {
    static func items(_ sql: String, owner: String, now: Millis?, limit: Int, on db: SQLiteConnection) throws
        -> [QueueItem]
    {
        let statement = try db.cachedStatement(sql)
        try statement.bind(owner, at: 1)
        try statement.bind(Int64(limit), at: 2)
        if let now { try statement.bind(now, at: 3) }
        var items: [QueueItem] = []
        while try statement.step() {
            items.append(try QueueItemRow.decode(statement))
        }
        return items
    }
}

/// Milliseconds since the epoch from the system clock (`CLOCK_REALTIME`).
@Sendable public func systemMillis() -> Millis {
    var now = timespec()
    clock_gettime(CLOCK_REALTIME, &now)
    return Millis(now.tv_sec) * 1000 + Millis(now.tv_nsec / 1_000_000)
}
