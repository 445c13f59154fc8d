/// When each request of an open-loop run should be sent: request `i` at `start + i / rate`
/// (plus a phase, so several worker threads interleave their shares of the total rate).
///
/// The schedule does not care whether a connection is free: a request that cannot be sent at
/// its intended time stays due and is taken later, and its latency is still measured from the
/// intended time (``RunAccounting``), so a slow server cannot hide its queueing by slowing the
/// generator down (coordinated omission).
public struct OpenLoopSchedule: Sendable {
    public let start: UInt64
    /// Nanoseconds between two requests of this schedule.
    public let interval: Double
    /// Index of the next request not yet taken.
    public private(set) var nextIndex = 0

    /// - Parameters:
    ///   - ratePerSecond: this schedule's share of the total rate.
    ///   - start: monotonic nanoseconds of request 0 (before the phase).
    ///   - phase: added to every intended time.
    public init(ratePerSecond: Double, start: UInt64, phase: UInt64 = 0) {
        precondition(ratePerSecond > 0)
        self.start = start &+ phase
        interval = 1e9 / ratePerSecond
    }

    /// Intended send time of request `index`.
    @inline(__always)
    public func intendedTime(_ index: Int) -> UInt64 { start &+ UInt64(Double(index) * interval) }

    /// Intended time of the next request not yet taken (due or not).
    public var nextIntendedTime: UInt64 { intendedTime(nextIndex) }

    /// Takes the oldest request that is due at `now` and returns its intended time; nil when none
    /// is due.
    public mutating func takeDue(now: UInt64) -> UInt64? {
        let intended = intendedTime(nextIndex)
        guard intended <= now else { return nil }
        nextIndex += 1
        return intended
    }

    /// Requests intended in `window` that were due by `now` but never taken (the backlog the
    /// generator could not send: dropped).
    public func backlog(at now: UInt64, window: Range<UInt64>) -> Int {
        var count = 0
        var index = nextIndex
        // A backlog is short in any sane run; stop counting after ten million.
        while count < 10_000_000 {
            let intended = intendedTime(index)
            if intended > now || intended >= window.upperBound { break }
            if intended >= window.lowerBound { count += 1 }
            index += 1
        }
        return count
    }
}

/// What one worker measured: the counters of a run and the rules for what counts.
///
/// Only work that completes inside the measurement window (after the warmup, before the end) is
/// counted; errors count whenever they happen, so a failing warmup is not hidden. Latency is
/// taken from the moment a transaction *should* have started: its intended time in an open-loop
/// run, the moment it was started in a closed-loop one.
public struct RunAccounting: Sendable {
    public let window: Range<UInt64>
    /// A request sent more than this many nanoseconds after its intended time is late.
    public let lateAfter: UInt64

    public var latency = LatencyHistogram()
    /// HTTP responses received in the window.
    public var requests: UInt64 = 0
    /// Completed transactions (a request, or a queue round trip) in the window.
    public var transactions: UInt64 = 0
    /// Completed TLS handshakes in the window.
    public var handshakes: UInt64 = 0
    /// Open-loop requests sent late, and due requests never sent.
    public var late: UInt64 = 0
    public var dropped: UInt64 = 0
    public var errors = [UInt64](repeating: 0, count: BenchErrorKind.allCases.count)
    /// Responses by status code (index = status, 0..<600).
    public var statuses = [UInt64](repeating: 0, count: 600)
    /// Connections still open when the run ended, and (idle scenario) those the server closed.
    public var connectionsOpen: UInt64 = 0
    public var connectionsClosedByServer: UInt64 = 0
    /// The first few error messages, for the report.
    public var errorSamples: [String] = []

    public init(window: Range<UInt64>, lateAfter: UInt64 = 1_000_000) {
        self.window = window
        self.lateAfter = lateAfter
    }

    /// A transaction intended for `intended` was started at `now` (late when that is inside the
    /// window and more than ``lateAfter`` after the intended time, even if it was intended during
    /// the warmup).
    @inline(__always)
    public mutating func started(intended: UInt64, now: UInt64) {
        if now > intended && now - intended > lateAfter && window.contains(now) { late &+= 1 }
    }

    /// A transaction that should have started at `intended` completed at `now`.
    @inline(__always)
    public mutating func completed(intended: UInt64, now: UInt64) {
        guard window.contains(now) else { return }
        transactions &+= 1
        latency.record(nanoseconds: now &- intended)
    }

    @inline(__always)
    public mutating func response(status: Int, now: UInt64) {
        guard window.contains(now) else { return }
        requests &+= 1
        if status >= 0 && status < 600 { statuses[status] &+= 1 }
    }

    @inline(__always)
    public mutating func handshake(now: UInt64) {
        if window.contains(now) { handshakes &+= 1 }
    }

    public mutating func error(_ kind: BenchErrorKind, _ message: @autoclosure () -> String) {
        errors[kind.rawValue] &+= 1
        if errorSamples.count < 5 {
            let text = "\(kind.name): \(message())"
            if !errorSamples.contains(text) { errorSamples.append(text) }
        }
    }

    /// Adds another worker's counters (same window).
    public mutating func merge(_ other: RunAccounting) {
        latency.merge(other.latency)
        requests &+= other.requests
        transactions &+= other.transactions
        handshakes &+= other.handshakes
        late &+= other.late
        dropped &+= other.dropped
        connectionsOpen &+= other.connectionsOpen
        connectionsClosedByServer &+= other.connectionsClosedByServer
        for index in errors.indices { errors[index] &+= other.errors[index] }
        for index in statuses.indices { statuses[index] &+= other.statuses[index] }
        for sample in other.errorSamples where errorSamples.count < 8 && !errorSamples.contains(sample) {
            errorSamples.append(sample)
        }
    }
}

/// Why a request or connection failed.
public enum BenchErrorKind: Int, CaseIterable, Sendable {
    /// TCP connect failed or timed out.
    case connect
    /// The TLS handshake failed (certificate rejected, protocol error).
    case handshake
    /// A read or write failed, or the server closed the connection with a request outstanding.
    case closed
    /// A response with a status the scenario did not expect (counted per status in `statuses`).
    case httpStatus
    /// A response that is not HTTP/1.1 as expected.
    case parse
    /// No response within `--timeout` (also connects and handshakes that take longer).
    case timeout
    /// A response whose body lacked what the scenario needed next (an empty queue lease).
    case body

    /// The name used in the report and the JSON `errors` object.
    public var name: String {
        switch self {
        case .connect: "connect"
        case .handshake: "handshake"
        case .closed: "closed"
        case .httpStatus: "http-status"
        case .parse: "parse"
        case .timeout: "timeout"
        case .body: "body"
        }
    }
}
