/// The life of one server connection as a value: handshake, serving requests in pipeline order,
/// finishing, lingering, closed (docs/connections.md).
///
/// Pure: no socket, no OpenSSL, no clock. `HTTPServerConnection` reports what happened (a handshake
/// step, bytes read, a request parsed, a response ready, a write's progress, a tick) and carries
/// out the ``Action`` each transition returns; after every event it arms epoll with ``interest``,
/// which is a function of the state alone. That last rule is what keeps a connection from waiting
/// for an event nobody asked for.
struct HTTPConnectionStateMachine {
    struct Configuration: Sendable, Equatable {
        /// Nanoseconds.
        var handshakeTimeout: UInt64
        var requestTimeout: UInt64
        var idleTimeout: UInt64
        var lingerTimeout: UInt64
        var lingerIdleTimeout: UInt64
        var lingerMaxBytes: Int
        var maxPipelinedRequests: Int
        var maxBufferedOutput: Int

        init(_ settings: HTTPServerSettings) {
            handshakeTimeout = settings.handshakeTimeout
            requestTimeout = settings.requestTimeout
            idleTimeout = settings.idleTimeout
            lingerTimeout = settings.lingerTimeout
            lingerIdleTimeout = settings.lingerIdleTimeout
            lingerMaxBytes = settings.lingerMaxBytes
            maxPipelinedRequests = settings.maxPipelinedRequests
            maxBufferedOutput = settings.maxBufferedOutput
        }
    }

    enum Phase: Equatable {
        /// TLS handshake since `since`; `wantsWritable` when OpenSSL waits for the socket to take more.
        case handshaking(since: UInt64, wantsWritable: Bool)
        /// Reading requests, answering them in order.
        case serving
        /// No more requests are read: the last one asked to close, the peer half-closed, a request
        /// was refused, or the server drains. Closes once every response is written — after
        /// lingering when `linger` (the client may still be sending what was not read).
        case finishing(linger: Bool)
        /// The final response is written and close_notify sent; what the client still sends is read
        /// and discarded until it closes or a bound is reached (nginx's lingering_close).
        case lingering(since: UInt64, lastRead: UInt64, discarded: Int)
        case closed
    }

    enum ReadState: Equatable {
        /// Reads when epoll says the socket is readable.
        case ready
        /// Stopped by backpressure; input may wait in OpenSSL or the parser, so resuming reads
        /// without waiting for epoll.
        case paused
        /// SSL_read asked for the socket to be writable first.
        case waitingForWritable
    }

    enum WriteState: Equatable {
        /// Nothing buffered.
        case idle
        /// Output buffered and not yet tried: write now.
        case queued
        /// The socket took no more; write when epoll says writable.
        case waitingForWritable(since: UInt64)
        /// SSL_write asked to read first; write when epoll says readable.
        case waitingForReadable(since: UInt64)
    }

    enum CloseReason: Equatable {
        case handshakeFailed, handshakeTimedOut, peerClosed, failed, writeStalled, idle, draining
        case lingerDone, lingerBoundReached
    }

    /// What the connection does next.
    enum Action: Equatable {
        case none
        /// Read and parse what the socket and OpenSSL hold (``readsNow`` says how long).
        case read
        /// Write the buffered output.
        case write
        /// Answer request `sequence` with 408 (the request timeout passed mid-request).
        case timeOut(sequence: UInt64)
        /// Send close_notify, shut down the sending side, then read and discard (``Phase/lingering``).
        case startLingering
        /// Send close_notify, then close.
        case shutdownAndClose
        case close(CloseReason)
    }

    /// What the connection must do with one response now next in order.
    struct Outgoing {
        var response: HTTPResponse
        var keepAlive: Bool
        var headOnly: Bool
    }

    private struct RequestMeta { var keepAlive: Bool; var headOnly: Bool }

    let configuration: Configuration
    private(set) var phase: Phase
    private(set) var read = ReadState.ready
    private(set) var write = WriteState.idle
    private var bufferedOutput = 0
    private var lastActivity: UInt64
    /// When the parser started holding an incomplete request (the request timeout runs from here).
    private var partialSince: UInt64?
    private var nextSequence: UInt64 = 0
    private var nextToWrite: UInt64 = 0
    private var metas: [RequestMeta] = []            // indexed by sequence - nextToWrite
    private var waiting: [UInt64: HTTPResponse] = [:]  // answered out of order

    init(configuration: Configuration, now: UInt64) {
        self.configuration = configuration
        phase = .handshaking(since: now, wantsWritable: false)
        lastActivity = now
    }

    // MARK: derived

    /// Requests read and not yet answered (or answered and waiting for an earlier one).
    var inFlight: Int { Int(nextSequence &- nextToWrite) }

    var isBackpressured: Bool {
        inFlight >= configuration.maxPipelinedRequests || bufferedOutput > configuration.maxBufferedOutput
    }

