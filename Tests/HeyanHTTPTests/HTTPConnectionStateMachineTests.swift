import Testing

@testable import HeyanHTTP

/// The connection state machine without sockets, OpenSSL or sleeping: time is a number passed in.
@Suite struct HTTPConnectionStateMachineTests {
    typealias Machine = HTTPConnectionStateMachine
    static let second: UInt64 = 1_000_000_000

    static func machine(_ configure: (inout HTTPServerSettings) -> Void = { _ in }, now: UInt64 = 0) -> Machine {
        var settings = HTTPServerSettings()
        settings.handshakeTimeout = 10 * second
        settings.requestTimeout = 30 * second
        settings.idleTimeout = 60 * second
        settings.lingerTimeout = 5 * second
        settings.lingerIdleTimeout = 2 * second
        settings.lingerMaxBytes = 1 << 20
        configure(&settings)
        return Machine(configuration: .init(settings), now: now)
    }

    /// A machine past its handshake.
    static func serving(_ configure: (inout HTTPServerSettings) -> Void = { _ in }) -> Machine {
        var machine = machine(configure)
        #expect(machine.handshake(.done, now: 0) == .read)
        machine.readStopped()
        return machine
    }

    static let ok = HTTPResponse.json(200, Array("{}".utf8))

    @Test func handshakeWaitsForWhatOpenSSLAsksAndTimesOut() {
        var machine = Self.machine()
        #expect(machine.handshake(.wantsWritable, now: 1) == .none)
        #expect(machine.interest == (true, true))
        #expect(machine.handshake(.wantsReadable, now: 2) == .none)
        #expect(machine.interest == (true, false))
        #expect(machine.tick(now: 10 * Self.second, draining: false) == .none)
        #expect(machine.tick(now: 10 * Self.second + 1, draining: false) == .close(.handshakeTimedOut))
        #expect(machine.phase == .closed)
        #expect(machine.interest == (false, false))
    }

    @Test func failedHandshakeCloses() {
        var machine = Self.machine()
        #expect(machine.handshake(.failed, now: 1) == .close(.handshakeFailed))
        #expect(machine.phase == .closed)
    }

    /// The 100-continue stall: the handshake finished in its very first step (a late accept), the
    /// request was read and `100 Continue` queued. Queued output must ask for a write at once and
    /// keep the socket armed for writing until it is written — whatever entry point queued it.
    @Test func interimResponseQueuedRightAfterTheHandshakeIsWritten() {
        var machine = Self.machine()
        #expect(machine.handshake(.done, now: 0) == .read)
        #expect(machine.bytesRead(90, now: 0) == .none)
        #expect(machine.sendsContinue)
        #expect(machine.outputQueued(buffered: HTTPResponse.continueBytes.count) == .write)
        machine.readStopped()
        #expect(machine.write == .queued)
        #expect(machine.interest == (true, true))
        machine.writeBlocked(remaining: 25, wantsReadable: false, progressed: false, now: 1)
        #expect(machine.interest == (true, true))
        #expect(machine.outputFlushed(now: 2) == .none)
        #expect(machine.interest == (true, false))
    }

    @Test func continueIsSentOnlyWhenNoEarlierRequestIsOutstanding() {
        var machine = Self.serving()
        _ = machine.requestReceived(keepAlive: true, headOnly: false)
        #expect(!machine.sendsContinue)
    }

    @Test func responsesLeaveInRequestOrder() {
        var machine = Self.serving()
        let first = machine.requestReceived(keepAlive: true, headOnly: false)
        let second = machine.requestReceived(keepAlive: true, headOnly: true)
        #expect(machine.responseReady(sequence: second, response: .json(201, []), draining: false).isEmpty)
        let ready = machine.responseReady(sequence: first, response: Self.ok, draining: false)
        #expect(ready.map(\.response.status) == [200, 201])
        #expect(ready.map(\.headOnly) == [false, true])
        #expect(ready.map(\.keepAlive) == [true, true])
        #expect(machine.inFlight == 0)
    }

