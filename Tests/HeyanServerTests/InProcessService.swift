#if canImport(Glibc)
import Glibc
#endif
import FoundationEssentials
import HeyanCrypto
import HeyanHTTP
import HeyanServer
import HeyanTestSupport
import Synchronization
import Testing

/// heyan's router and handlers driven in-process: a request value in, the response value out,
/// with no socket and no TLS. The service is the real one (``ServiceRuntime`` with the example
/// departments and catalog, a test PKI's signing key and a fresh SQLite file), built but never
/// started; the caller names the department its client certificate would name.
///
/// For one route's contract (status, headers, body, audit). Flows across connections, TLS and
/// the HTTP layer stay in the end-to-end suites (``RunningService``).
final class InProcessService: @unchecked Sendable {
    let pki: TestPKI
    let configDirectory = TemporaryDirectory(prefix: "heyan-inprocess")
    let runtime: ServiceRuntime
    /// Only named in each request's context; never run.
    private let loop: EventLoop
    private let nextConnection = Atomic<UInt64>(0)

    /// - Parameters:
    ///   - engine: the store engine; PostgreSQL gets a fresh schema on the shared throwaway cluster.
    ///   - auditLogKey: also configure the transparency log (a fresh Ed25519 `log.key`); its
    ///     checkpoints are signed only when the test calls ``publishCheckpoint()``.
    init(engine: Engine = .sqlite, auditLogKey: Bool = false) throws {
        pki = try TestPKI()
        var audit: String?
        if auditLogKey {
            try PrivateKey.generate(.ed25519).write(toFile: configDirectory.file("log.key"))
            audit = #"{"logKey": "log.key", "origin": "localhost/audit/v1", "checkpointIntervalSeconds": 3600}"#
        }
        let settings = try engine.settings()
        runtime = try RunningService.makeRuntime(
            pki: pki, in: configDirectory, database: settings.database, audit: audit, store: settings.store)
        loop = try EventLoop(index: 0)
    }

    /// Signs a checkpoint note of the audit tree now (the service is never started, so nothing
    /// else does).
    func publishCheckpoint() throws {
        let publisher = try #require(runtime.transparencyLog)
        let done = OneResponse()
        publisher.publish { done.put(HTTPResponse(status: 200)) }
        _ = try done.take(timeoutSeconds: 10)
    }

    /// Runs one request from `department` (nil: a certificate naming none) through the service and
    /// returns its response, waiting for a store commit or a long-poll if the route needs one.
    func request(
        _ department: String?, _ method: String, _ target: String, headers: [(String, String)] = [],
        json body: String? = nil, timeoutSeconds: Int = 10
    ) throws -> HTTPResponse {
        var fields = headers
        if body != nil, !fields.contains(where: { $0.0.lowercased() == "content-type" }) {
            fields.append(("Content-Type", "application/json"))
        }
        let request = HTTPRequest(
            method: method, target: target, headers: HTTPHeaders(fields), body: Array((body ?? "").utf8))
        let context = RequestContext(
            department: department, clientSubject: "CN=\(department ?? "anonymous")", remoteAddress: "in-process",
            connectionID: nextConnection.wrappingAdd(1, ordering: .relaxed).newValue,
            receivedAt: runtime.clock.monotonicNanoseconds(), loop: loop)
        let answer = OneResponse()
        runtime.service.respond(to: request, context: context, sink: ResponseSink { answer.put($0) })
        return try answer.take(timeoutSeconds: timeoutSeconds)
    }

    /// The log lines written so far.
    func logLines() throws -> [String] {
        runtime.log.flush()
        return String(decoding: try readFile(configDirectory.file("heyan.log")), as: UTF8.self)
            .split(separator: "\n").map(String.init)
    }
}

/// The one response of an in-process request: put once by the sink (any thread), taken by the test.
private final class OneResponse: @unchecked Sendable {
    // @unchecked: `semaphore` is only used through sem_post/sem_timedwait, which are thread-safe.
    private let response = Mutex<[HTTPResponse]>([])
    private let semaphore = UnsafeMutablePointer<sem_t>.allocate(capacity: 1)

    init() { sem_init(semaphore, 0, 0) }

    deinit {
        sem_destroy(semaphore)
        semaphore.deallocate()
    }

    func put(_ value: HTTPResponse) {
        response.withLock { $0.append(value) }
        sem_post(semaphore)
    }

    func take(timeoutSeconds: Int) throws -> HTTPResponse {
        var deadline = timespec()
        clock_gettime(CLOCK_REALTIME, &deadline)
        deadline.tv_sec += timeoutSeconds
        while sem_timedwait(semaphore, &deadline) != 0 {
            guard errno == EINTR else { throw TestFailure("no response within \(timeoutSeconds) s") }
        }
        let responses = response.withLock { $0 }
        #expect(responses.count == 1, "a call answers exactly once")
        return responses[0]
    }
}

extension HTTPResponse {
    var bodyText: String { String(decoding: body, as: UTF8.self) }

    /// The body decoded as `T`.
    func decode<T: Decodable>(_ type: T.Type = T.self) throws -> T {
        try JSONDecoder().decode(T.self, from: Data(body))
    }
}
