#if canImport(Glibc)
import Glibc
#endif

/// The standard `process_*` metrics every Prometheus client library exports, read from `/proc`
/// at scrape time with the same meaning as client_golang's process collector, so stock
/// dashboards and alerts work on heyan unchanged (docs/metrics.md).
struct ProcessMetrics: Equatable {
    /// User and system CPU time of the whole process (`utime + stime` of `/proc/self/stat`).
    var cpuSeconds: Double
    /// Resident set size (`rss` pages × page size).
    var residentBytes: Int
    /// Virtual memory size (`vsize`).
    var virtualBytes: Int
    /// Entries of `/proc/self/fd`.
    var openFDs: Int
    /// The soft limit "Max open files" of `/proc/self/limits`; nil when unlimited.
    var maxFDs: Int?
    /// Boot time (`btime` of `/proc/stat`) plus the process's `starttime`.
    var startTimeSeconds: Double

    /// Reads the current process; nil when `/proc` is not there or not in the expected form.
    static func current() -> ProcessMetrics? {
        guard let stat = readProcFile("/proc/self/stat"), let system = readProcFile("/proc/stat"),
            let limits = readProcFile("/proc/self/limits")
        else { return nil }
        return parse(
            stat: stat, systemStat: system, limits: limits, openFDs: countOpenFDs(),
            ticksPerSecond: Double(sysconf(Int32(_SC_CLK_TCK))), pageSize: Int(sysconf(Int32(_SC_PAGESIZE))))
    }

    /// Parses the three files (kept apart from the reading, for tests).
    static func parse(
        stat: String, systemStat: String, limits: String, openFDs: Int?, ticksPerSecond: Double, pageSize: Int
    ) -> ProcessMetrics? {
        // `pid (comm) state ppid …`: comm may hold spaces and parentheses, so split after the last ')'.
        guard let close = stat.lastIndex(of: ")"), ticksPerSecond > 0 else { return nil }
        // fields[0] is field 3 of proc(5) (state); field n is fields[n - 3].
        let fields = stat[stat.index(after: close)...].split(separator: " ", omittingEmptySubsequences: true)
        guard fields.count >= 22, let utime = Double(fields[11]), let stime = Double(fields[12]),
            let startTicks = Double(fields[19]), let vsize = Int(fields[20]), let rss = Int(fields[21]),
            let bootTime = systemStat.split(separator: "\n").first(where: { $0.hasPrefix("btime ") })
                .flatMap({ Double($0.dropFirst(6).trimmingSpaces) }),
            let openFDs
        else { return nil }
        var maxFDs: Int?
        if let line = limits.split(separator: "\n").first(where: { $0.hasPrefix("Max open files") }) {
            // "Max open files            1024                 1048576              files"
            let columns = line.dropFirst("Max open files".count).split(separator: " ", omittingEmptySubsequences: true)
            if let soft = columns.first { maxFDs = Int(soft) }  // "unlimited" stays nil
        }
        return ProcessMetrics(
            cpuSeconds: (utime + stime) / ticksPerSecond, residentBytes: rss * pageSize, virtualBytes: vsize,
            openFDs: openFDs, maxFDs: maxFDs, startTimeSeconds: bootTime + startTicks / ticksPerSecond)
    }

    /// Appends the six families to `out`.
    func render(into out: inout String) {
        func family(_ name: String, _ type: String, _ help: String, _ value: String) {
            out += "# HELP \(name) \(help)\n# TYPE \(name) \(type)\n\(name) \(value)\n"
        }
        family(
            "process_cpu_seconds_total", "counter", "Total user and system CPU time spent in seconds.", "\(cpuSeconds)")
        family("process_open_fds", "gauge", "Number of open file descriptors.", "\(openFDs)")
        if let maxFDs { family("process_max_fds", "gauge", "Maximum number of open file descriptors.", "\(maxFDs)") }
        family("process_virtual_memory_bytes", "gauge", "Virtual memory size in bytes.", "\(virtualBytes)")
        family("process_resident_memory_bytes", "gauge", "Resident memory size in bytes.", "\(residentBytes)")
        family(
            "process_start_time_seconds", "gauge", "Start time of the process since unix epoch in seconds.",
            "\(startTimeSeconds)")
    }

    /// A small `/proc` file read whole (their size reads as 0, so read until EOF).
    static func readProcFile(_ path: String) -> String? {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var bytes: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 4096)
        while true {
            let count = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if count < 0 && errno == EINTR { continue }
            guard count >= 0 else { return nil }
            if count == 0 { break }
            bytes += buffer[..<count]
            if bytes.count > 1 << 20 { return nil }
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    /// Entries of `/proc/self/fd` (the directory's own descriptor included, as client_golang counts).
    static func countOpenFDs() -> Int? { countEntries(of: "/proc/self/fd") }

    /// Entries of the directory at `path` other than `.` and `..`; nil when it cannot be opened.
    ///
    /// The name is read in place, up to its NUL, through the offset of `d_name`: glibc's `readdir`
    /// returns records only as long as their name (`d_reclen`), so copying `entry.pointee` or its
    /// 256-byte `d_name` reads past a short record — at the end of the buffer's last page, a SIGSEGV
    /// during a `/metrics` scrape (seen in CI, 2026-12-06).
    static func countEntries(of path: String) -> Int? {
        guard let directory = opendir(path) else { return nil }
        defer { closedir(directory) }
        var count = 0
        while let entry = readdir(directory) {
            if !isDotOrDotDot(entry) { count += 1 }
        }
        return count
    }

    /// Whether the record's name is `.` or `..`, reading no byte past the name's NUL.
    static func isDotOrDotDot(_ entry: UnsafePointer<dirent>) -> Bool {
        let name = UnsafeRawPointer(entry).advanced(by: direntNameOffset).assumingMemoryBound(to: UInt8.self)
        let dot = UInt8(ascii: ".")
        return name[0] == dot && (name[1] == 0 || (name[1] == dot && name[2] == 0))
    }

    static let direntNameOffset = MemoryLayout<dirent>.offset(of: \dirent.d_name)!
}

extension Substring {
    fileprivate var trimmingSpaces: Substring {
        var text = self
        while text.last == " " || text.last == "\r" { text = text.dropLast() }
        while text.first == " " { text = text.dropFirst() }
        return text
    }
}
