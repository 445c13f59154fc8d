import Synchronization

/// What the HTTP layer knows about the caller of one request.
public struct RequestContext: Sendable {
    /// The department code from the client certificate's one SAN URI `urn:heyan:dept:<code>`; nil
    /// when it has none or several (``Certificate/departmentCode``).
    /// Not yet checked against the department directory: that is the server's job.
    public let department: String?
    /// The client certificate's subject (RFC 2253), for logs.
    public let clientSubject: String
    public let remoteAddress: String
    public let connectionID: UInt64
    /// The server clock's ``ServiceClock/monotonicNanoseconds()`` when the request was parsed.
    public let receivedAt: UInt64
    /// The loop that owns the connection; a responder may use it for timers and long-polls.
    public let loop: EventLoop
}

/// Answers HTTP requests. Called on the connection's loop thread; may answer at once or later,
/// from any thread, through the ``ResponseSink`` (exactly once).
public protocol HTTPResponder: Sendable {
    func respond(to request: HTTPRequest, context: RequestContext, sink: ResponseSink)
}

/// Delivers one response to the connection that asked, in pipeline order.
public struct ResponseSink: @unchecked Sendable {
    // @unchecked: `connection` is only touched on `loop`'s thread; `send` hops there when called
    // from elsewhere.
    let connection: HTTPServerConnection
    let sequence: UInt64
    let loop: EventLoop

    /// Sends `response`. Call exactly once, from any thread.
    public func send(_ response: HTTPResponse) {
        if loop.inLoopThread {
            connection.deliver(sequence: sequence, response: response)
        } else {
            loop.execute { self.connection.deliver(sequence: self.sequence, response: response) }
        }
    }
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