    @Test func backpressurePausesReadingAndFlushingResumesIt() {
        var machine = Self.serving { $0.maxPipelinedRequests = 2 }
        _ = machine.requestReceived(keepAlive: true, headOnly: false)
        _ = machine.requestReceived(keepAlive: true, headOnly: false)
        #expect(!machine.readsNow && !machine.parsesNow)
        machine.readStopped()
        #expect(machine.read == .paused)
        #expect(machine.interest == (false, false))
        let ready = machine.responseReady(sequence: 0, response: Self.ok, draining: false)
        #expect(ready.count == 1)
        #expect(machine.outputQueued(buffered: 100) == .write)
        // Input may wait inside OpenSSL or the parser, which epoll cannot announce: read at once.
        #expect(machine.outputFlushed(now: 1) == .read)
        #expect(machine.read == .ready)
    }

    @Test func tooMuchBufferedOutputIsBackpressureToo() {
        var machine = Self.serving { $0.maxBufferedOutput = 1000 }
        _ = machine.requestReceived(keepAlive: true, headOnly: false)
        _ = machine.responseReady(sequence: 0, response: Self.ok, draining: false)
        _ = machine.outputQueued(buffered: 1001)
        #expect(!machine.readsNow)
    }

    @Test func lastRequestClosesAfterItsResponseWithoutLingering() {
        var machine = Self.serving()
        _ = machine.requestReceived(keepAlive: false, headOnly: false)
        #expect(machine.phase == .finishing(linger: false))
        #expect(!machine.readsNow)
        let ready = machine.responseReady(sequence: 0, response: Self.ok, draining: false)
        #expect(ready.first?.keepAlive == false)
        #expect(machine.outputQueued(buffered: 100) == .write)
        #expect(machine.outputFlushed(now: 1) == .shutdownAndClose)
        #expect(machine.phase == .closed)
    }

    /// Lingering close: a refused request is answered, then what the client still sends is read and
    /// discarded until it closes.
    @Test func refusedRequestLingersUntilThePeerCloses() {
        var machine = Self.serving()
        let sequence = machine.requestRefused()
        #expect(machine.phase == .finishing(linger: true))
        #expect(machine.responseReady(sequence: sequence, response: .problem(.contentTooLarge()), draining: false).count == 1)
        #expect(machine.outputQueued(buffered: 300) == .write)
        #expect(machine.outputFlushed(now: Self.second) == .startLingering)
        #expect(machine.readsNow && !machine.parsesNow)
        #expect(machine.interest == (true, false))
        #expect(machine.bytesRead(65536, now: Self.second + 1) == .none)
        #expect(machine.peerClosed() == .close(.lingerDone))
    }

    @Test func lingeringStopsAtTheByteBound() {
        var machine = Self.lingering(since: 0)
        #expect(machine.bytesRead(1 << 19, now: 1) == .none)
        #expect(machine.bytesRead(1 << 19, now: 2) == .none)
        #expect(machine.bytesRead(1, now: 3) == .close(.lingerBoundReached))
    }

    @Test func drainingServerStopsLingering() {
        var machine = Self.lingering(since: 0)
        #expect(machine.tick(now: 1, draining: true) == .close(.draining))
        var other = Self.lingering(since: 0)
        #expect(other.drain() == .close(.draining))
    }

    @Test func lingeringStopsAtTheIdleBound() {
        var machine = Self.lingering(since: 0)
        #expect(machine.bytesRead(10, now: Self.second) == .none)
        #expect(machine.tick(now: 3 * Self.second, draining: false) == .none)
        #expect(machine.tick(now: 3 * Self.second + 1, draining: false) == .close(.lingerBoundReached))
    }

    @Test func lingeringStopsAtTheTotalBoundEvenWhileTheClientKeepsSending() {
        var machine = Self.lingering(since: 0)
        var now: UInt64 = 0
        while now <= 5 * Self.second {
            now += Self.second / 2
            #expect(machine.bytesRead(100, now: now) == .none)
            if case .closed = machine.phase { break }
            let action = machine.tick(now: now, draining: false)
            if now > 5 * Self.second {
                #expect(action == .close(.lingerBoundReached))
            } else {
                #expect(action == .none)
            }
        }
        #expect(machine.phase == .closed)
    }

    static func lingering(since: UInt64) -> Machine {
        var machine = serving()
        let sequence = machine.requestRefused()
        _ = machine.responseReady(sequence: sequence, response: .problem(.contentTooLarge()), draining: false)
        _ = machine.outputQueued(buffered: 300)
        #expect(machine.outputFlushed(now: since) == .startLingering)
        return machine
    }