    /// Keep reading: while serving without backpressure, and while lingering.
    var readsNow: Bool {
        switch phase {
        case .serving: return !isBackpressured
        case .lingering: return true
        default: return false
        }
    }

    /// Keep handing parsed requests to the responder.
    var parsesNow: Bool { phase == .serving && !isBackpressured }

    /// The first request of an exchange may get `100 Continue`; a later pipelined one is answered
    /// in order and its client sends the body after its own timeout (RFC 9110 §10.1.1).
    var sendsContinue: Bool { phase == .serving && inFlight == 0 }

    /// Nothing read and unanswered, nothing to write: the connection may close without losing anything.
    var isIdle: Bool { inFlight == 0 && partialSince == nil && bufferedOutput == 0 }

    /// The epoll events to wait for, from the state alone.
    var interest: (readable: Bool, writable: Bool) {
        switch phase {
        case .closed:
            return (false, false)
        case .handshaking(_, let wantsWritable):
            return (true, wantsWritable)
        case .serving, .finishing, .lingering:
            var readable = false
            var writable = false
            if readsNow {
                switch read {
                case .ready, .paused: readable = true
                case .waitingForWritable: writable = true
                }
            }
            switch write {
            case .idle: break
            case .queued, .waitingForWritable: writable = true
            case .waitingForReadable: readable = true
            }
            return (readable, writable)
        }
    }

    // MARK: handshake

    enum HandshakeStep { case done, wantsReadable, wantsWritable, failed }

    mutating func handshake(_ step: HandshakeStep, now: UInt64) -> Action {
        guard case .handshaking(let since, _) = phase else { return .none }
        switch step {
        case .done:
            phase = .serving
            lastActivity = now
            return .read  // the first request may already wait in the socket
        case .wantsReadable:
            phase = .handshaking(since: since, wantsWritable: false)
            return .none
        case .wantsWritable:
            phase = .handshaking(since: since, wantsWritable: true)
            return .none
        case .failed:
            phase = .closed
            return .close(.handshakeFailed)
        }
    }

    // MARK: reading

    /// `count` decrypted bytes were read. While lingering they are discarded and counted.
    mutating func bytesRead(_ count: Int, now: UInt64) -> Action {
        read = .ready
        lastActivity = now
        guard case .lingering(let since, _, let discarded) = phase else { return .none }
        let total = discarded + count
        if total > configuration.lingerMaxBytes {
            phase = .closed
            return .close(.lingerBoundReached)
        }
        phase = .lingering(since: since, lastRead: now, discarded: total)
        return .none
    }

    /// The read loop stopped: the socket had nothing more (`wantsWritable` when OpenSSL needs to
    /// write first), or ``readsNow`` turned false.
    mutating func readStopped(wantsWritable: Bool = false) {
        if wantsWritable {
            read = .waitingForWritable
        } else if phase == .serving && isBackpressured {
            read = .paused
        } else {
            read = .ready
        }
    }

    /// The peer closed its sending side (close_notify or EOF).
    mutating func peerClosed() -> Action {
        switch phase {
        case .serving, .finishing:
            if inFlight == 0 && bufferedOutput == 0 {
                phase = .closed
                return .close(.peerClosed)
            }
            // Finish what is in flight, then close (no lingering: the peer sends nothing more).
            phase = .finishing(linger: false)
            return .none
        case .lingering:
            phase = .closed
            return .close(.lingerDone)
        case .handshaking:
            phase = .closed
            return .close(.handshakeFailed)
        case .closed:
            return .none
        }
    }

    /// A read or write failed: the connection is unusable.
    mutating func failed() -> Action {
        guard phase != .closed else { return .none }
        phase = .closed
        return .close(.failed)
    }

    // MARK: parsing

    /// A complete request; returns its sequence number. A request that does not keep the
    /// connection alive is the last one read.
    mutating func requestReceived(keepAlive: Bool, headOnly: Bool) -> UInt64 {
        metas.append(RequestMeta(keepAlive: keepAlive, headOnly: headOnly))
        if !keepAlive && phase == .serving { phase = .finishing(linger: false) }
        defer { nextSequence &+= 1 }
        return nextSequence
    }

    /// A request the server refuses (a parse error, or the request timeout); returns the sequence
    /// its error answers. Nothing more is read as requests; the connection lingers after the answer,
    /// since the client may still be sending the rest of what was refused.
    mutating func requestRefused() -> UInt64 {
        metas.append(RequestMeta(keepAlive: false, headOnly: false))
        partialSince = nil
        switch phase {
        case .serving, .finishing: phase = .finishing(linger: true)
        default: break
        }
        defer { nextSequence &+= 1 }
        return nextSequence
    }

    /// After parsing: whether the parser holds part of a request (the request timeout runs).
    mutating func parserHoldsPartialRequest(_ partial: Bool, now: UInt64) {
        partialSince = partial ? (partialSince ?? now) : nil
    }

