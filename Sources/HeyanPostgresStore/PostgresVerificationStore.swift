import Dispatch
import Glibc
import HeyanCrypto
import HeyanDomain
import HeyanPostgres
import HeyanTransparencyLog
import Synchronization

/// heyan's PostgreSQL store: the same ``HeyanStore`` contract as the embedded SQLite store, on a
/// database several heyan nodes share (docs/postgresql.md).
///
/// - Writes run on one writer thread per node, group-committed: the requests queued while a batch
///   commits form the next batch, one transaction; a completion runs only after COMMIT returned
///   (`synchronous_commit` as the server is configured: with a synchronous standby, after the
///   standby has it). A batch of writes whose statements are all known up front goes in one round
///   trip (BEGIN, the statements, NOTIFY, COMMIT in one pipeline); any other batch, or one whose
///   single round trip failed, runs each job in its own savepoint.
/// - Queue leases take `FOR UPDATE SKIP LOCKED`, so two nodes never lease one item; what a lease,
///   an answer or overdue marking changes is decided by the same ``QueueTransitions`` the SQLite
///   store calls.
/// - Audit entries are queued unsequenced in the writing transaction (`audit_queue`), touching no
///   shared row; an ``AuditIntegrator`` on each node — one at a time, by the row lock on
///   `audit_tree` — sequences, chains and integrates them into the Merkle tree in batches, with
///   leaves `d = SHA-256(salt ‖ canonical entry)` exactly as SQLite computes them.
/// - One node at a time leads the periodic work (``LeaderElection``, an advisory lock).
/// - Every change is also `NOTIFY`ed in the committing transaction; a listener connection on each
///   node feeds ``observeChanges(_:)`` with other nodes' commits.
public final class PostgresVerificationStore: @unchecked Sendable {
    // @unchecked: connections are reached only under their Mutex or on the writer queue.
    public let conninfo: String
    public let instanceID: String
    let clock: any ServiceClock
    /// Whether a job's statements known up front go in one round trip (libpq pipeline mode).
    let pipelined: Bool
    private let writer: PostgresConnection
    private let writerQueue = DispatchQueue(label: "heyan.postgres.writer")
    private let readers: [ConnectionSlot]
    /// Reads the records of data-sharing verifications, many per statement, off the event loops.
    let recordReader: RecordReader
    let idempotencyReader: IdempotencyReader
    private let nextReader = Atomic<Int>(0)
    private let observers = Mutex<[@Sendable (StoreChange) -> Void]>([])
    private let batchObservers = Mutex<[@Sendable (GroupCommitBatch) -> Void]>([])
    private let pending = Mutex<[any WriteJob]>([])
    private let batches = Atomic<Int>(0)
    private let oneRoundTrip = Atomic<Int>(0)
    private let fellBack = Atomic<Int>(0)
    /// The audit queue's length as the last batch that asked saw it (``AuditQueue/waiting(on:)``);
    /// read and written only on the writer queue. Near the limit, batches skip the single round trip,
    /// whose admission check would fail.
    private var lastWaitingAudit = 0
    private let closed = Atomic<Bool>(false)
    /// JWS headers known to be stored, with their ids: attestations with one of them skip its insert
    /// and name its row by id.
    let storedHeaders = StoredSigningHeaders()
    private let listener: ChangeListener
    let integrator: AuditIntegrator
    let election: LeaderElection
    /// The NOTIFY channel: `heyan_changes:<schema>`, so installations in different schemas of one
    /// database (and tests sharing a cluster) do not wake each other.
    let channel: String

