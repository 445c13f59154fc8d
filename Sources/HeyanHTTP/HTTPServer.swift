#if canImport(Glibc)
import Glibc
#endif
import CLinux
import HeyanDomain
import Synchronization

/// Limits and timeouts of the HTTP server (design.md "Limits").
public struct HTTPServerSettings: Sendable {
    public var limits = HTTPParserLimits()
    /// Nanoseconds.
    public var handshakeTimeout: UInt64 = 10_000_000_000
    public var idleTimeout: UInt64 = 60_000_000_000
    public var requestTimeout: UInt64 = 30_000_000_000
    public var maxConnections = 10_000
    public var maxPipelinedRequests = 64
    public var maxBufferedOutput = 1 << 20
    /// Lingering close (docs/connections.md): after an answer that refuses a request before its end
    /// was read, the connection reads and discards what the client still sends, so the client is
    /// not reset before it reads the answer — for at most `lingerTimeout` in all, `lingerIdleTimeout`
    /// without input, and `lingerMaxBytes` bytes. Nanoseconds, bytes.
    public var lingerTimeout: UInt64 = 5_000_000_000
    public var lingerIdleTimeout: UInt64 = 2_000_000_000
    public var lingerMaxBytes = 32 << 20
    /// Event-loop threads; 0 means one per core.
    public var loopCount = 0
    public init() {}
}

/// State shared by the connections of one loop (touched only on that loop's thread, except the
/// immutable members).
final class LoopContext {
    let loop: EventLoop
    let settings: HTTPServerSettings
    let metrics: HTTPServerMetrics
    let responder: HTTPResponder
    let log: (@Sendable (String, String, String) -> Void)?
    /// The server's clock: connection deadlines and the `Date` header.
    let clock: any ServiceClock
    private unowned let server: HTTPServer
    /// Scratch space for TLS reads; parsed bytes are copied into the parser.
    let readBuffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 64 * 1024, alignment: 16)
    private(set) var connections: [UInt64: HTTPServerConnection] = [:]
    private var cachedDateSecond: Int64 = -1
    private var cachedDate = ""

    init(loop: EventLoop, server: HTTPServer) {
        self.loop = loop
        self.server = server
        self.settings = server.settings
        self.metrics = server.metrics
        self.responder = server.responder
        self.log = server.log
        self.clock = server.clock
    }

    deinit { readBuffer.deallocate() }

    var isDraining: Bool { server.isDraining }
    var closesAfterResponses: Bool { server.closesAfterResponses }

    func dateHeader() -> String {
        let now = clock.nowSeconds()
        if now != cachedDateSecond {
            cachedDateSecond = now
            cachedDate = HTTPDate.format(unixSeconds: now)
        }
        return cachedDate
    }

    /// Connections this loop accepted (for the spread across loops).
    let acceptedHere = Atomic<Int>(0)

    func accepted(fd: Int32, peer: String) {
        acceptedHere.add(1, ordering: .relaxed)
        let open = metrics.connectionsOpen.add(1, ordering: .relaxed).newValue
        metrics.connectionsAccepted.add(1, ordering: .relaxed)
        guard open <= settings.maxConnections, let tls = try? server.currentTLS.makeSession(fd: fd) else {
            metrics.connectionsOpen.subtract(1, ordering: .relaxed)
            metrics.connectionsRefused.add(1, ordering: .relaxed)
            close(fd)
            return
        }
        let connection = HTTPServerConnection(
            id: server.nextConnectionID(), fd: fd, peer: peer, tls: tls, loopContext: self)
        connections[connection.id] = connection
        do {
            try connection.start()
        } catch {
            connection.close()
        }
    }

    func connectionClosed(_ connection: HTTPServerConnection) {
        if connections.removeValue(forKey: connection.id) != nil {
            metrics.connectionsOpen.subtract(1, ordering: .relaxed)
        }
    }

    func drainAll() {
        for connection in Array(connections.values) { connection.drain() }
    }
}

/// Accepts connections for one loop on that loop's own `SO_REUSEPORT` listening socket.
final class ListenerHandler: EventLoopHandler {
    let socket: ListeningSocket
    unowned let context: LoopContext
    private var active = true

    init(socket: ListeningSocket, context: LoopContext) {
        self.socket = socket
        self.context = context
    }

    func handle(events: UInt32) {
        guard active else { return }
        for _ in 0..<64 {
            guard let (fd, peer) = socket.accept() else { return }
            context.accepted(fd: fd, peer: peer)
        }
    }

    func tick(now: UInt64) {}

    func stopAccepting() {
        guard active else { return }
        active = false
        context.loop.deregister(fd: socket.fd)
    }
}

/// heyan's HTTP/1.1-over-mutual-TLS server.
///
/// Concurrency model: one epoll event loop per core over non-blocking sockets (not a thread per
/// connection), so hundreds or thousands of idle keep-alive connections cost a few kilobytes each
/// and no thread. Each connection belongs to one loop; responders that block (storage, long-polls)
/// answer later through a ``ResponseSink`` from their own threads. See docs/architecture.md.
public final class HTTPServer: @unchecked Sendable {
    // @unchecked: `loops`, `contexts`, `listenerHandlers` and `threads` are written once in
    // `start()` before any loop thread runs and only read afterwards; the TLS context is behind a
    // Mutex.
    let settings: HTTPServerSettings
    let responder: HTTPResponder
    public let metrics: HTTPServerMetrics
    let log: (@Sendable (String, String, String) -> Void)?
    /// Connection deadlines (handshake, idle, request, linger), request times and `Date`.
    let clock: any ServiceClock
    private let tls: Mutex<TLSContext>
    private let draining = Atomic<Bool>(false)
    /// Set by ``closeConnectionsAfterResponses()``: still accepting, but every response says `Connection: close`.
    private let closingConnections = Atomic<Bool>(false)
    private let connectionIDs = Atomic<UInt64>(0)
    private let host: String
    private let requestedPort: Int
    private var sockets: [ListeningSocket] = []
    private var loops: [EventLoop] = []
    private var contexts: [LoopContext] = []
    private var listenerHandlers: [ListenerHandler] = []
    private var threads: [pthread_t] = []
    private let finished = Atomic<Int>(0)

