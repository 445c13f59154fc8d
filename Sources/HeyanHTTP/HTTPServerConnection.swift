#if canImport(Glibc)
import Glibc
#endif
import CLinux
import HeyanDomain

/// One accepted TLS connection: the I/O of an ``HTTPConnectionStateMachine``.
///
/// Lives on one loop thread and is touched only there. Every entry point — `start`, an epoll event,
/// a delivered response, a tick, `drain` — reports to the state machine, carries out the actions it
/// returns, and ends in ``settle()``: buffered output is written and epoll armed with exactly the
/// events the state machine waits for (docs/connections.md).
final class HTTPServerConnection: EventLoopHandler {
    typealias Machine = HTTPConnectionStateMachine

    let id: UInt64
    let fd: Int32
    let peer: String
    private unowned let loopContext: LoopContext
    private let tls: TLSSession
    private var machine: Machine
    private var parser: HTTPRequestParser

    private var department: String?
    private var clientSubject = ""
    private var clerkIDs: [String] = []
    private var clientName: String?

    private var writeBuffer: [UInt8] = []
    private var writeOffset = 0
    /// The events epoll watches for this descriptor.
    private var armed: UInt32 = 0
    /// True inside an entry point: output queued now is written once, by ``settle()``.
    private var busy = false
    private var descriptorClosed = false

    init(id: UInt64, fd: Int32, peer: String, tls: TLSSession, loopContext: LoopContext) {
        self.id = id
        self.fd = fd
        self.peer = peer
        self.tls = tls
        self.loopContext = loopContext
        self.parser = HTTPRequestParser(limits: loopContext.settings.limits)
        self.machine = Machine(configuration: .init(loopContext.settings), now: loopContext.clock.monotonicNanoseconds())
    }

    private var metrics: HTTPServerMetrics { loopContext.metrics }

    func start() throws {
        try loopContext.loop.register(fd: fd, events: EPOLLIN.rawValue, handler: self)
        armed = EPOLLIN.rawValue
        loopContext.loop.addTicker(self)
        // The first step may finish the handshake already (a late accept finds the client's whole
        // flight and first request waiting); like every entry point, it ends in settle().
        entry { handshake() }
    }

    // MARK: entry points

    func handle(events: UInt32) {
        entry {
            if case .handshaking = machine.phase {
                handshake()
                return
            }
            if events & (EPOLLERR.rawValue | EPOLLHUP.rawValue) != 0 && events & EPOLLIN.rawValue == 0 {
                perform(machine.failed())
                return
            }
            if machine.write != .idle { flush() }
            if machine.readsNow { readAvailable() }
        }
    }

    func tick(now: UInt64) {
        entry { perform(machine.tick(now: now, draining: loopContext.isDraining)) }
    }

    /// Queues the response to request `sequence`; every response now next in order is serialized
    /// and written.
    func deliver(sequence: UInt64, response: HTTPResponse) {
        entry {
            let ready = machine.responseReady(
                sequence: sequence, response: response, draining: loopContext.closesAfterResponses)
            guard !ready.isEmpty else { return }
            let date = loopContext.dateHeader()
            for outgoing in ready {
                outgoing.response.serialize(
                    into: &writeBuffer, keepAlive: outgoing.keepAlive, date: date, headOnly: outgoing.headOnly)
            }
            perform(machine.outputQueued(buffered: writeBuffer.count - writeOffset))
        }
    }

    /// Called when the server starts draining: idle connections close now, busy ones after their
    /// in-flight responses (which will carry `Connection: close`).
    func drain() {
        entry { perform(machine.drain()) }
    }

    /// Runs `body`, then ``settle()`` — unless already inside an entry point, whose own settle
    /// follows.
    private func entry(_ body: () -> Void) {
        guard machine.phase != .closed else { return }
        if busy {
            body()
            return
        }
        busy = true
        body()
        settle()
        busy = false
    }

    /// The end of every entry point: write what is queued (which may let reading resume and queue
    /// more), then arm epoll with what the state machine waits for.
    private func settle() {
        while machine.phase != .closed && machine.write == .queued { flush() }
        guard machine.phase != .closed else { return }
        let interest = machine.interest
        var events: UInt32 = 0
        if interest.readable { events |= EPOLLIN.rawValue }
        if interest.writable { events |= EPOLLOUT.rawValue }
        if events != armed {
            armed = events
            loopContext.loop.modify(fd: fd, events: events)
        }
    }

    private func perform(_ action: Machine.Action) {
        switch action {
        case .none, .write:
            break  // .write: settle() writes, once for everything queued in this entry
        case .read:
            readAvailable()
        case .timeOut(let sequence):
            metrics.requestsTimedOut.add(1, ordering: .relaxed)
            deliver(sequence: sequence, response: .problem(.requestTimeout()))
        case .startLingering:
            metrics.lingeringCloses.add(1, ordering: .relaxed)
            tls.shutdown()
            _ = Glibc.shutdown(fd, Int32(SHUT_WR))
            readAvailable()
        case .shutdownAndClose:
            tls.shutdown()
            close()
        case .close(let reason):
            switch reason {
            case .handshakeTimedOut: metrics.handshakesTimedOut.add(1, ordering: .relaxed)
            case .handshakeFailed: metrics.handshakesFailed.add(1, ordering: .relaxed)
            case .lingerBoundReached: metrics.lingerBoundsReached.add(1, ordering: .relaxed)
            case .peerClosed, .failed, .writeStalled, .idle, .draining, .lingerDone: break
            }
            close()
        }
    }

