import CLinux
import CSQLite
import Glibc
import HeyanDomain
import Synchronization

/// What a write job sees inside its batch's transaction: the writer connection, the audit chain,
/// random bytes, and where to report what changed.
///
/// Only valid during the job's `body`; never keep it.
final class WriteSession {
    let connection: SQLiteConnection
    let random: RandomSource
    /// Ids of stored JWS protected headers (attestations keep their header by reference).
    let jwsHeaders: JWSHeaderTable
    private let chain: AuditChain
    /// Changes the running job reported; kept only if its savepoint is released.
    fileprivate(set) var changes: [StoreChange] = []

    fileprivate init(connection: SQLiteConnection, chain: AuditChain, random: RandomSource, jwsHeaders: JWSHeaderTable) {
        self.connection = connection
        self.chain = chain
        self.random = random
        self.jwsHeaders = jwsHeaders
    }

    /// Appends `event` at `time` to the audit log, chained to the current head.
    @discardableResult
    func appendAudit(_ event: AuditEvent, at time: Millis) throws -> AuditEntry {
        try chain.append(event, at: time, salt: try random.bytes(32), on: connection)
    }

    /// Appends an event encoded before the job reached the writer (``EncodedAuditEvent``).
    @discardableResult
    func appendAudit(_ encoded: EncodedAuditEvent) throws -> AuditEntry {
        try chain.append(encoded, salt: try random.bytes(32), on: connection)
    }

    /// The audit head including this transaction's entries so far.
    var auditHead: AuditHead { chain.head }

    /// Reports a change; observers hear of it after the commit.
    func changed(_ change: StoreChange) {
        changes.append(change)
    }

    fileprivate func startJob() -> AuditHead {
        changes.removeAll(keepingCapacity: true)
        return chain.head
    }

    fileprivate func rollBackJob(to head: AuditHead) {
        changes.removeAll(keepingCapacity: true)
        chain.head = head
        jwsHeaders.forget()
    }
}

@available(*, unavailable)
extension WriteSession: Sendable {}

/// Counters of the group committer, for tests and `/metrics`.
public struct GroupCommitStatistics: Sendable, Equatable {
    /// Batches that ended without a batch failure: committed, or (one job that threw, alone in its
    /// batch) rolled back with nothing else to keep.
    public var commits: Int
    /// Jobs of those batches (succeeded, or rolled back alone: to their savepoint, or with the
    /// batch they were alone in).
    public var jobs: Int
    /// Batches whose BEGIN or COMMIT failed (every job of the batch failed).
    public var failedBatches: Int
}

/// A job queued for the writer thread.
private protocol WriteJob: AnyObject, Sendable {
    /// Runs the job's body inside its savepoint; `false` when the body threw (the error is kept).
    func run(in session: WriteSession) -> Bool
    /// The error the body threw, when ``run(in:)`` returned `false`.
    var failure: (any Error)? { get }
    /// Calls the completion: with the body's result, or `batchFailure` when the batch did not commit.
    func finish(batchFailure: (any Error)?)
}

/// `@unchecked Sendable`: `outcome` is written by the writer thread in `run` and read by the same
/// thread in `finish`; the job reached that thread through the queue's mutex.
private final class TypedWriteJob<Value: Sendable>: WriteJob, @unchecked Sendable {
    private let body: @Sendable (WriteSession) throws -> Value
    private let completion: StoreCompletion<Value>
    private var outcome: Result<Value, any Error>?

    init(body: @escaping @Sendable (WriteSession) throws -> Value, completion: @escaping StoreCompletion<Value>) {
        self.body = body
        self.completion = completion
    }

    func run(in session: WriteSession) -> Bool {
        do {
            outcome = .success(try body(session))
            return true
        } catch {
            outcome = .failure(error)
            return false
        }
    }

    var failure: (any Error)? {
        if case .failure(let error) = outcome { return error }
        return nil
    }

    func finish(batchFailure: (any Error)?) {
        if let batchFailure {
            completion(.failure(batchFailure))
        } else {
            completion(outcome ?? .failure(GroupCommitWriter.closedError))
        }
    }
}