    /// - Parameter log: receives (event, peer, detail) for connection-level events such as a
    ///   failed handshake; called on loop threads.
    /// - Parameter clock: the time connection deadlines are judged by (the system clock but in
    ///   tests). The shutdown grace is real time whatever the clock: it bounds how long a stop takes.
    public init(
        host: String, port: Int, tls: TLSContext, settings: HTTPServerSettings, responder: HTTPResponder,
        metrics: HTTPServerMetrics = HTTPServerMetrics(), clock: any ServiceClock = SystemClock(),
        log: (@Sendable (String, String, String) -> Void)? = nil
    ) {
        self.clock = clock
        self.host = host
        self.requestedPort = port
        self.tls = Mutex(tls)
        self.settings = settings
        self.responder = responder
        self.metrics = metrics
        self.log = log
    }

    var currentTLS: TLSContext { tls.withLock { $0 } }
    var isDraining: Bool { draining.load(ordering: .relaxed) }
    /// Whether responses end their connection (`Connection: close`): draining, or announcing it.
    var closesAfterResponses: Bool { isDraining || closingConnections.load(ordering: .relaxed) }
    func nextConnectionID() -> UInt64 { connectionIDs.add(1, ordering: .relaxed).newValue }

    /// The bound port (after ``start()``).
    public private(set) var port = 0
    /// The event loops (after ``start()``), e.g. for responders that schedule work on them.
    public var eventLoops: [EventLoop] { loops }

    /// Binds, listens and starts the loop threads. Returns the bound port.
    @discardableResult
    public func start() throws -> Int {
        // OpenSSL writes to the socket with write(2): a peer that has gone would raise SIGPIPE and
        // kill the whole process. Like SwiftNIO, the server ignores it and sees EPIPE instead,
        // whatever process hosts it (`heyan serve`, the tests, the demo).
        signal(SIGPIPE, SIG_IGN)
        var count = settings.loopCount
        if count <= 0 { count = max(1, Int(sysconf(Int32(_SC_NPROCESSORS_ONLN)))) }
        sockets = try ListeningSocket.group(host: host, port: requestedPort, count: count)
        port = sockets[0].port
        for (index, socket) in sockets.enumerated() {
            let loop = try EventLoop(index: index, clock: clock)
            let context = LoopContext(loop: loop, server: self)
            let listener = ListenerHandler(socket: socket, context: context)
            try loop.register(fd: socket.fd, events: EPOLLIN.rawValue, handler: listener)
            loops.append(loop)
            contexts.append(context)
            listenerHandlers.append(listener)
        }
        for loop in loops {
            let thread = try startThread(name: "heyan-loop-\(loop.index)") { [self] in
                loop.run()
                finished.add(1, ordering: .releasing)
            }
            threads.append(thread)
        }
        return port
    }

    /// Connections accepted by each loop so far, in loop order.
    public var connectionsAcceptedPerLoop: [Int] { contexts.map { $0.acceptedHere.load(ordering: .relaxed) } }

    /// New connections use `context` from now on; open connections keep theirs.
    public func reloadTLS(_ context: TLSContext) {
        tls.withLock { $0 = context }
    }

    /// The first step of a drain behind a load balancer: the server still accepts and serves, but every
    /// response from now on carries `Connection: close`, so clients leave this node at a request boundary
    /// (and reconnect, through the balancer, to another) instead of having an idle connection closed under
    /// them later. ``shutdown(grace:)`` follows.
    public func closeConnectionsAfterResponses() {
        closingConnections.store(true, ordering: .relaxed)
    }

    /// Graceful stop: refuse new connections, let in-flight requests finish (their responses carry
    /// `Connection: close`), close idle connections, then stop the loops. Waits at most
    /// `grace` seconds before stopping the loops regardless.
    public func shutdown(grace: Double = 10) {
        draining.store(true, ordering: .relaxed)
        for (loop, listener) in zip(loops, listenerHandlers) {
            let bound = LoopBound(listener)
            loop.execute {
                bound.value.stopAccepting()
                bound.value.context.drainAll()
            }
        }
        let real = SystemClock()
        let deadline = real.monotonicNanoseconds() + UInt64(grace * 1e9)
        while metrics.connectionsOpen.load(ordering: .relaxed) > 0 && real.monotonicNanoseconds() < deadline {
            usleep(10_000)
        }
        for loop in loops { loop.stop() }
        while finished.load(ordering: .acquiring) < loops.count { usleep(1_000) }
        for socket in sockets { socket.closeSocket() }
        sockets = []
    }
}

/// Carries a loop-confined object into a closure that runs on that same loop.
struct LoopBound<Value: AnyObject>: @unchecked Sendable {
    // @unchecked: only dereferenced inside `EventLoop.execute` of the loop that owns `value`.
    let value: Value
    init(_ value: Value) { self.value = value }
}
