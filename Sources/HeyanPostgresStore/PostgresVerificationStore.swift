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
///   commits form the next batch, one transaction, each in its own savepoint; a completion runs
///   only after COMMIT returned (`synchronous_commit` as the server
///   is configured: with a synchronous standby, after the standby has it).
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
    let hash: @Sendable ([UInt8]) -> [UInt8]
    let clock: any ServiceClock
    /// Whether a job's statements known up front go in one round trip (libpq pipeline mode).
    let pipelined: Bool
    private let writer: PostgresConnection
    private let writerQueue = DispatchQueue(label: "heyan.postgres.writer")
    private let readers: [ConnectionSlot]
    private let nextReader = Atomic<Int>(0)
    private let observers = Mutex<[@Sendable (StoreChange) -> Void]>([])
    private let batchObservers = Mutex<[@Sendable (GroupCommitBatch) -> Void]>([])
    private let pending = Mutex<[any WriteJob]>([])
    private let batches = Atomic<Int>(0)
    private let closed = Atomic<Bool>(false)
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
        self.hash = hash
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
    /// savepoint, so a failing job is rolled back alone (with the audit head it advanced) and the
    /// others commit; a failing COMMIT fails every job of the batch.
    func write<T: Sendable>(
        _ body: @escaping @Sendable (WriteTransaction) throws -> T, completion: @escaping StoreCompletion<T>
    ) {
        guard !closed.load(ordering: .acquiring) else { return completion(.failure(PostgresStoreError.closed)) }
        pending.withLock { $0.append(TypedWriteJob(body: body, completion: completion)) }
        writerQueue.async { [self] in commitPending() }
    }

    /// Commits everything queued so far as one batch (on the writer queue).
    private func commitPending() {
        let jobs = pending.withLock { queued in
            defer { queued.removeAll() }
            return queued
        }
        guard !jobs.isEmpty else { return }
        let started = clock.monotonicNanoseconds()
        let transaction = WriteTransaction(connection: writer, channel: channel)
        var batchFailure: (any Error)?
        do {
            if !writer.isConnected { try writer.reset() }
            try writer.query("BEGIN ISOLATION LEVEL READ COMMITTED")
            if jobs.count == 1 {
                try jobs[0].run(in: transaction)
            } else {
                for job in jobs {
                    let snapshot = transaction.snapshot()
                    try writer.query("SAVEPOINT job")
                    do {
                        try job.run(in: transaction)
                        try writer.query("RELEASE SAVEPOINT job")
                    } catch let error as PostgresError where error.isTransient {
                        throw error  // the connection or the transaction is gone: the whole batch fails
                    } catch {
                        try writer.query("ROLLBACK TO SAVEPOINT job")
                        transaction.restore(snapshot)
                    }
                }
            }
            try transaction.finish()
            try writer.commit()
        } catch {
            writer.rollbackQuietly()
            batchFailure = error
        }
        batches.wrappingAdd(1, ordering: .relaxed)
        let batchObservers = batchObservers.withLock { $0 }
        if !batchObservers.isEmpty {
            let observed = GroupCommitBatch(
                jobs: jobs.count, seconds: Double(clock.monotonicNanoseconds() &- started) / 1e9,
                committed: batchFailure == nil)
            for observer in batchObservers { observer(observed) }
        }
        if batchFailure == nil, transaction.queuedAudit > 0 { integrator.wake() }
        if batchFailure == nil, !transaction.changes.isEmpty { report(transaction.changes) }
        for job in jobs { job.finish(batchFailure: batchFailure) }
    }

    /// Batches committed so far (jobs per batch is the group-commit factor).
    public var committedBatches: Int { batches.load(ordering: .relaxed) }

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
    /// Runs the body, keeping its value or its error; rethrows the error so the batch can roll it back.
    func run(in transaction: WriteTransaction) throws
    /// Completes with the kept value, or `batchFailure` when the batch did not commit.
    func finish(batchFailure: (any Error)?)
}

final class TypedWriteJob<T: Sendable>: WriteJob, @unchecked Sendable {
    // @unchecked: `outcome` is touched only on the writer queue.
    let body: @Sendable (WriteTransaction) throws -> T
    let completion: StoreCompletion<T>
    private var outcome: Result<T, any Error>?

    init(body: @escaping @Sendable (WriteTransaction) throws -> T, completion: @escaping StoreCompletion<T>) {
        self.body = body
        self.completion = completion
    }

    func run(in transaction: WriteTransaction) throws {
        do {
            outcome = .success(try body(transaction))
        } catch {
            outcome = .failure(error)
            throw error
        }
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
    private(set) var changes: [StoreChange] = []
    /// Audit entries this transaction queued (in jobs not rolled back).
    private(set) var queuedAudit = 0
    /// Committed entries waiting for integration when this transaction first queued one.
    private var waitingAudit: Int?
    /// `queuedAudit` when the current job began: admission is decided at a job's first entry.
    private var jobStartQueued = 0

    init(connection: PostgresConnection, channel: String) {
        self.connection = connection
        self.channel = channel
    }

    /// What a job's savepoint rollback must put back: the entries queued and the changes so far.
    struct Snapshot {
        fileprivate let queuedAudit: Int
        fileprivate let changes: [StoreChange]
    }

    func snapshot() -> Snapshot {
        jobStartQueued = queuedAudit
        return Snapshot(queuedAudit: queuedAudit, changes: changes)
    }

    func restore(_ snapshot: Snapshot) {
        queuedAudit = snapshot.queuedAudit
        changes = snapshot.changes
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
    @discardableResult
    func appendAudit(_ event: AuditEvent, at time: Millis) throws -> QueuedAuditEntry {
        try admitAudit()
        let id = try AuditQueue.insert(event, at: time, on: connection)
        queuedAudit += 1
        return QueuedAuditEntry(queueID: id, time: time, event: event)
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
        if queuedAudit == jobStartQueued {
            guard (waitingAudit ?? 0) + queuedAudit < AuditQueue.limit else { throw PostgresStoreError.auditBacklog }
        }
    }

    /// Before COMMIT: sends the changes' notifications (delivered at commit), all in one statement.
    func finish() throws {
        guard !changes.isEmpty else { return }
        if changes.count == 1 {
            try connection.query("SELECT pg_notify($1, $2)", [.text(channel), .text(changes[0].payload)])
            return
        }
        let payloads = "{" + changes.map { "\"" + $0.payload.replacing("\\", with: "\\\\").replacing("\"", with: "\\\"") + "\"" }
            .joined(separator: ",") + "}"
        // A function scan over the array returns its elements in order: the notifications keep theirs.
        try connection.query("SELECT pg_notify($1, p) FROM unnest($2::text[]) AS p", [.text(channel), .text(payloads)])
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
