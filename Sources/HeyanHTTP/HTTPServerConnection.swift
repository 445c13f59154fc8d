#if canImport(Glibc)
import Glibc
#endif
import CLinux

/// One accepted TLS connection: handshake, then HTTP/1.1 requests answered in pipeline order.
///
/// Lives on one loop thread and is touched only there. Reads stop while too many responses are
/// outstanding or too much output is buffered (backpressure), so a client that pipelines without
/// reading cannot grow memory without bound.
final class HTTPServerConnection: EventLoopHandler {
    private enum State { case handshaking, open, closed }
    private struct RequestMeta { var keepAlive: Bool; var headOnly: Bool }

    let id: UInt64
    let fd: Int32
    let peer: String
    private unowned let loopContext: LoopContext
    private let tls: TLSSession
    private var state = State.handshaking
    private var parser: HTTPRequestParser

    private var department: String?
    private var clientSubject = ""

    private var writeBuffer: [UInt8] = []
    private var writeOffset = 0
    private var nextSequence: UInt64 = 0
    private var nextToWrite: UInt64 = 0
    private var metas: [RequestMeta] = []          // indexed by sequence - nextToWrite
    private var waiting: [UInt64: HTTPResponse] = [:]  // answered out of order
    private var stopParsing = false
    private var closeWhenFlushed = false
    private var inHandler = false

    private var interest: UInt32 = 0
    private var readWantsWrite = false
    private var readPaused = false
    private var writeWantsRead = false

    private let acceptedAt: UInt64
    private var lastActivity: UInt64
    private var requestStartedAt: UInt64?
    private var writeStalledSince: UInt64?

    init(id: UInt64, fd: Int32, peer: String, tls: TLSSession, loopContext: LoopContext) {
        self.id = id
        self.fd = fd
        self.peer = peer
        self.tls = tls
        self.loopContext = loopContext
        self.parser = HTTPRequestParser(limits: loopContext.settings.limits)
        acceptedAt = monotonicNanoseconds()
        lastActivity = acceptedAt
    }

    private var settings: HTTPServerSettings { loopContext.settings }
    private var inFlight: Int { Int(nextSequence &- nextToWrite) }
    private var isBackpressured: Bool {
        inFlight >= settings.maxPipelinedRequests || writeBuffer.count - writeOffset > settings.maxBufferedOutput
    }

    func start() throws {
        try loopContext.loop.register(fd: fd, events: EPOLLIN.rawValue, handler: self)
        interest = EPOLLIN.rawValue
        loopContext.loop.addTicker(self)
        handshake()
    }

    // MARK: events

    func handle(events: UInt32) {
        guard state != .closed else { return }
        inHandler = true
        defer {
            inHandler = false
            if state != .closed { afterEvent() }
        }
        if state == .handshaking {
            handshake()
            return
        }
        if events & (EPOLLERR.rawValue | EPOLLHUP.rawValue) != 0 && events & EPOLLIN.rawValue == 0 {
            close()
            return
        }
        if events & EPOLLOUT.rawValue != 0 || writeWantsRead {
            flush()
        }
        if state == .open && (events & EPOLLIN.rawValue != 0 || readWantsWrite) {
            readAvailable()
        }
    }

