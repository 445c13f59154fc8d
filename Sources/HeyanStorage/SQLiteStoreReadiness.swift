import CSQLite
import Glibc
import HeyanDomain
import Synchronization

/// Runs `/readyz` probe transactions one at a time and not more than once per
/// ``minimumInterval``; callers arriving while one runs get its outcome.
final class ReadinessProbe: Sendable {
    /// The least time between the starts of two probes.
    static let minimumInterval: UInt64 = 1_000_000_000

    private struct State {
        var running = false
        var waiting: [@Sendable (StoreReadiness) -> Void] = []
        /// Monotonic nanoseconds when the last probe started (0: never).
        var lastStart: UInt64 = 0
    }

    private let state = Mutex(State())

    /// Starts `probe` (which must call its argument once, from any thread) unless one is running,
    /// in which case `completion` waits for that one; or, within ``minimumInterval`` of the last
    /// start, answers `recent()` at once.
    func run(
        now: UInt64, recent: () -> StoreReadiness, completion: @escaping @Sendable (StoreReadiness) -> Void,
        probe: (@escaping @Sendable (StoreReadiness) -> Void) -> Void
    ) {
        enum Decision { case wait, answer, start }
        let decision = state.withLock { state -> Decision in
            if state.running {
                state.waiting.append(completion)
                return .wait
            }
            if state.lastStart != 0, now &- state.lastStart < Self.minimumInterval { return .answer }
            state.running = true
            state.lastStart = now
            state.waiting = [completion]
            return .start
        }
        switch decision {
        case .wait: return
        case .answer: return completion(recent())
        case .start:
            probe { [self] outcome in
                let waiting = state.withLock { state in
                    state.running = false
                    defer { state.waiting = [] }
                    return state.waiting
                }
                for completion in waiting { completion(outcome) }
            }
        }
    }
}

extension SQLiteVerificationStore: StoreReadinessChecking {
    /// The readiness `/readyz` reports (docs/storage.md, "Readiness"), in this order:
    ///
    /// 1. the filesystem holding the database has at least `minimumFreeBytes` free (`statvfs`,
    ///    space available to unprivileged users); otherwise not ready, without touching the store;
    /// 2. no batch has failed transiently since the last batch that committed cleanly: ready;
    /// 3. otherwise a probe transaction (one `service_meta` row, committed and fsynced like any
    ///    write) goes through the group-commit writer: ready when it commits, which also clears
    ///    the failure for everyone.
    public func checkReadiness(minimumFreeBytes: Int64, completion: @escaping @Sendable (StoreReadiness) -> Void) {
        if let free = freeBytes(), free < minimumFreeBytes {
            return completion(
                .notReady(
                    "the filesystem holding the database has \(free) bytes free, less than the \(minimumFreeBytes) "
                        + "bytes of limits.minimumFreeDiskBytes"))
        }
        guard writer.lastTransientFailure != nil else { return completion(.ready) }
        readinessProbe.run(
            now: clock.monotonicNanoseconds(),
            recent: { [writer] in
                writer.lastTransientFailure.map { .notReady(Self.summary(of: $0)) } ?? .ready
            }, completion: completion
        ) { finish in
            let now = clock.now()
            writer.submit(
                { session in
                    try session.connection.execute(
                        "INSERT INTO service_meta (key, value) VALUES (?, ?) "
                            + "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                        arguments: [.text(ServiceMetaKey.readinessProbeAt), .text(Timestamp.rfc3339(now))])
                },
                completion: { result in
                    switch result {
                    case .success: finish(.ready)
                    case .failure(let error): finish(.notReady(Self.summary(of: error)))
                    }
                })
        }
    }

    /// The last transient commit failure, if the store has not committed cleanly since; no probe.
    public var lastTransientFailure: (any Error)? { writer.lastTransientFailure }

    /// Bytes available to unprivileged users on the filesystem holding the database; `nil` when
    /// `statvfs` fails (then free space is not judged).
    func freeBytes() -> Int64? {
        let path = database.path
        let directory: String
        if let slash = path.lastIndex(of: "/") {
            directory = slash == path.startIndex ? "/" : String(path[..<slash])
        } else {
            directory = "."
        }
        var status = statvfs()
        guard statvfs(directory, &status) == 0 else { return nil }
        let bytes = UInt64(status.f_bavail).multipliedReportingOverflow(by: UInt64(status.f_frsize))
        return bytes.overflow || bytes.partialValue > UInt64(Int64.max) ? Int64.max : Int64(bytes.partialValue)
    }

    /// A sentence for `/readyz` that names the kind of failure without SQL or paths.
    static func summary(of error: any Error) -> String {
        guard let error = error as? SQLiteError else { return "the last commit failed" }
        if error.code == "sqlite.closed" { return "the store is closing" }
        switch error.resultCode {
        case SQLITE_FULL: return "the disk holding the database is full: the last commit failed"
        case SQLITE_IOERR, SQLITE_CANTOPEN: return "an I/O error stopped the last commit"
        case SQLITE_BUSY, SQLITE_LOCKED, SQLITE_PROTOCOL:
            return "the database was locked by another connection past the busy timeout"
        case SQLITE_NOMEM: return "SQLite ran out of memory in the last commit"
        default: return "the last commit failed (\(error.code))"
        }
    }
}