    /// Opens the database `conninfo` names, migrating it (advisory-locked) and starting the listener.
    /// - Parameter pipelined: false sends every statement in a round trip of its own (only to
    ///   measure what pipelining gains).
    public init(
        conninfo: String, hash: @escaping @Sendable ([UInt8]) -> [UInt8], clock: any ServiceClock = SystemClock(),
        readers readerCount: Int = 2, pipelined: Bool = true
    ) throws {
        self.conninfo = conninfo
        self.clock = clock
        self.pipelined = pipelined
        writer = try PostgresConnection(conninfo: conninfo, applicationName: "heyan-writer")
        _ = try PostgresStoreSchema.migrator.migrate(writer)
        instanceID = try writer.query("SELECT value FROM service_meta WHERE key = 'instance_id'").rows.first?
            .decode("value") ?? ""
        let schema: String = try writer.query("SELECT current_schema() AS schema").rows.first?.decode("schema") ?? "public"
        channel = String("heyan_changes:\(schema)".utf8.prefix(63)) ?? "heyan_changes"
        readers = try (0..<max(1, readerCount)).map { _ in
            ConnectionSlot(try PostgresConnection(conninfo: conninfo, applicationName: "heyan-reader"))
        }
        recordReader = try RecordReader(conninfo: conninfo, .records)
        idempotencyReader = try IdempotencyReader(conninfo: conninfo, .idempotencyKeys)
        listener = try ChangeListener(conninfo: conninfo, channel: channel)
        integrator = AuditIntegrator(conninfo: conninfo, hash: hash)
        election = LeaderElection(conninfo: conninfo)
        integrator.start()
        let writerPID = writer.backendPID
        listener.start { [weak self] notification in
            // Our own commits were reported when they committed.
            guard let self, notification.senderPID != writerPID, let change = StoreChange(payload: notification.payload)
            else { return }
            self.report([change])
        }
    }

    deinit {
        recordReader.stop()
        idempotencyReader.stop()
        listener.stop()
        integrator.stop()
        election.stop()
    }

    /// Stops writing (later writes fail `store.closed`), the listener, the integrator (after one
    /// last pass over what this node queued) and the leadership; reads keep working.
    public func close() {
        guard !closed.exchange(true, ordering: .acquiringAndReleasing) else { return }
        writerQueue.sync {}
        listener.stop()
        integrator.stop(finishing: true)
        election.stop()
    }

    // MARK: - Writing

    /// Runs `body` as one job of a group-committed batch on the writer thread and completes after
    /// the batch's COMMIT returned.
    ///
    /// Jobs that arrive while a batch commits form the next batch: one transaction, one COMMIT (one
    /// WAL flush, one standby round trip) for all of them. With more than one job each runs in its own
    /// savepoint, so a failing job is rolled back alone (with the audit entries it queued) and the
    /// others commit; a failing COMMIT fails every job of the batch.
    func write<T: Sendable>(
        _ body: @escaping @Sendable (WriteTransaction) throws -> T, completion: @escaping StoreCompletion<T>
    ) {
        enqueue(TypedWriteJob(body: body, completion: completion))
    }

    /// Writes the statements `plain` makes, answering `value` — in one round trip for the whole batch
    /// when every job of the batch is plain (see ``commitInOneRoundTrip(_:)``). Should that round trip
    /// fail, or the batch hold a job that is not plain, this job runs `body` in a savepoint instead,
    /// which must write what `plain` writes and decide what `plain` cannot (a unique key already
    /// taken, say). `plain` runs on the writer thread, only when the batch goes in one round trip.
    func write<T: Sendable>(
        plain: @escaping @Sendable () -> PlainWrite, value: T,
        otherwise body: @escaping @Sendable (WriteTransaction) throws -> T, completion: @escaping StoreCompletion<T>
    ) {
        enqueue(TypedWriteJob(body: body, plain: (plain, value), completion: completion))
    }

    private func enqueue(_ job: any WriteJob) {
        guard !closed.load(ordering: .acquiring) else { return job.finish(batchFailure: PostgresStoreError.closed) }
        pending.withLock { $0.append(job) }
        writerQueue.async { [self] in commitPending() }
    }

    /// What a batch left to do after its transaction ended.
    private struct BatchResult {
        var failure: (any Error)?
        var changes: [StoreChange] = []
        var queuedAudit = 0
        var headers: [String] = []
    }