    func tick(now: UInt64) {
        guard state != .closed else { return }
        switch state {
        case .handshaking:
            if now &- acceptedAt > settings.handshakeTimeout {
                loopContext.metrics.handshakesTimedOut.add(1, ordering: .relaxed)
                close()
            }
        case .open:
            // Safety net for work no epoll event will announce: bytes OpenSSL already holds, and
            // output whose SSL_write asked to read first while the peer has nothing to send
            // (a rare stall of a 100-continue exchange in loaded test runs looked like one).
            if tls.hasPendingPlaintext || (writeWantsRead && writeOffset < writeBuffer.count) {
                loopContext.metrics.stallsRecovered.add(1, ordering: .relaxed)
                handle(events: EPOLLIN.rawValue)
                guard state == .open else { return }
            }
            if let started = requestStartedAt, now &- started > settings.requestTimeout, !stopParsing {
                // A client trickling a request (slowloris) gets 408 and the connection closes.
                loopContext.metrics.requestsTimedOut.add(1, ordering: .relaxed)
                stopParsing = true
                requestStartedAt = nil
                let sequence = enqueue(RequestMeta(keepAlive: false, headOnly: false))
                deliver(sequence: sequence, response: .problem(.requestTimeout()))
            } else if let stalled = writeStalledSince, now &- stalled > settings.requestTimeout {
                close()  // the client stopped reading
            } else if inFlight == 0 && !parser.hasPartialRequest && writeOffset == writeBuffer.count {
                if loopContext.isDraining || now &- lastActivity > settings.idleTimeout { close() }
            }
        case .closed:
            break
        }
    }

    // MARK: handshake

    private func handshake() {
        switch tls.handshake() {
        case .done:
            state = .open
            loopContext.metrics.handshakesCompleted.add(1, ordering: .relaxed)
            if tls.isResumed { loopContext.metrics.handshakesResumed.add(1, ordering: .relaxed) }
            if let certificate = tls.peerCertificate() {
                department = certificate.departmentCode
                clientSubject = certificate.subject
            }
            lastActivity = monotonicNanoseconds()
            readAvailable()  // application data may already be buffered
        case .wantRead:
            setInterest(EPOLLIN.rawValue)
        case .wantWrite:
            setInterest(EPOLLIN.rawValue | EPOLLOUT.rawValue)
        case .closed:
            loopContext.metrics.handshakesFailed.add(1, ordering: .relaxed)
            close()
        case .failed(let reason):
            loopContext.metrics.handshakesFailed.add(1, ordering: .relaxed)
            loopContext.log?("handshake-failed", peer, reason)
            close()
        }
    }

    // MARK: reading and parsing

    private func readAvailable() {
        readWantsWrite = false
        let scratch = loopContext.readBuffer
        while state == .open && !stopParsing && !isBackpressured {
            switch tls.read(into: scratch) {
            case .done(let count):
                lastActivity = monotonicNanoseconds()
                parser.append(UnsafeRawBufferPointer(rebasing: scratch[0..<count]))
                processParsed()
            case .wantRead:
                return
            case .wantWrite:
                readWantsWrite = true
                return
            case .closed:
                peerClosed()
                return
            case .failed:
                close()
                return
            }
        }
        if state == .open && !isBackpressured { processParsed() }
        if state == .open && isBackpressured { readPaused = true }
    }

    private func processParsed() {
        while state == .open && !stopParsing && !isBackpressured, let event = parser.next() {
            switch event {
            case .request(let request):
                let keepAlive = request.keepAlive && !loopContext.isDraining
                if !keepAlive { stopParsing = true }
                let sequence = enqueue(RequestMeta(keepAlive: keepAlive, headOnly: request.method == "HEAD"))
                let context = RequestContext(
                    department: department, clientSubject: clientSubject, remoteAddress: peer, connectionID: id,
                    receivedAt: monotonicNanoseconds(), loop: loopContext.loop)
                loopContext.responder.respond(
                    to: request, context: context,
                    sink: ResponseSink(connection: self, sequence: sequence, loop: loopContext.loop))
            case .continueExpected:
                if inFlight == 0 { writeBuffer.append(contentsOf: Self.continueLine) }
            case .error(let error):
                loopContext.metrics.parseErrors.add(1, ordering: .relaxed)
                stopParsing = true
                let sequence = enqueue(RequestMeta(keepAlive: false, headOnly: false))
                deliver(sequence: sequence, response: .problem(.from(error)))
            }
        }
        requestStartedAt = parser.hasPartialRequest ? (requestStartedAt ?? monotonicNanoseconds()) : nil
    }

    private static let continueLine: [UInt8] = Array("HTTP/1.1 100 Continue\r\n\r\n".utf8)

    private func enqueue(_ meta: RequestMeta) -> UInt64 {
        metas.append(meta)
        defer { nextSequence &+= 1 }
        return nextSequence
    }

