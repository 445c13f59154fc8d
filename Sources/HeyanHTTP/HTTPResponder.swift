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
    /// ``monotonicNanoseconds()`` when the request was parsed.
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
    /// Connections the tick found with buffered plaintext or output waiting on a read (see
    /// `HTTPServerConnection.tick`).
    public let stallsRecovered = Atomic<Int>(0)
    public init() {}
}