    /// Commits everything queued so far as one batch (on the writer queue).
    private func commitPending() {
        let jobs = pending.withLock { queued in
            defer { queued.removeAll() }
            return queued
        }
        guard !jobs.isEmpty else { return }
        let started = clock.monotonicNanoseconds()
        let result: BatchResult
        switch commitInOneRoundTrip(jobs) {
        case .done(let done):
            result = done
            if done.failure == nil { oneRoundTrip.wrappingAdd(1, ordering: .relaxed) }
        case .notPlain:
            result = commitInSavepoints(jobs)
        case .fallBack:
            fellBack.wrappingAdd(1, ordering: .relaxed)
            result = commitInSavepoints(jobs)
        }
        batches.wrappingAdd(1, ordering: .relaxed)
        let batchObservers = batchObservers.withLock { $0 }
        if !batchObservers.isEmpty {
            let observed = GroupCommitBatch(
                jobs: jobs.count, seconds: Double(clock.monotonicNanoseconds() &- started) / 1e9,
                committed: result.failure == nil)
            for observer in batchObservers { observer(observed) }
        }
        if result.failure == nil {
            learnHeaderIDs(result.headers)
            if result.queuedAudit > 0 { integrator.wake() }
            if !result.changes.isEmpty { report(result.changes) }
        }
        for job in jobs { job.finish(batchFailure: result.failure) }
    }

    /// The careful way: BEGIN; per job (when more than one) SAVEPOINT, its body, RELEASE — or
    /// ROLLBACK TO SAVEPOINT when it fails, failing it alone —; NOTIFY; COMMIT.
    private func commitInSavepoints(_ jobs: [any WriteJob]) -> BatchResult {
        let transaction = WriteTransaction(connection: writer, channel: channel, storedHeaders: storedHeaders)
        var failure: (any Error)?
        do {
            try connectWriter()
            try writer.query("BEGIN ISOLATION LEVEL READ COMMITTED")
            if jobs.count == 1 {
                try jobs[0].run(in: transaction)
            } else {
                for job in jobs {
                    transaction.beginJob()
                    try writer.query("SAVEPOINT job")
                    do {
                        try job.run(in: transaction)
                        try writer.query("RELEASE SAVEPOINT job")
                    } catch let error as PostgresError where error.isTransient {
                        throw error  // the connection or the transaction is gone: the whole batch fails
                    } catch {
                        try writer.query("ROLLBACK TO SAVEPOINT job")
                        transaction.rollBackJob()
                    }
                }
            }
            try transaction.finish()
            try writer.commit()
        } catch {
            writer.rollbackQuietly()
            failure = error
        }
        if let waiting = transaction.waitingAudit { lastWaitingAudit = waiting }
        return BatchResult(
            failure: failure, changes: transaction.changes, queuedAudit: transaction.queuedAudit,
            headers: transaction.registeredHeaders)
    }

    private enum OneRoundTrip {
        /// Committed, or failed as a whole (the connection lost, the COMMIT failed): every job's outcome.
        case done(BatchResult)
        /// Some job needs to read what it writes: the batch goes the careful way.
        case notPlain
        /// A statement failed and the transaction was rolled back: the batch goes the careful way,
        /// where the failing job fails alone.
        case fallBack
    }