    // MARK: responses and writing

    /// The response to request `sequence` is ready. Returns, in order, every response that can be
    /// serialized now (none while an earlier one is outstanding). `draining`: the server is
    /// stopping, so each says `Connection: close`.
    mutating func responseReady(sequence: UInt64, response: HTTPResponse, draining: Bool) -> [Outgoing] {
        guard phase != .closed, sequence &- nextToWrite < UInt64(metas.count) else { return [] }
        guard sequence == nextToWrite else {
            waiting[sequence] = response
            return []
        }
        var ready = [outgoing(response, draining: draining)]
        while let next = waiting.removeValue(forKey: nextToWrite) { ready.append(outgoing(next, draining: draining)) }
        return ready
    }

    private mutating func outgoing(_ response: HTTPResponse, draining: Bool) -> Outgoing {
        let meta = metas.removeFirst()
        nextToWrite &+= 1
        // A server that started draining after the request arrived still says it will close.
        let keepAlive = meta.keepAlive && !draining
        if !keepAlive, case .serving = phase { phase = .finishing(linger: false) }
        return Outgoing(response: response, keepAlive: keepAlive, headOnly: meta.headOnly)
    }

    /// Output was added to the buffer (responses, `100 Continue`); `buffered` bytes wait now.
    mutating func outputQueued(buffered: Int) -> Action {
        bufferedOutput = buffered
        guard buffered > 0, phase != .closed else { return .none }
        switch write {
        case .idle, .queued:
            write = .queued
            return .write
        case .waitingForWritable, .waitingForReadable:
            return .none  // epoll will say when
        }
    }

    /// A write attempt stopped with `remaining` bytes unwritten; `progressed` when it wrote some.
    mutating func writeBlocked(remaining: Int, wantsReadable: Bool, progressed: Bool, now: UInt64) {
        bufferedOutput = remaining
        let since: UInt64
        switch write {
        case .waitingForWritable(let earlier), .waitingForReadable(let earlier): since = progressed ? now : earlier
        case .idle, .queued: since = now
        }
        write = wantsReadable ? .waitingForReadable(since: since) : .waitingForWritable(since: since)
    }

    /// Every buffered byte is written. Closes or starts lingering when this was the last response,
    /// resumes reading when this eased backpressure.
    mutating func outputFlushed(now: UInt64) -> Action {
        bufferedOutput = 0
        write = .idle
        return afterProgress(now: now)
    }

    /// Where to go once output or in-flight requests shrank.
    private mutating func afterProgress(now: UInt64) -> Action {
        switch phase {
        case .finishing(let linger) where inFlight == 0 && bufferedOutput == 0:
            if linger {
                phase = .lingering(since: now, lastRead: now, discarded: 0)
                read = .ready
                return .startLingering
            }
            phase = .closed
            return .shutdownAndClose
        case .serving where read == .paused && !isBackpressured:
            read = .ready
            return .read  // input may already wait inside OpenSSL or the parser: epoll would not say
        default:
            return .none
        }
    }

    // MARK: time and stopping

    /// The periodic deadline check. `draining`: the server is stopping.
    mutating func tick(now: UInt64, draining: Bool) -> Action {
        switch phase {
        case .closed:
            return .none
        case .handshaking(let since, _):
            guard now &- since > configuration.handshakeTimeout else { return .none }
            phase = .closed
            return .close(.handshakeTimedOut)
        case .lingering(let since, let lastRead, _):
            if draining {
                phase = .closed
                return .close(.draining)
            }
            guard now &- since > configuration.lingerTimeout || now &- lastRead > configuration.lingerIdleTimeout else {
                return .none
            }
            phase = .closed
            return .close(.lingerBoundReached)
        case .serving, .finishing:
            if phase == .serving, let started = partialSince, now &- started > configuration.requestTimeout {
                // A client trickling a request (slowloris) gets 408 and the connection closes.
                return .timeOut(sequence: requestRefused())
            }
            switch write {
            case .waitingForWritable(let since), .waitingForReadable(let since):
                if now &- since > configuration.requestTimeout {
                    phase = .closed
                    return .close(.writeStalled)  // the client stopped reading
                }
            case .idle, .queued:
                break
            }
            if isIdle && (draining || now &- lastActivity > configuration.idleTimeout) {
                phase = .closed
                return .close(draining ? .draining : .idle)
            }
            return .none
        }
    }

    /// The server starts draining: idle connections close now, busy ones after their in-flight
    /// responses (which carry `Connection: close`).
    mutating func drain() -> Action {
        switch phase {
        case .closed, .finishing:
            return .none
        case .handshaking, .lingering:
            phase = .closed
            return .close(.draining)
        case .serving:
            if isIdle {
                phase = .closed
                return .close(.draining)
            }
            phase = .finishing(linger: false)
            return .none
        }
    }

    /// The connection closed itself (e.g. a failed start).
    mutating func closed() { phase = .closed }
}
