#if canImport(Glibc)
import Glibc
#endif
import HeyanDomain
import HeyanHTTP
import HeyanThreads
import Synchronization

/// Runs a ``BenchPlan``: seeds what the scenario needs, starts one ``BenchWorker`` per thread at
/// the same instant, waits for them and merges what they measured into a ``BenchReport``.
public enum BenchRunner {
    public struct Failure: Error, CustomStringConvertible {
        public let description: String
        public init(_ description: String) { self.description = description }
    }

    /// `progress` receives one-line notes (seeding) for a human; pass nil to stay silent.
    public static func run(_ plan: BenchPlan, progress: ((String) -> Void)? = nil) throws -> BenchReport {
        guard plan.connections > 0, plan.threads > 0, plan.threads <= plan.connections else {
            throw Failure("need at least one connection per thread")
        }
        guard plan.duration > 0, plan.warmup >= 0, plan.timeout > 0 else { throw Failure("durations must be positive") }
        if let rate = plan.rate, !(rate > 0) { throw Failure("--rate must be positive") }
        if plan.scenario.needsOwner && plan.owner == nil { throw Failure("\(plan.scenario.rawValue) needs an owner identity") }
        signal(SIGPIPE, SIG_IGN)
        raiseDescriptorLimit(to: UInt64(plan.connections) * 2 + 64)

        let requester = try BenchTLSContext(certificate: plan.identity.certificate, key: plan.identity.key, trust: plan.trust)
        let owner = try plan.owner.map { try BenchTLSContext(certificate: $0.certificate, key: $0.key, trust: plan.trust) }
        let contexts = BenchContexts(requester: requester, owner: owner)

        let subjects: SubjectPool?
        if plan.scenario == .dataSharing || plan.scenario == .queue {
            guard plan.subjects > 0 && plan.subjects <= SubjectPool.maximum else {
                throw Failure("--subjects must be 1-\(SubjectPool.maximum)")
            }
            subjects = SubjectPool(count: plan.subjects)
        } else {
            subjects = nil
        }
        if plan.scenario == .dataSharing, !plan.skipSeeding, let subjects, let owner = plan.owner {
            let started = SystemClock().monotonicNanoseconds()
            try seed(subjects, plan: plan, owner: owner)
            progress?("seeded \(subjects.count) subjects in \(Double(SystemClock().monotonicNanoseconds() - started) / 1e9) s")
        }

        // Every worker builds its connections on its own thread, then starts at this instant.
        let runStart = SystemClock().monotonicNanoseconds() + 100_000_000
        let results = try onThreads(plan.threads) { index -> Result<RunAccounting, Failure> in
            do {
                let worker = try BenchWorker(index: index, plan: plan, contexts: contexts, subjects: subjects, runStart: runStart)
                return .success(worker.run())
            } catch {
                return .failure(Failure("worker \(index): \(error)"))
            }
        }
        var merged: RunAccounting?
        for result in results {
            let accounting = try result.get()
            if merged == nil { merged = accounting } else { merged!.merge(accounting) }
        }
        return BenchReport(plan: plan, accounting: merged!)
    }

    /// Writes `PSB-NO-CRIMINAL-RECORD` records for every subject as the owner, 10,000 per
    /// `POST /v1/records:batch` (blocking; before the measurement starts).
    static func seed(_ subjects: SubjectPool, plan: BenchPlan, owner: BenchIdentity) throws {
        let context = try TLSClientContext(certificate: owner.certificate, key: owner.key, trust: plan.trust)
        let connection = try TLSClientConnection(host: plan.host, port: plan.port, context: context, serverName: plan.serverName)
        var start = 0
        while start < subjects.count {
            let end = min(subjects.count, start + 10_000)
            var body = Array(#"{"records":["#.utf8)
            body.reserveCapacity((end - start) * 110 + 16)
            for index in start..<end {
                if index > start { body.append(44) }
                body += #"{"certificateType":"PSB-NO-CRIMINAL-RECORD","subjectId":""#.utf8
                body += subjects.bytes[(index * SubjectPool.idLength)..<((index + 1) * SubjectPool.idLength)]
                body += #"","claims":{"hasCriminalRecord":false}}"#.utf8
            }
            body += "]}".utf8
            let response = try connection.request(
                "POST", "/v1/records:batch", headers: [("Content-Type", "application/json")], body: body)
            guard response.status == 200 else {
                throw Failure("seeding subjects \(start)..<\(end): status \(response.status): \(response.bodyText.prefix(300))")
            }
            start = end
        }
    }

    /// Runs `body(0..<count)` on `count` threads and returns their results in order.
    static func onThreads<Value: Sendable>(_ count: Int, _ body: @escaping @Sendable (Int) -> Value) throws -> [Value] {
        let results = ThreadResults<Value>(count: count)
        var threads: [pthread_t] = []
        for index in 0..<count {
            do {
                threads.append(try startJoinableThread(name: "heyan-bench-\(index)") { results.set(index, body(index)) })
            } catch {
                for thread in threads { pthread_join(thread, nil) }
                throw error
            }
        }
        for thread in threads { pthread_join(thread, nil) }
        return results.values()
    }

    /// A POSIX thread that must be joined (``startThread(name:_:)`` in HeyanHTTP detaches).
    static func startJoinableThread(name: String, _ body: @escaping @Sendable () -> Void) throws -> pthread_t {
        do {
            return try startNamedThread(name: name, detached: false, body)
        } catch {
            throw SystemError(code: "bench.thread", call: "pthread_create", errnoValue: error.errorNumber)
        }
    }

    /// Raises the soft limit on open files (1,000 idle connections need more than 1,024).
    static func raiseDescriptorLimit(to wanted: UInt64) {
        var limit = rlimit()
        guard getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit) == 0, limit.rlim_cur < wanted else { return }
        limit.rlim_cur = min(rlim_t(wanted), limit.rlim_max)
        _ = setrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit)
    }
}

/// The results of ``BenchRunner/onThreads(_:_:)``, one slot per thread.
private final class ThreadResults<Value: Sendable>: Sendable {
    private let slots: Mutex<[Value?]>
    init(count: Int) { slots = Mutex([Value?](repeating: nil, count: count)) }
    func set(_ index: Int, _ value: Value) { slots.withLock { $0[index] = value } }
    func values() -> [Value] { slots.withLock { $0.map { $0! } } }
}