    /// The common case in one round trip: when every job of the batch is plain (its rows known up
    /// front, nothing to read back), sends BEGIN, the admission check, one INSERT per table for the
    /// rows of every job (``PGBatchInsert``: idempotency keys, JWS headers, verifications,
    /// attestations, queue items, audit entries — in that order, rows in job order), NOTIFY and
    /// COMMIT in one pipeline — no savepoints. Which statement fails does not change what commits:
    /// the pipeline is one transaction, and any failure aborts all of it.
    ///
    /// - The admission check (``AuditQueue/admissionStatement(below:)``) fails the pipeline when
    ///   any job of the batch would be refused `postgres.audit-backlog`; skipped, with the single
    ///   round trip, while the queue was last seen near its limit.
    /// - A statement failing (a unique violation, the admission check) aborts the rest of the
    ///   pipeline, COMMIT included: the transaction is rolled back, nothing was acknowledged, and
    ///   the batch runs again the careful way, where the failing job fails alone.
    /// - The connection lost anywhere in it fails every job with `postgres.commit-in-doubt`: the
    ///   COMMIT may have been executed before the answer was lost (the server runs each statement
    ///   of a pipeline as it arrives), so nothing is run again. A failing COMMIT, or one the
    ///   synchronous standby did not acknowledge, fails every job too, as in the careful way.
    private func commitInOneRoundTrip(_ jobs: [any WriteJob]) -> OneRoundTrip {
        guard pipelined, jobs.allSatisfy(\.isPlain) else { return .notPlain }
        do {
            try connectWriter()  // first: it may forget the headers known stored
        } catch {
            return .done(BatchResult(failure: error))
        }
        let plans = jobs.compactMap { $0.plainWrite() }
        // As appendAudit admits: a job is refused when, at its first entry, `limit` entries wait
        // (committed, or queued by earlier jobs of the batch). None is when the last auditing job is not.
        var entries = 0
        var beforeLastAuditing: Int?
        for plan in plans where plan.auditEntries > 0 {
            beforeLastAuditing = entries
            entries += plan.auditEntries
        }
        var statements = [PostgresStatement("BEGIN ISOLATION LEVEL READ COMMITTED")]
        if let beforeLastAuditing {
            // Near the limit (as last seen) the admission check would likely fail: the careful way at once.
            guard lastWaitingAudit + entries < AuditQueue.limit / 2 else { return .notPlain }
            statements.append(AuditQueue.admissionStatement(below: AuditQueue.limit - beforeLastAuditing))
        }
        // Every job's rows gathered by table: one INSERT per table for the whole batch, tables in the
        // order their constraints need, rows (audit entries too) in job order.
        var batch = PGBatchInsert()
        var changes: [StoreChange] = []
        for plan in plans {
            // Each header not known stored before the rows carrying it (stored whole: the header's id is
            // learned after COMMIT, and rows name a header by id only once it is known committed).
            for header in plan.headers { batch.register(header: header) }
            statements += plan.statements
            batch.append(plan.rows)
            for change in plan.changes where !changes.contains(change) { changes.append(change) }
        }
        let headers = batch.registeredHeaders
        statements += batch.statements
        if let notify = WriteTransaction.notifyStatement(changes, channel: channel) { statements.append(notify) }
        statements.append(PostgresStatement("COMMIT"))

        let outcomes: [PostgresPipelineOutcome]
        do {
            outcomes = try writer.pipeline(statements)
        } catch let error as PostgresError where error.code == "postgres.connection-lost" {
            return .done(BatchResult(failure: PostgresError(
                code: "postgres.commit-in-doubt", sqlState: error.sqlState,
                message: "the connection failed while a pipeline ending in COMMIT was outstanding; "
                    + "the transaction may have committed: " + error.serverMessage, sql: "COMMIT")))
        } catch {
            writer.rollbackQuietly()
            return .done(BatchResult(failure: error))
        }
        if beforeLastAuditing != nil, case .completed(let admission) = outcomes[1],
            let waiting: Int = try? admission.rows.first?.decode("waiting")
        {
            lastWaitingAudit = waiting
        }
        if case .completed(let commit) = outcomes[outcomes.count - 1], commit.commandTag == "COMMIT" {
            for job in jobs { job.ranPlainly() }
            return .done(BatchResult(changes: changes, queuedAudit: entries, headers: headers))
        }
        // Not committed. The first failure decides: a statement of a job (or the admission check)
        // failing for what it wrote runs the batch again carefully; anything else fails it.
        var firstFailure: PostgresError?
        for case .failed(let error) in outcomes {
            firstFailure = error
            break
        }
        writer.rollbackQuietly()
        guard case .aborted = outcomes[outcomes.count - 1], let firstFailure, !firstFailure.isTransient,
            writer.isConnected, writer.transactionStatus == .idle
        else {
            return .done(BatchResult(failure: firstFailure ?? PostgresError(
                code: "postgres.transaction-aborted", sqlState: "25P02",
                message: "COMMIT did not commit the batch's transaction", sql: "COMMIT")))
        }
        return .fallBack
    }

    /// Remembers the ids of `headers`, registered by a batch that committed: looked up once per header
    /// (a round trip after the COMMIT, on the first attestation signed under a header since this node
    /// started or reconnected), so later attestations name the header's row by id. A header whose
    /// lookup fails is not remembered: the next batch registers it again (a no-op) and names it by text.
    private func learnHeaderIDs(_ headers: [String]) {
        guard !headers.isEmpty else { return }
        var learned: [(String, Int64)] = []
        for (index, header) in headers.enumerated() where !headers[..<index].contains(header) {
            guard let row = try? writer.query("SELECT id FROM jws_headers WHERE header = $1", [.text(header)]).rows.first,
                let id = try? row.decode("id", as: Int64.self)
            else { continue }
            learned.append((header, id))
        }
        storedHeaders.insert(learned)
    }