/// The single writer of a store: one dedicated thread that owns the writer connection and commits
/// queued jobs in groups.
///
/// The thread takes every job waiting (up to ``maximumBatch``), runs `BEGIN IMMEDIATE`, each job,
/// then `COMMIT`, and only then calls the change observers and the jobs' completions — nothing is
/// acknowledged before it is durable (WAL, `synchronous=FULL`). A job that throws gets its own
/// error and leaves nothing behind: the batch is rolled back and run again with each job in its
/// own `SAVEPOINT`, so the failing one is rolled back alone (``run(_:savepoints:in:changes:)``).
/// When BEGIN or COMMIT fails, every job of the batch fails. There is no artificial delay: while
/// one batch commits (its fsync), new jobs queue up and form the next batch, so the batch size
/// follows the load by itself.
///
/// `@unchecked Sendable`: the mutable state is either behind `queue` (a `Mutex`), atomic, or
/// used only on the writer thread (`chain`, `random`, reached only from `runLoop`).
final class GroupCommitWriter: @unchecked Sendable {
    /// Most jobs in one transaction, bounding the latency one commit adds for the first of them.
    let maximumBatch: Int

    /// The batch's own statements, prepared once on the writer connection.
    private enum Statement {
        static let begin = StatementKey("BEGIN IMMEDIATE")
        static let commit = StatementKey("COMMIT")
        static let rollback = StatementKey("ROLLBACK")
        static let savepoint = StatementKey("SAVEPOINT heyan_job")
        static let release = StatementKey("RELEASE heyan_job")
        static let rollbackToSavepoint = StatementKey("ROLLBACK TO heyan_job")
    }

    static let closedError = SQLiteError(
        code: "sqlite.closed", resultCode: SQLITE_MISUSE, message: "the store is closed")

    private struct Queue {
        var jobs: [any WriteJob] = []
        var writerSleeping = false
        var stopping = false
        /// Jobs the writer finished (completions called), for the next ``submit(_:completion:)`` to
        /// release: freeing what a job holds — its captured request, rows and completion chain,
        /// ~25,000 instructions per data-sharing verification — is not serial work, so it happens
        /// on a submitter's thread instead of the writer's.
        var retired: [any WriteJob] = []
    }

    private let store: SQLiteStore
    private let queue = Mutex(Queue())
    private let wakeup: UnsafeMutablePointer<sem_t>
    private let observers = Mutex<[@Sendable (StoreChange) -> Void]>([])
    private let batchObservers = Mutex<[@Sendable (GroupCommitBatch) -> Void]>([])
    private let commits = Atomic<Int>(0)
    private let jobsRun = Atomic<Int>(0)
    private let failedBatches = Atomic<Int>(0)
    /// The transient failure (``StoreFailure/isTransient``) of the last batch that had one, until
    /// a later batch commits without one: what `/readyz` reports (docs/storage.md, "Readiness").
    private let transientFailure = Mutex<(any Error)?>(nil)
    private let chain: AuditChain
    private let random: RandomSource
    private let jwsHeaders = JWSHeaderTable()
    /// Times each batch (``GroupCommitBatch/seconds``): the real duration of the writer's work,
    /// whatever clock the service runs on (a manual clock in tests would make it 0).
    private let clock = SystemClock()
    private var thread = pthread_t()
    private let joined = Atomic<Bool>(false)
    /// `false` after a failed batch could not reload the head: the next batch reloads it first.
    private var headIsKnown = true

    /// Loads the audit head from `store` and starts the writer thread.
    init(store: SQLiteStore, hash: @escaping @Sendable ([UInt8]) -> [UInt8], maximumBatch: Int = 2000) throws {
        self.store = store
        self.maximumBatch = maximumBatch
        let facetChunk = store.configuration.auditFacetChunk
        self.chain = try store.withWriterConnection { try AuditChain(connection: $0, hash: hash, facetChunk: facetChunk) }
        self.random = try RandomSource()
        wakeup = .allocate(capacity: 1)
        // On a throw from here on, every stored property is set, so `deinit` runs and frees `wakeup`.
        guard sem_init(wakeup, 0, 0) == 0 else {
            throw SQLiteError(code: "sqlite.thread", resultCode: SQLITE_ERROR, message: "sem_init failed: errno \(errno)")
        }
        // The thread holds the writer until it exits, so `deinit` cannot run under its feet.
        thread = try startStorageThread(name: "heyan-writer", what: "the writer thread") { [self] in runLoop() }
    }

    deinit {
        sem_destroy(wakeup)
        wakeup.deallocate()
    }

