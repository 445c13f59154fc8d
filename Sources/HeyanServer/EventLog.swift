#if canImport(Glibc)
import Glibc
#endif
import HeyanDomain
import HeyanHTTP
import Synchronization

/// Structured log: one JSON object per line on stderr.
///
/// Lines are appended to a buffer under a lock and written by a flusher thread every 50 ms (or
/// at once when the buffer passes 64 KiB), so logging each request costs no system call on the
/// request path. Request lines carry the route template, never the raw path, so subject IDs in
/// paths do not reach the log.
public final class EventLog: Sendable {
    public enum Level: Int, Sendable, Comparable {
        case debug, info, warning, error
        public static func < (a: Level, b: Level) -> Bool { a.rawValue < b.rawValue }
        var name: String { ["debug", "info", "warning", "error"][rawValue] }
    }

    private let buffer = Mutex<[UInt8]>([])
    private let fd: Int32
    public let minimumLevel: Level
    /// The time each line carries (the service clock, so a test's manual clock shows in its log).
    let clock: any ServiceClock

    public init(fd: Int32 = 2, minimumLevel: Level = .info, clock: any ServiceClock = SystemClock()) {
        self.fd = fd
        self.minimumLevel = minimumLevel
        self.clock = clock
    }

    /// Starts the background flusher.
    public func startFlusher() {
        _ = try? startThread(name: "heyan-log") { [self] in
            while true {
                usleep(50_000)
                flush()
            }
        }
    }

    /// The request line, written straight into the shared buffer (no intermediate arrays): this
    /// runs once per request.
    public func logRequest(department: String, method: String, route: String, status: Int, durationMs: Double, connection: UInt64) {
        guard Level.info >= minimumLevel else { return }
        let stamp = timestamp()
        let size = buffer.withLock { line -> Int in
            line.append(contentsOf: "{\"time\":\"".utf8)
            line.append(contentsOf: stamp.utf8)
            line.append(contentsOf: "\",\"level\":\"info\",\"event\":\"request\",\"department\":".utf8)
            JSONText.appendString(department, to: &line)
            line.append(contentsOf: ",\"method\":".utf8)
            JSONText.appendString(method, to: &line)
            line.append(contentsOf: ",\"route\":".utf8)
            JSONText.appendString(route, to: &line)
            line.append(contentsOf: ",\"status\":".utf8)
            JSONText.appendInt(Int64(status), to: &line)
            line.append(contentsOf: ",\"durationMs\":".utf8)
            JSONText.appendInt(Int64(durationMs), to: &line)
            let fraction = Int((durationMs - durationMs.rounded(.towardZero)) * 1000)
            line.append(UInt8(ascii: "."))
            if fraction < 100 { line.append(UInt8(ascii: "0")) }
            if fraction < 10 { line.append(UInt8(ascii: "0")) }
            JSONText.appendInt(Int64(fraction), to: &line)
            line.append(contentsOf: ",\"connection\":".utf8)
            JSONText.appendInt(Int64(connection), to: &line)
            line.append(contentsOf: "}\n".utf8)
            return line.count
        }
        if size > 64 * 1024 { flush() }
    }

    /// Logs an event with string fields (escaped as JSON strings) and numeric fields.
    public func log(_ level: Level, _ event: String, _ fields: [(String, String)] = [], numbers: [(String, Double)] = []) {
        guard level >= minimumLevel else { return }
        var line: [UInt8] = []
        line.reserveCapacity(192)
        line.append(contentsOf: "{\"time\":\"".utf8)
        line.append(contentsOf: timestamp().utf8)
        line.append(contentsOf: "\",\"level\":\"".utf8)
        line.append(contentsOf: level.name.utf8)
        line.append(contentsOf: "\",\"event\":".utf8)
        JSONText.appendString(event, to: &line)
        for (name, value) in fields {
            line.append(UInt8(ascii: ","))
            JSONText.appendString(name, to: &line)
            line.append(UInt8(ascii: ":"))
            JSONText.appendString(value, to: &line)
        }
        for (name, value) in numbers {
            line.append(UInt8(ascii: ","))
            JSONText.appendString(name, to: &line)
            line.append(UInt8(ascii: ":"))
            line.append(contentsOf: Self.formatNumber(value).utf8)
        }
        line.append(contentsOf: "}\n".utf8)
        let size = buffer.withLock { pending -> Int in
            pending.append(contentsOf: line)
            return pending.count
        }
        if size > 64 * 1024 { flush() }
    }

    /// Writes out everything buffered.
    public func flush() {
        let bytes = buffer.withLock { pending -> [UInt8] in
            let taken = pending
            pending.removeAll(keepingCapacity: true)
            return taken
        }
        var offset = 0
        while offset < bytes.count {
            let written = bytes.withUnsafeBytes { write(fd, $0.baseAddress! + offset, bytes.count - offset) }
            if written <= 0 { if errno == EINTR { continue } else { return } }
            offset += written
        }
    }

    static func formatNumber(_ value: Double) -> String {
        if value == value.rounded() && abs(value) < 1e15 { return String(Int64(value)) }
        let scaled = (value * 1000).rounded() / 1000
        return String(scaled)
    }

    /// RFC 3339 UTC with milliseconds, written in place by ``Timestamp/rfc3339(_:)`` (the cached
    /// second behind a lock shared by the loops, and the string concatenation after it, cost ~3,000
    /// instructions per request line).
    func timestamp() -> String {
        Timestamp.rfc3339(clock.now())
    }
}
