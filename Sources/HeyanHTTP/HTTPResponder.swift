import Synchronization

/// What the HTTP layer knows about the caller of one request.
public struct RequestContext: Sendable {
    /// The department code from the client certificate's one SAN URI `urn:heyan:dept:<code>`; nil
    /// when it has none or several (``Certificate/departmentCode``).
    /// Not yet checked against the department directory: that is the server's job.
    public let department: String?
    /// The client certificate's subject (RFC 2253), for logs.
    public let clientSubject: String
    /// The clerk IDs the client certificate's SAN URIs `urn:heyan:clerk:<id>` name
    /// (``Certificate/clerkIDs``): empty for a department's own certificate, one for a clerk's.
    /// Not yet checked: that is the server's job.
    public let clerkIDs: [String]
    /// The client certificate's commonName (``Certificate/commonName``): a clerk's name.
    public let clientName: String?
    public let remoteAddress: String
    public let connectionID: UInt64
    /// The server clock's ``ServiceClock/monotonicNanoseconds()`` when the request was parsed.
    public let receivedAt: UInt64
    /// The loop that owns the connection; a responder may use it for timers and long-polls.
    public let loop: EventLoop

    /// A request's context; the server builds it per request, a test harness for a request it
    /// hands to a responder directly (no socket).
    public init(
        department: String?, clientSubject: String, remoteAddress: String, connectionID: UInt64, receivedAt: UInt64,
        loop: EventLoop, clerkIDs: [String] = [], clientName: String? = nil
    ) {
        self.department = department
        self.clientSubject = clientSubject
        self.clerkIDs = clerkIDs
        self.clientName = clientName
        self.remoteAddress = remoteAddress
        self.connectionID = connectionID
        self.receivedAt = receivedAt
        self.loop = loop
    }
}

/// Answers HTTP requests. Called on the connection's loop thread; may answer at once or later,
/// from any thread, through the ``ResponseSink`` (exactly once).
public protocol HTTPResponder: Sendable {
    func respond(to request: HTTPRequest, context: RequestContext, sink: ResponseSink)
}

/// Delivers one response to whoever asked: the connection, in pipeline order, or (in tests) the
/// in-process caller.
public struct ResponseSink: Sendable {
    private let deliver: @Sendable (HTTPResponse) -> Void
    /// Nil: run work where it is asked for (an in-process caller has no loop).
    private let loop: EventLoop?

    /// A sink that hands the response to `deliver` (an in-process caller, a test harness).
    public init(_ deliver: @escaping @Sendable (HTTPResponse) -> Void) {
        self.deliver = deliver
        loop = nil
    }

    /// The sink of the request `sequence` on `connection`.
    init(connection: HTTPServerConnection, sequence: UInt64, loop: EventLoop) {
        let bound = ConnectionOnLoop(connection: connection)
        self.loop = loop
        deliver = { response in
            if loop.inLoopThread {
                bound.connection.deliver(sequence: sequence, response: response)
            } else {
                loop.execute { bound.connection.deliver(sequence: sequence, response: response) }
            }
        }
    }

    /// Sends `response`. Call exactly once, from any thread.
    public func send(_ response: HTTPResponse) { deliver(response) }

    /// Runs `work` on the thread of the connection's loop: at once when called there, else soon
    /// (the same hop ``send(_:)`` makes). A responder completed on another thread (the store's
    /// writer) moves the rest of its work — the response's body, its accounting — off that thread
    /// this way. A sink made with ``init(_:)`` runs `work` at once, on the calling thread.
    public func onConnectionThread(_ work: @escaping @Sendable () -> Void) {
        guard let loop, !loop.inLoopThread else { return work() }
        loop.execute(work)
    }
}

/// A connection carried to its loop's thread.
private struct ConnectionOnLoop: @unchecked Sendable {
    // @unchecked: `connection` is only touched on its loop's thread; the sink hops there when
    // called from elsewhere.
    let connection: HTTPServerConnection
}

/// Counters the HTTP layer keeps for `/metrics`.
public final class HTTPServerMetrics: Sendable {
    public let connectionsAccepted = Atomic<Int>(0)
    public let connectionsOpen = Atomic<Int>(0)
    public let connectionsRefused = Atomic<Int>(0)
    public let handshakesCompleted = Atomic<Int>(0)
    public let handshakesResumed = Atomic<Int>(0)
    public let handshakesFailed = Atomic<Int>(0)
    public let handshakesTimedOut = Atomic<Int>(0)
    public let requestsTimedOut = Atomic<Int>(0)
    public let parseErrors = Atomic<Int>(0)
    /// Stays 0: the periodic rescue of stalled connections it counted is gone, since a connection
    /// arms epoll from its state machine after every event (docs/connections.md, "The 100-continue
    /// stall"). Kept for the readers of this counter.
    public let stallsRecovered = Atomic<Int>(0)
    /// Connections that lingered after refusing a request (lingering close), and those of them
    /// closed by a bound (time, idle time or bytes) rather than by the client.
    public let lingeringCloses = Atomic<Int>(0)
    public let lingerBoundsReached = Atomic<Int>(0)
    public init() {}
}