    /// Queues `body` for the next batch; `completion` runs on the writer thread after the batch
    /// committed (or failed).
    func submit<Value: Sendable>(
        _ body: @escaping @Sendable (WriteSession) throws -> Value, completion: @escaping StoreCompletion<Value>
    ) {
        let job = TypedWriteJob(body: body, completion: completion)
        // Released when this function returns, outside the lock (``Queue/retired``).
        var retired: [any WriteJob] = []
        let (accepted, wake) = queue.withLock { queue -> (Bool, Bool) in
            swap(&retired, &queue.retired)
            guard !queue.stopping else { return (false, false) }
            queue.jobs.append(job)
            guard queue.writerSleeping else { return (true, false) }
            queue.writerSleeping = false
            return (true, true)
        }
        _ = retired
        guard accepted else {
            completion(.failure(GroupCommitWriter.closedError))
            return
        }
        if wake { sem_post(wakeup) }
    }

    /// Adds an observer called after each commit, once per distinct change of the batch.
    func observe(_ observer: @escaping @Sendable (StoreChange) -> Void) {
        observers.withLock { $0.append(observer) }
    }

    /// Adds an observer called on the writer thread after each batch, before its jobs' completions
    /// (so a caller that sees its answer finds its batch counted). Keep it short: it delays them.
    func observeBatches(_ observer: @escaping @Sendable (GroupCommitBatch) -> Void) {
        batchObservers.withLock { $0.append(observer) }
    }

    var statistics: GroupCommitStatistics {
        GroupCommitStatistics(
            commits: commits.load(ordering: .relaxed), jobs: jobsRun.load(ordering: .relaxed),
            failedBatches: failedBatches.load(ordering: .relaxed))
    }

    /// The transient failure of the last batch that had one (its BEGIN or COMMIT failed, or a job
    /// failed with a full disk, an I/O error, a lock timeout), until a batch commits without one.
    var lastTransientFailure: (any Error)? { transientFailure.withLock { $0 } }

    /// Lets the queued jobs finish, then stops the thread; later submits fail with `sqlite.closed`.
    /// Waits for the thread unless called on it (from a completion), where it only asks it to stop.
    func shutdown() {
        let wake = queue.withLock { queue -> Bool in
            queue.stopping = true
            defer { queue.writerSleeping = false }
            return queue.writerSleeping
        }
        if wake { sem_post(wakeup) }
        if pthread_equal(pthread_self(), thread) != 0 {
            if !joined.exchange(true, ordering: .acquiringAndReleasing) { pthread_detach(thread) }
            return
        }
        if !joined.exchange(true, ordering: .acquiringAndReleasing) {
            pthread_join(thread, nil)
        }
    }

    // MARK: - The writer thread

    private func runLoop() {
        var finished: [any WriteJob] = []
        while let batch = nextBatch(retiring: &finished) {
            commit(batch)
            finished = batch
        }
        queue.withLock { $0.retired.removeAll() }
        // The connection stays with the store; nothing to release here.
    }

    /// Every queued job (up to ``maximumBatch``); sleeps while there is none; `nil` once stopping
    /// and drained. Hands `finished` (the last batch, its completions called) to ``Queue/retired``.
    private func nextBatch(retiring finished: inout [any WriteJob]) -> [any WriteJob]? {
        while true {
            let (batch, stop) = queue.withLock { queue -> ([any WriteJob], Bool) in
                if !finished.isEmpty {
                    if queue.retired.isEmpty {
                        swap(&queue.retired, &finished)
                    } else {
                        queue.retired.append(contentsOf: finished)
                        finished.removeAll()
                    }
                }
                if queue.jobs.isEmpty {
                    if queue.stopping { return ([], true) }
                    queue.writerSleeping = true
                    return ([], false)
                }
                if queue.jobs.count <= maximumBatch {
                    var taken: [any WriteJob] = []
                    swap(&taken, &queue.jobs)
                    return (taken, false)
                }
                let taken = Array(queue.jobs[..<maximumBatch])
                queue.jobs.removeFirst(maximumBatch)
                return (taken, false)
            }
            if stop { return nil }
            if !batch.isEmpty { return batch }
            while sem_wait(wakeup) != 0 && errno == EINTR {}
        }
    }

