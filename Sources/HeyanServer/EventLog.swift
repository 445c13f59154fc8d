#if canImport(Glibc)
import HeyanDomain
import Glibc
#endif
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

    public init(fd: Int32 = 2, minimumLevel: Level = .info) {
        self.fd = fd
        self.minimumLevel = minimumLevel
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

    /// Logs an event with string fields (escaped as JSON strings) and numeric fields.
    public func log(_ level: Level, _ event: String, _ fields: [(String, String)] = [], numbers: [(String, Double)] = []) {
        guard level >= minimumLevel else { return }
        var line: [UInt8] = []
        line.reserveCapacity(192)
        line.append(contentsOf: "{\"time\":\"".utf8)
        line.append(contentsOf: Self.timestamp().utf8)
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

    /// RFC 3339 UTC with milliseconds.
    static func timestamp() -> String {
        var ts = timespec()
        clock_gettime(CLOCK_REALTIME, &ts)
        var seconds = time_t(ts.tv_sec)
        var parts = tm()
        gmtime_r(&seconds, &parts)
        func pad(_ value: Int32, _ width: Int) -> String {
            let text = String(value)
            return String(repeating: "0", count: max(0, width - text.count)) + text
        }
        return "\(pad(parts.tm_year + 1900, 4))-\(pad(parts.tm_mon + 1, 2))-\(pad(parts.tm_mday, 2))T"
            + "\(pad(parts.tm_hour, 2)):\(pad(parts.tm_min, 2)):\(pad(parts.tm_sec, 2)).\(pad(Int32(ts.tv_nsec / 1_000_000), 3))Z"
    }
}