    /// Reconnects the writer when its connection broke; what this node knew stored may have been
    /// lost with it (a failover to an asynchronous standby), so it is forgotten.
    private func connectWriter() throws {
        guard !writer.isConnected else { return }
        storedHeaders.removeAll()
        try writer.reset()
    }

    /// Batches committed so far (jobs per batch is the group-commit factor).
    public var committedBatches: Int { batches.load(ordering: .relaxed) }

    /// Batches committed in one round trip, and batches whose single round trip failed and that
    /// ran again in savepoints (a test hook and figure, package-internal).
    package var oneRoundTripBatches: (committed: Int, fellBack: Int) {
        (oneRoundTrip.load(ordering: .relaxed), fellBack.load(ordering: .relaxed))
    }

    /// The writer connection's server process (a test hook, package-internal).
    package var writerBackendPID: Int32 { writerQueue.sync { writer.backendPID } }

    private func report(_ changes: [StoreChange]) {
        let current = observers.withLock { $0 }
        for change in changes { for observer in current { observer(change) } }
    }

    public func observeChanges(_ observer: @escaping @Sendable (StoreChange) -> Void) {
        observers.withLock { $0.append(observer) }
    }

    /// Calls `observer` on the writer thread after each group-commit batch (size, time from BEGIN
    /// to COMMIT returning, committed), before the batch's completions, for `/metrics` — as the
    /// SQLite store's writer does.
    public func observeBatches(_ observer: @escaping @Sendable (GroupCommitBatch) -> Void) {
        batchObservers.withLock { $0.append(observer) }
    }

    // MARK: - Reading

    /// Runs `body` on a reader connection; several queries share one REPEATABLE READ snapshot.
    /// Takes the first free reader from a rotating start, and waits for one only when all are busy.
    func read<T: Sendable>(snapshot: Bool = false, _ body: (PostgresConnection) throws -> T) throws -> T {
        func use(_ connection: PostgresConnection) throws -> T {
            if !connection.isConnected { try connection.reset() }
            if snapshot { return try connection.transaction(.repeatableRead) { try body($0) } }
            return try body(connection)
        }
        let start = nextReader.wrappingAdd(1, ordering: .relaxed).oldValue
        for offset in 0..<readers.count {
            let slot = readers[(start &+ offset) % readers.count]
            if let value = try slot.lock.withLockIfAvailable({ _ in try use(slot.connection) }) { return value }
        }
        let slot = readers[start % readers.count]
        return try slot.lock.withLock { _ in try use(slot.connection) }
    }
}

/// One queued write: runs inside the batch, then reports.
protocol WriteJob: Sendable {
    /// Whether its statements are all known up front and none is read back (else it must run).
    var isPlain: Bool { get }
    /// Those statements (nil when it is not plain).
    func plainWrite() -> PlainWrite?
    /// Runs the body, keeping its value or its error; rethrows the error so the batch can roll it back.
    func run(in transaction: WriteTransaction) throws
    /// Keeps the value a plain job answers once its statements are committed.
    func ranPlainly()
    /// Completes with the kept value, or `batchFailure` when the batch did not commit.
    func finish(batchFailure: (any Error)?)
}

/// A job's writes, all known before it runs, none read back, and what they change: what a batch's
/// single round trip sends for it.
struct PlainWrite: Sendable {
    /// The rows it inserts, in its order; the batch inserts each table's rows of all its jobs with one
    /// statement (``PGBatchInsert``).
    let rows: [PGRow]
    /// Statements other than row inserts (the readiness probe), sent before the batch's inserts.
    let statements: [PostgresStatement]
    /// How many of its rows are audit entries (admission counts them).
    let auditEntries: Int
    let changes: [StoreChange]
    /// The JWS headers of the attestations it stores that this node does not know stored (decided on
    /// the writer thread, which forgets them when it reconnects): the batch inserts each once.
    let headers: [String]

    init(
        rows: [PGRow] = [], statements: [PostgresStatement] = [], auditEntries: Int = 0, changes: [StoreChange] = [],
        headers: [String] = []
    ) {
        self.rows = rows
        self.statements = statements
        self.auditEntries = auditEntries
        self.changes = changes
        self.headers = headers
    }
}

final class TypedWriteJob<T: Sendable>: WriteJob, @unchecked Sendable {
    // @unchecked: `outcome` is touched only on the writer queue.
    let body: @Sendable (WriteTransaction) throws -> T
    let plainly: (write: @Sendable () -> PlainWrite, value: T)?
    let completion: StoreCompletion<T>
    private var outcome: Result<T, any Error>?