    /// Runs `batch` in a new `BEGIN IMMEDIATE` transaction, leaving it open, and collects the changes
    /// of the jobs that succeeded (each once) into `changes`.
    ///
    /// With `savepoints`, each job runs in `SAVEPOINT heyan_job`; one that throws is rolled back
    /// alone and the rest run on: returns `true`. Without, the jobs run straight in the transaction
    /// and the first that throws stops the batch: returns `false`, the transaction still open with
    /// that job's partial writes, for the caller to roll back. A savepoint costs SQLite a copy of
    /// every page the job touches into its in-memory sub-journal (~75,000 instructions per
    /// data-sharing verification, docs/performance.md), so the writer runs each batch without them
    /// first and pays for them only in a batch where a job fails.
    ///
    /// Throws when SQLite rolled the whole transaction back by itself (SQLITE_FULL, SQLITE_IOERR):
    /// then the earlier jobs are gone too and the batch fails.
    private func run(
        _ batch: [any WriteJob], savepoints: Bool, in session: WriteSession, changes: inout [StoreChange]
    ) throws -> Bool {
        let connection = session.connection
        var seen = Set<StoreChange>()
        try connection.cachedStatement(Statement.begin).run()
        for job in batch {
            if savepoints { try connection.cachedStatement(Statement.savepoint).run() }
            let before = session.startJob()
            if job.run(in: session) {
                if savepoints { try connection.cachedStatement(Statement.release).run() }
                for change in session.changes where seen.insert(change).inserted {
                    changes.append(change)
                }
                continue
            }
            guard connection.isInTransaction else { throw job.failure ?? GroupCommitWriter.closedError }
            guard savepoints else { return false }
            try connection.resetCachedStatements()
            try connection.cachedStatement(Statement.rollbackToSavepoint).run()
            try connection.cachedStatement(Statement.release).run()
            session.rollBackJob(to: before)
        }
        return true
    }

    private func commit(_ batch: [any WriteJob]) {
        let started = clock.monotonicNanoseconds()
        var changes: [StoreChange] = []
        var batchFailure: (any Error)?
        do {
            try store.withWriterConnection { connection in
                let session = WriteSession(connection: connection, chain: chain, random: random, jwsHeaders: jwsHeaders)
                if !headIsKnown {
                    try chain.reload(connection)
                    headIsKnown = true
                }
                do {
                    let start = chain.head
                    var jobsDone = try run(batch, savepoints: false, in: session, changes: &changes)
                    if !jobsDone {
                        // A job threw, and its partial writes share the transaction with the other
                        // jobs': undo it all, then run the batch again with a savepoint per job.
                        try connection.resetCachedStatements()
                        try connection.cachedStatement(Statement.rollback).run()
                        session.rollBackJob(to: start)
                        changes.removeAll()
                        if batch.count > 1 {
                            jobsDone = try run(batch, savepoints: true, in: session, changes: &changes)
                        }
                    }
                    if jobsDone {
                        try chain.saveTreeState(on: connection)
                        try chain.indexFacets(on: connection)
                        try connection.resetCachedStatements()
                        try connection.cachedStatement(Statement.commit).run()
                    }
                } catch {
                    batchFailure = error
                    jwsHeaders.forget()
                    if connection.isInTransaction {
                        try? connection.resetCachedStatements()
                        try? connection.execute("ROLLBACK")
                    }
                    do {
                        try chain.reload(connection)
                    } catch {
                        // The next batch tries again before it appends anything.
                        headIsKnown = false
                    }
                }
                try connection.resetCachedStatements()
            }
        } catch {
            // The head could not be reloaded before the batch began: nothing was written.
            batchFailure = batchFailure ?? error
        }
        let batchObservers = batchObservers.withLock { $0 }
        if !batchObservers.isEmpty {
            let observed = GroupCommitBatch(
                jobs: batch.count, seconds: Double(clock.monotonicNanoseconds() &- started) / 1e9, committed: batchFailure == nil)
            for observer in batchObservers { observer(observed) }
        }
        if batchFailure == nil {
            commits.add(1, ordering: .relaxed)
            jobsRun.add(batch.count, ordering: .relaxed)
        } else {
            failedBatches.add(1, ordering: .relaxed)
        }
        // Readiness: a transient failure anywhere in the batch marks the store as unable to commit;
        // a batch that committed without one marks it able again.
        let transient =
            batchFailure.flatMap { $0.isTransientStoreFailure ? $0 : nil }
            ?? batch.lazy.compactMap { $0.failure }.first { $0.isTransientStoreFailure }
        if let transient {
            transientFailure.withLock { $0 = transient }
        } else if batchFailure == nil {
            transientFailure.withLock { $0 = nil }
        }
        // Observers first, so a caller that sees its completion finds the change already announced.
        if batchFailure == nil, !changes.isEmpty {
            let observers = observers.withLock { $0 }
            for change in changes {
                for observer in observers { observer(change) }
            }
        }
        for job in batch {
            job.finish(batchFailure: batchFailure)
        }
    }
}