    @Test func partialRequestGets408AtTheRequestTimeoutThenLingers() {
        var machine = Self.serving()
        machine.parserHoldsPartialRequest(true, now: Self.second)
        machine.parserHoldsPartialRequest(true, now: 2 * Self.second)  // the clock runs from the first byte
        #expect(machine.tick(now: 31 * Self.second, draining: false) == .none)
        #expect(machine.tick(now: 31 * Self.second + 1, draining: false) == .timeOut(sequence: 0))
        #expect(machine.phase == .finishing(linger: true))
        #expect(machine.tick(now: 32 * Self.second, draining: false) == .none)  // 408 is sent once
    }

    @Test func idleConnectionClosesAtTheIdleTimeoutButNotWithAPartialRequest() {
        var machine = Self.serving()
        #expect(machine.bytesRead(10, now: Self.second) == .none)
        machine.parserHoldsPartialRequest(true, now: Self.second)
        #expect(machine.tick(now: 62 * Self.second, draining: false) == .timeOut(sequence: 0))
        var idle = Self.serving()
        #expect(idle.tick(now: 60 * Self.second, draining: false) == .none)
        #expect(idle.tick(now: 60 * Self.second + 1, draining: false) == .close(.idle))
    }

    @Test func writeThatMakesNoProgressClosesAtTheRequestTimeout() {
        var machine = Self.serving()
        _ = machine.requestReceived(keepAlive: true, headOnly: false)
        _ = machine.responseReady(sequence: 0, response: Self.ok, draining: false)
        _ = machine.outputQueued(buffered: 100_000)
        machine.writeBlocked(remaining: 90_000, wantsReadable: false, progressed: true, now: 0)
        machine.writeBlocked(remaining: 80_000, wantsReadable: false, progressed: true, now: 20 * Self.second)
        #expect(machine.tick(now: 49 * Self.second, draining: false) == .none)
        machine.writeBlocked(remaining: 80_000, wantsReadable: true, progressed: false, now: 49 * Self.second)
        #expect(machine.interest.readable)
        #expect(machine.tick(now: 50 * Self.second + 1, draining: false) == .close(.writeStalled))
    }

    @Test func drainingClosesIdleConnectionsAndFinishesBusyOnes() {
        var idle = Self.serving()
        #expect(idle.drain() == .close(.draining))
        var handshaking = Self.machine()
        #expect(handshaking.drain() == .close(.draining))
        var busy = Self.serving()
        _ = busy.requestReceived(keepAlive: true, headOnly: false)
        #expect(busy.drain() == .none)
        #expect(busy.phase == .finishing(linger: false))
        let ready = busy.responseReady(sequence: 0, response: Self.ok, draining: true)
        #expect(ready.first?.keepAlive == false)
        _ = busy.outputQueued(buffered: 10)
        #expect(busy.outputFlushed(now: 1) == .shutdownAndClose)
    }

    @Test func peerThatClosesGetsItsInFlightAnswersFirst() {
        var machine = Self.serving()
        _ = machine.requestReceived(keepAlive: true, headOnly: false)
        #expect(machine.peerClosed() == .none)
        #expect(machine.phase == .finishing(linger: false))
        _ = machine.responseReady(sequence: 0, response: Self.ok, draining: false)
        _ = machine.outputQueued(buffered: 10)
        #expect(machine.outputFlushed(now: 1) == .shutdownAndClose)
        var idle = Self.serving()
        #expect(idle.peerClosed() == .close(.peerClosed))
    }

    @Test func readThatNeedsTheSocketWritableArmsWriting() {
        var machine = Self.serving()
        machine.readStopped(wantsWritable: true)
        #expect(machine.interest == (false, true))
        #expect(machine.bytesRead(5, now: 1) == .none)
        #expect(machine.interest == (true, false))
    }

    @Test func responseAfterCloseIsDropped() {
        var machine = Self.serving()
        _ = machine.requestReceived(keepAlive: true, headOnly: false)
        #expect(machine.failed() == .close(.failed))
        #expect(machine.responseReady(sequence: 0, response: Self.ok, draining: false).isEmpty)
        #expect(machine.outputQueued(buffered: 10) == .none)
    }
}