    init(
        body: @escaping @Sendable (WriteTransaction) throws -> T, plain: (@Sendable () -> PlainWrite, T)? = nil,
        completion: @escaping StoreCompletion<T>
    ) {
        self.body = body
        self.plainly = plain
        self.completion = completion
    }

    var isPlain: Bool { plainly != nil }

    func plainWrite() -> PlainWrite? { plainly?.write() }

    func run(in transaction: WriteTransaction) throws {
        do {
            outcome = .success(try body(transaction))
        } catch {
            outcome = .failure(error)
            throw error
        }
    }

    func ranPlainly() {
        if let plainly { outcome = .success(plainly.value) }
    }

    func finish(batchFailure: (any Error)?) {
        switch (outcome, batchFailure) {
        case (.failure(let error)?, _): completion(.failure(error))
        case (_, let failure?): completion(.failure(failure))
        case (.success(let value)?, nil): completion(.success(value))
        case (nil, nil): completion(.failure(PostgresStoreError.closed))
        }
    }
}

/// The JWS headers this node knows are stored in `jws_headers` (committed, by any node): an
/// attestation whose header is one of them does not insert it again. Rows there never change or
/// go away; the set is forgotten when the writer reconnects, and holds at most ``capacity``.
final class StoredSigningHeaders: Sendable {
    static let capacity = 64
    private let known = Mutex<(ids: [String: Int64], last: (header: String, id: Int64)?)>(([:], nil))

    /// The id of `header`'s row in `jws_headers`, if this node knows it committed. Nearly every
    /// attestation carries the previous one's header: compared first (`==` compares the bytes),
    /// before hashing ~1.9 KB for the dictionary.
    func id(of header: String) -> Int64? {
        known.withLock { known in
            if let last = known.last, last.header == header { return last.id }
            guard let id = known.ids[header] else { return nil }
            known.last = (header, id)
            return id
        }
    }

    func insert(_ headers: [(header: String, id: Int64)]) {
        guard !headers.isEmpty else { return }
        known.withLock { known in
            for (header, id) in headers where known.ids.count < Self.capacity { known.ids[header] = id }
        }
    }

    func removeAll() { known.withLock { $0 = ([:], nil) } }

    /// The row storing `attestation`, naming its JWS header by id when known stored, and that header
    /// when it is not: the caller registers it before the row, in the same transaction.
    func attestationRow(_ attestation: Attestation) -> (row: PGRow, unknownHeader: String?) {
        guard let split = attestation.jwsSplitAtHeader else {
            return (PGAttestationRow.row(attestation, byReference: nil), nil)
        }
        let header = String(split.header)
        guard let headerID = id(of: header) else {
            return (PGAttestationRow.row(attestation, byReference: nil), header)
        }
        return (PGAttestationRow.row(attestation, byReference: (headerID, split.rest)), nil)
    }
}

/// A reader connection and the lock held while using it.
final class ConnectionSlot: @unchecked Sendable {
    // @unchecked: `connection` is used only while `lock` is held.
    let lock = Mutex<Void>(())
    let connection: PostgresConnection
    init(_ connection: PostgresConnection) { self.connection = connection }
}

/// One write transaction: the connection, the audit entries it queued, and what changed.
final class WriteTransaction {
    let connection: PostgresConnection
    private let channel: String
    private let storedHeaders: StoredSigningHeaders
    private(set) var changes: [StoreChange] = []
    /// Audit entries this transaction queued (in jobs not rolled back).
    private(set) var queuedAudit = 0
    /// Committed entries waiting for integration when this transaction first queued one.
    private(set) var waitingAudit: Int?
    /// JWS headers this transaction inserted (in jobs not rolled back).
    private(set) var registeredHeaders: [String] = []
    /// How many entries were queued, changes noted and headers registered when the current job began:
    /// what its savepoint's rollback puts back, and where its first audit entry (admission) starts.
    private var jobStart = (queuedAudit: 0, changes: 0, registeredHeaders: 0)

    init(connection: PostgresConnection, channel: String, storedHeaders: StoredSigningHeaders) {
        self.connection = connection
        self.channel = channel
        self.storedHeaders = storedHeaders
    }