    // MARK: handshake

    private func handshake() {
        let now = loopContext.clock.monotonicNanoseconds()
        switch tls.handshake() {
        case .done:
            metrics.handshakesCompleted.add(1, ordering: .relaxed)
            if tls.isResumed { metrics.handshakesResumed.add(1, ordering: .relaxed) }
            if let certificate = tls.peerCertificate() {
                department = certificate.departmentCode
                clientSubject = certificate.subject
                clerkIDs = certificate.clerkIDs
                clientName = certificate.commonName
            }
            perform(machine.handshake(.done, now: now))
        case .wantRead:
            perform(machine.handshake(.wantsReadable, now: now))
        case .wantWrite:
            perform(machine.handshake(.wantsWritable, now: now))
        case .closed:
            perform(machine.handshake(.failed, now: now))
        case .failed(let reason):
            loopContext.log?("handshake-failed", peer, reason)
            perform(machine.handshake(.failed, now: now))
        }
    }

    // MARK: reading and parsing

    /// Reads while the state machine wants input: requests while serving (until backpressure),
    /// bytes to discard while lingering.
    private func readAvailable() {
        if machine.parsesNow { processParsed() }  // requests parsed before a pause
        let scratch = loopContext.readBuffer
        while machine.readsNow {
            switch tls.read(into: scratch) {
            case .done(let count):
                perform(machine.bytesRead(count, now: loopContext.clock.monotonicNanoseconds()))
                if machine.parsesNow {
                    parser.append(UnsafeRawBufferPointer(rebasing: scratch[0..<count]))
                    processParsed()
                }
                // The socket is registered level-triggered: when OpenSSL holds nothing more (read-ahead
                // drains the socket into its buffer), epoll reports any bytes still in the socket, so
                // the read that would only have returned EAGAIN — one per request — is not made.
                if count < scratch.count && !tls.hasPendingPlaintext {
                    machine.readStopped()
                    return
                }
            case .wantRead:
                machine.readStopped()
                return
            case .wantWrite:
                machine.readStopped(wantsWritable: true)
                return
            case .closed:
                perform(machine.peerClosed())
                return
            case .failed:
                perform(machine.failed())
                return
            }
        }
        machine.readStopped()
    }

    private func processParsed() {
        while machine.parsesNow, let event = parser.next() {
            switch event {
            case .request(let request):
                let keepAlive = request.keepAlive && !loopContext.closesAfterResponses
                let sequence = machine.requestReceived(keepAlive: keepAlive, headOnly: request.method == "HEAD")
                let context = RequestContext(
                    department: department, clientSubject: clientSubject, remoteAddress: peer, connectionID: id,
                    receivedAt: loopContext.clock.monotonicNanoseconds(), loop: loopContext.loop,
                    clerkIDs: clerkIDs, clientName: clientName)
                loopContext.responder.respond(
                    to: request, context: context,
                    sink: ResponseSink(connection: self, sequence: sequence, loop: loopContext.loop))
            case .continueExpected:
                if machine.sendsContinue {
                    writeBuffer.append(contentsOf: HTTPResponse.continueBytes)
                    perform(machine.outputQueued(buffered: writeBuffer.count - writeOffset))
                }
            case .error(let error):
                metrics.parseErrors.add(1, ordering: .relaxed)
                deliver(sequence: machine.requestRefused(), response: .problem(.from(error)))
            }
        }
        machine.parserHoldsPartialRequest(parser.hasPartialRequest, now: loopContext.clock.monotonicNanoseconds())
    }

    // MARK: writing

    private func flush() {
        var progressed = false
        while writeOffset < writeBuffer.count {
            let progress = writeBuffer.withUnsafeBytes { bytes in
                tls.write(UnsafeRawBufferPointer(rebasing: bytes[writeOffset...]))
            }
            switch progress {
            case .done(let count):
                writeOffset += count
                progressed = true
            case .wantWrite, .wantRead:
                machine.writeBlocked(
                    remaining: writeBuffer.count - writeOffset, wantsReadable: progress == .wantRead,
                    progressed: progressed, now: loopContext.clock.monotonicNanoseconds())
                return
            case .closed, .failed:
                perform(machine.failed())
                return
            }
        }
        if writeBuffer.capacity > 1 << 20 { writeBuffer = [] } else { writeBuffer.removeAll(keepingCapacity: true) }
        writeOffset = 0
        perform(machine.outputFlushed(now: loopContext.clock.monotonicNanoseconds()))
    }

    // MARK: closing

    func close() {
        machine.closed()
        guard !descriptorClosed else { return }
        descriptorClosed = true
        loopContext.loop.deregister(fd: fd)
        loopContext.loop.removeTicker(self)
        Glibc.close(fd)
        writeBuffer = []
        loopContext.connectionClosed(self)
    }
}