    private func peerClosed() {
        // The peer will send nothing more; finish what is in flight, then close.
        stopParsing = true
        if inFlight == 0 { close() } else { closeWhenFlushed = true }
    }

    // MARK: writing

    /// Queues the response to request `sequence`; writes every response that is now next in order.
    func deliver(sequence: UInt64, response: HTTPResponse) {
        guard state == .open else { return }
        if sequence != nextToWrite {
            waiting[sequence] = response
            return
        }
        serialize(response)
        while let next = waiting.removeValue(forKey: nextToWrite) { serialize(next) }
        if !inHandler {
            flush()
            if state != .closed { afterEvent() }
        }
    }

    private func serialize(_ response: HTTPResponse) {
        let meta = metas.removeFirst()
        // A server that started draining after the request arrived still says it will close.
        let keepAlive = meta.keepAlive && !loopContext.isDraining
        response.serialize(into: &writeBuffer, keepAlive: keepAlive, date: loopContext.dateHeader(), headOnly: meta.headOnly)
        nextToWrite &+= 1
        if !keepAlive { closeWhenFlushed = true }
    }

    private func flush() {
        writeWantsRead = false
        while writeOffset < writeBuffer.count {
            let progress = writeBuffer.withUnsafeBytes { bytes in
                tls.write(UnsafeRawBufferPointer(rebasing: bytes[writeOffset...]))
            }
            switch progress {
            case .done(let count):
                writeOffset += count
                writeStalledSince = nil
            case .wantWrite:
                if writeStalledSince == nil { writeStalledSince = monotonicNanoseconds() }
                return
            case .wantRead:
                writeWantsRead = true
                return
            case .closed, .failed:
                close()
                return
            }
        }
        if writeBuffer.capacity > 1 << 20 { writeBuffer = [] } else { writeBuffer.removeAll(keepingCapacity: true) }
        writeOffset = 0
        if closeWhenFlushed && inFlight == 0 {
            tls.shutdown()
            close()
        }
    }

    /// After reading or writing: write what is buffered, resume reading if backpressure eased, and
    /// ask epoll for exactly the events still needed.
    private func afterEvent() {
        if writeOffset < writeBuffer.count { flush() }
        guard state == .open else { return }
        if readPaused && !stopParsing && !isBackpressured {
            // Backpressure eased: parse what is buffered and read what TLS may hold decrypted
            // (epoll cannot see bytes already inside OpenSSL).
            readPaused = false
            // Responses produced now are written once, below, not one write per response.
            let wasInHandler = inHandler
            inHandler = true
            readAvailable()
            inHandler = wasInHandler
            if writeOffset < writeBuffer.count { flush() }
            guard state == .open else { return }
        }
        var wanted: UInt32 = 0
        if !stopParsing && !isBackpressured { wanted |= EPOLLIN.rawValue }
        if writeOffset < writeBuffer.count || readWantsWrite { wanted |= EPOLLOUT.rawValue }
        if writeWantsRead { wanted |= EPOLLIN.rawValue }
        setInterest(wanted)
    }

    private func setInterest(_ events: UInt32) {
        guard events != interest, state != .closed else { return }
        interest = events
        loopContext.loop.modify(fd: fd, events: events)
    }

    // MARK: closing

    /// Called when the server starts draining: idle connections close now, busy ones after their
    /// in-flight responses (which will carry `Connection: close`).
    func drain() {
        guard state != .closed else { return }
        if state == .handshaking || (inFlight == 0 && !parser.hasPartialRequest && writeOffset == writeBuffer.count) {
            close()
        } else {
            stopParsing = true
            closeWhenFlushed = true
        }
    }

    func close() {
        guard state != .closed else { return }
        state = .closed
        loopContext.loop.deregister(fd: fd)
        loopContext.loop.removeTicker(self)
        Glibc.close(fd)
        waiting.removeAll()
        writeBuffer = []
        loopContext.connectionClosed(self)
    }
}