    /// A job of several in the batch begins, in its own savepoint.
    func beginJob() { jobStart = (queuedAudit, changes.count, registeredHeaders.count) }

    /// The current job's savepoint was rolled back: forgets what it queued, changed and registered
    /// (each of them only grows within a job).
    func rollBackJob() {
        queuedAudit = jobStart.queuedAudit
        changes.removeSubrange(jobStart.changes...)
        registeredHeaders.removeSubrange(jobStart.registeredHeaders...)
    }

    /// The statements storing `attestation`: its JWS header's unless this node knows the header is
    /// stored, then its row (naming the header by id when known committed, else carrying the whole JWS).
    func attestationStatements(_ attestation: Attestation) -> [PostgresStatement] {
        let stored = storedHeaders.attestationRow(attestation)
        guard let header = stored.unknownHeader else { return [stored.row.insertStatement] }
        registeredHeaders.append(header)
        return [PGAttestationRow.registerHeader(header), stored.row.insertStatement]
    }

    /// Inserts `header` into `jws_headers` unless it is there.
    func registerHeader(_ header: String) throws {
        try connection.run([PGAttestationRow.registerHeader(header)])
        registeredHeaders.append(header)
    }

    func changed(_ change: StoreChange) {
        if !changes.contains(change) { changes.append(change) }
    }

    /// The integrated tree's size, root and chain head, with its row locked until this transaction
    /// ends (`SELECT … FOR UPDATE` on `audit_tree`; it waits while an integrator commits a batch).
    /// Checkpoint writers take it, so a checkpoint is checked against the stored newest one and
    /// the tree cannot grow meanwhile. Audited writes do not need it.
    func lockedTreeHead() throws -> (size: UInt64, root: MerkleHash, headHash: [UInt8]) {
        guard let row = try connection.query("SELECT size, root, head_hash FROM audit_tree WHERE id = 0 FOR UPDATE").rows.first,
            let root = MerkleHash(bytes: try row.decode("root"))
        else { throw PostgresStoreError.corrupt(table: "audit_tree", key: "0", column: "root") }
        return (UInt64(try row.decode("size", as: Int64.self)), root, try row.decode("head_hash"))
    }

    /// Queues `event` at `time` with a fresh salt (``AuditQueue``); the integrator gives it its
    /// sequence, chain hash and leaf `d = SHA-256(salt ‖ canonical entry)` later (docs/postgresql.md,
    /// "Audit"). A job is refused with `postgres.audit-backlog` (503) when, at its first entry,
    /// ``AuditQueue/limit`` entries already wait (committed, or queued by earlier jobs of this batch);
    /// once admitted, all of its entries are queued, so one request with more entries than the limit
    /// (a `records:batch` of 10,000) is admitted on a short queue rather than refused forever.
    func appendAudit(_ event: AuditEvent, at time: Millis) throws {
        try connection.run(auditStatements([event], at: time))
    }

    /// The statements queueing `events` at `time`, admitted as ``appendAudit(_:at:)`` admits them, for a
    /// job to send in the pipeline of its other rows (one round trip less per job); counted as queued
    /// here — a job whose pipeline then fails is rolled back with them.
    func auditStatements(_ events: [AuditEvent], at time: Millis) throws -> [PostgresStatement] {
        guard !events.isEmpty else { return [] }
        try admitAudit()
        queuedAudit += events.count
        return events.map { AuditQueue.insertStatement($0, at: time) }
    }

    /// Refuses a job's first entry with `postgres.audit-backlog` when ``AuditQueue/limit`` entries wait.
    private func admitAudit() throws {
        if waitingAudit == nil { waitingAudit = try AuditQueue.waiting(on: connection) }
        if queuedAudit == jobStart.queuedAudit {
            guard (waitingAudit ?? 0) + queuedAudit < AuditQueue.limit else { throw PostgresStoreError.auditBacklog }
        }
    }

    /// Before COMMIT: sends the changes' notifications (delivered at commit), all in one statement.
    func finish() throws {
        guard let notify = Self.notifyStatement(changes, channel: channel) else { return }
        try connection.query(notify.sql, notify.parameters)
    }

    /// The one statement notifying `changes` on `channel` in order (nil for none).
    static func notifyStatement(_ changes: [StoreChange], channel: String) -> PostgresStatement? {
        guard !changes.isEmpty else { return nil }
        if changes.count == 1 { return PostgresStatement("SELECT pg_notify($1, $2)", [.text(channel), .text(changes[0].payload)]) }
        // A function scan over the array returns its elements in order: the notifications keep theirs.
        return PostgresStatement(
            "SELECT pg_notify($1, p) FROM unnest($2::text[]) AS p", [.text(channel), .array(changes.map { .text($0.payload) })])
    }
}

/// Complete nodes of the stored tree: level 0 from `audit_log.leaf`, the rest from `audit_tree_nodes`.
struct PostgresMerkleNodeReader: MerkleNodeReader {
    let connection: PostgresConnection

    func hash(at address: MerkleNodeAddress) throws -> MerkleHash {
        if address.level == 0 {
            guard let row = try connection.query(
                "SELECT leaf FROM audit_log WHERE sequence = $1", [.int64(Int64(address.index) + 1)]).rows.first
            else { throw MerkleError.missingNode(address) }
            return .leaf(try row.decode("leaf"))
        }
        guard
            let row = try connection.query(
                "SELECT hash FROM audit_tree_nodes WHERE level = $1 AND idx = $2",
                [.int(address.level), .int64(Int64(address.index))]
            ).rows.first, let hash = MerkleHash(bytes: try row.decode("hash"))
        else { throw MerkleError.missingNode(address) }
        return hash
    }
}

extension StoreChange {
    /// The NOTIFY payload: `v:<id>`, `q:<owner>`, `c:<id>`.
    var payload: String {
        switch self {
        case .verification(let id): "v:" + id
        case .queue(let owner): "q:" + owner
        case .commitment(let id): "c:" + id
        }
    }

    init?(payload: String) {
        let value = String(payload.dropFirst(2))
        switch payload.prefix(2) {
        case "v:": self = .verification(id: value)
        case "q:": self = .queue(owner: value)
        case "c:": self = .commitment(id: value)
        default: return nil
        }
    }
}

/// A thread holding a `LISTEN` connection, reconnecting when it is lost (a commit missed while it
/// was down is not replayed: long polls also wake on their timeout).
final class ChangeListener: @unchecked Sendable {
    // @unchecked: `connection` is used only by the listener thread after start.
    private let conninfo: String
    private let channel: String
    private var connection: PostgresConnection?
    private let stopped = Atomic<Bool>(false)
    private let done = DispatchSemaphore(value: 0)
    private let started = Atomic<Bool>(false)

    init(conninfo: String, channel: String) throws {
        self.conninfo = conninfo
        self.channel = channel
        let connection = try PostgresConnection(conninfo: conninfo, applicationName: "heyan-listener")
        try connection.listen(channel)
        self.connection = connection
    }

    func start(_ deliver: @escaping @Sendable (PostgresNotification) -> Void) {
        started.store(true, ordering: .releasing)
        Thread.detach { [self] in
            while !stopped.load(ordering: .acquiring) {
                do {
                    if connection == nil || connection?.isConnected == false {
                        let fresh = try PostgresConnection(conninfo: conninfo, applicationName: "heyan-listener")
                        try fresh.listen(channel)
                        connection = fresh
                    }
                    for notification in try connection!.waitForNotifications(timeout: 0.2) { deliver(notification) }
                } catch {
                    connection = nil
                    usleep(200_000)
                }
            }
            connection?.close()
            done.signal()
        }
    }

    func stop() {
        guard !stopped.exchange(true, ordering: .acquiringAndReleasing), started.load(ordering: .acquiring) else { return }
        done.wait()
    }
}

/// A detached POSIX thread (blocking libpq calls must not occupy the cooperative pool).
enum Thread {
    static func detach(_ body: @escaping @Sendable () -> Void) {
        final class Box { let body: @Sendable () -> Void; init(_ body: @escaping @Sendable () -> Void) { self.body = body } }
        var thread = pthread_t()
        let created = pthread_create(
            &thread, nil,
            { raw in
                Unmanaged<Box>.fromOpaque(raw!).takeRetainedValue().body()
                return nil
            }, Unmanaged.passRetained(Box(body)).toOpaque())
        precondition(created == 0, "cannot start the PostgreSQL listener thread")
        pthread_detach(thread)
    }
}
