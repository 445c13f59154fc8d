import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// A throwaway PostgreSQL cluster for tests: `initdb` into a fresh directory under /tmp, a server on a
/// free loopback port with its unix socket in the same directory, stopped and removed on release.
///
/// PostgreSQL refuses to run as root and CI runs as root, so every server program runs as the `postgres`
/// user through `runuser`; the directory is handed to that user first (docs/postgresql.md; the facts come
/// from the team's notes on this machine kind). Without root the cluster cannot be made, and suites skip
/// with ``unavailableReason``. Most suites share ``shared()``, one cluster per test process, each test in
/// a database of its own; a test that stops or crashes its server makes its own cluster.
public final class PostgresCluster: @unchecked Sendable {
    // @unchecked: `directory`, `binaries` and `port` never change; `postmasterPID` is behind a Mutex.

    /// The temporary directory: `data/` (the cluster), `server.log`, and the unix socket.
    public let directory: String
    /// The folder holding `initdb`, `pg_ctl` and `postgres`.
    public let binaries: String
    /// The loopback TCP port the server listens on (and the number in its socket's name).
    public let port: Int
    private let postmasterPID = Mutex<pid_t?>(nil)

    /// The data directory.
    public var dataDirectory: String { "\(directory)/data" }
    /// The server log, worth printing when a test fails.
    public var logFile: String { "\(directory)/server.log" }
    /// The directory holding the unix socket `.s.PGSQL.<port>`.
    public var socketDirectory: String { directory }

    /// Why clusters cannot be made here, or `nil` when they can: tests use it in `.enabled(if:)`.
    public static var unavailableReason: String? {
        getuid() == 0
            ? nil
            : "the PostgreSQL tests start their own server as the postgres user through runuser, which needs root"
    }

    /// A libpq connection string reaching `database` over loopback TCP as the `postgres` superuser.
    public func conninfo(database: String = "postgres") -> String {
        "host=127.0.0.1 port=\(port) user=postgres dbname=\(database)"
    }

    /// A libpq connection string reaching `database` over the unix socket.
    public func socketConninfo(database: String = "postgres") -> String {
        "host=\(socketDirectory) port=\(port) user=postgres dbname=\(database)"
    }

    /// Creates and starts a cluster. `settings` are appended to `postgresql.conf` (values quoted as
    /// needed by the caller, e.g. `["synchronous_standby_names": "'FIRST 1 (standby1)'"]`).
    public convenience init(settings: [String: String] = [:]) throws {
        try self.init(settings: settings) { binaries, data in
            try PostgresCluster.runAsPostgres([
                "\(binaries)/initdb", "-D", data, "-U", "postgres", "-A", "trust", "-E", "UTF8", "--locale=C.UTF-8",
                "--no-sync",
            ])
        }
    }

    /// Creates and starts a streaming standby of `primary` (`pg_basebackup -R -X stream`, whose
    /// `primary_conninfo` carries `application_name`, the name `synchronous_standby_names` lists).
    ///
    /// The standby's `synchronous_standby_names` is reset to empty unless `settings` say otherwise: the base
    /// backup copies the primary's `postgresql.conf`, and a promoted standby that still listed a standby of
    /// its own would block every COMMIT.
    public static func standby(
        of primary: PostgresCluster, applicationName: String, settings: [String: String] = [:]
    ) throws -> PostgresCluster {
        let source = "host=127.0.0.1 port=\(primary.port) user=postgres application_name=\(applicationName)"
        return try PostgresCluster(settings: ["synchronous_standby_names": "''"].merging(settings) { $1 }) {
            binaries, data in
            try PostgresCluster.runAsPostgres([
                "\(binaries)/pg_basebackup", "-d", source, "-D", data, "-R", "-X", "stream", "-c", "fast",
            ])
        }
    }

    /// Creates and starts a cluster restored from a physical base backup of the running `source`, by
    /// the procedure of docs/deployment.md ("Backup and restore"): `pg_basebackup -X stream -c fast`
    /// (a consistent copy with the WAL it needs, taken while `source` keeps committing), checked with
    /// `pg_verifybackup` against the backup's manifest, then started as a primary of its own (no
    /// `-R`: it replays the streamed WAL to the end of the backup and opens for writes).
    public static func restored(fromBaseBackupOf source: PostgresCluster) throws -> PostgresCluster {
        let conninfo = "host=127.0.0.1 port=\(source.port) user=postgres"
        return try PostgresCluster(settings: [:]) { binaries, data in
            try PostgresCluster.runAsPostgres([
                "\(binaries)/pg_basebackup", "-d", conninfo, "-D", data, "-X", "stream", "-c", "fast",
            ])
            try PostgresCluster.runAsPostgres(["\(binaries)/pg_verifybackup", "--quiet", data])
        }
    }

    private init(settings: [String: String], makeDataDirectory: (String, String) throws -> Void) throws {
        if let reason = PostgresCluster.unavailableReason { throw TestFailure(reason) }
        binaries = try PostgresCluster.findBinaries()
        PostgresCluster.removeAbandonedClusters()
        var template = Array("/tmp/heyan-pg-XXXXXX".utf8CString)
        guard template.withUnsafeMutableBufferPointer({ mkdtemp($0.baseAddress!) }) != nil else {
            throw TestFailure("mkdtemp failed: errno \(errno)")
        }
        directory = template.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }
        do {
            guard let account = getpwnam("postgres") else {
                throw TestFailure("no postgres user: install the postgresql package (make deps)")
            }
            // mkdtemp makes the directory root's and 0700; postgres must own the data and socket dirs.
            guard chown(directory, account.pointee.pw_uid, account.pointee.pw_gid) == 0 else {
                throw TestFailure("chown \(directory): errno \(errno)")
            }
            try writeFile("\(directory)/heyan-owner.pid", Array("\(getpid())\n".utf8))
            try makeDataDirectory(binaries, "\(directory)/data")
            port = try PostgresCluster.freeLoopbackPort()
            // Appended, so these win over any earlier line (a base backup copies the primary's file).
            var configuration = """

                # heyan test cluster
                listen_addresses = '127.0.0.1'
                port = \(port)
                unix_socket_directories = '\(directory)'
                lc_messages = 'C'
                # After a crash the server syncs the data directory before recovery; file by file that took
                # ~3 s here, one syncfs() 0.2 s.
                recovery_init_sync_method = syncfs

                """
            for (name, value) in settings.sorted(by: { $0.key < $1.key }) { configuration += "\(name) = \(value)\n" }
            try appendFile("\(directory)/data/postgresql.conf", configuration)
            try start()
        } catch {
            _ = try? Subprocess.run(["/bin/rm", "-rf", directory])
            throw error
        }
    }

    deinit { destroy() }

    // MARK: - The shared cluster

    private static let sharedCluster = Mutex<PostgresCluster?>(nil)

    /// The cluster shared by every suite of this test process, started on first use and removed when the
    /// process exits.
    public static func shared() throws -> PostgresCluster {
        try sharedCluster.withLock { shared in
            if let shared { return shared }
            let cluster = try PostgresCluster()
            shared = cluster
            atexit {
                // Runs on the main thread at exit; stopping here keeps no server behind a finished run.
                PostgresCluster.sharedCluster.withLock { $0?.destroy() }
            }
            return cluster
        }
    }

    /// Makes a fresh, empty schema in the `postgres` database and returns a connection string whose
    /// `search_path` is that schema, so tests sharing the cluster do not see each other's tables.
    ///
    /// A schema, not a database: `CREATE DATABASE` copies template1 through the WAL, 0.2–0.4 s each here,
    /// against milliseconds for a schema. Tests in the same database share notification channels and
    /// advisory locks, so they use channel names of their own.
    public func createSchema(prefix: String = "test") throws -> (schema: String, conninfo: String) {
        let name = "\(prefix)_\(UInt64.random(in: 0..<UInt64.max) & 0xFFFF_FFFF_FFFF)"
        try psql("CREATE SCHEMA \(name)")
        return (name, "\(conninfo()) options=-csearch_path=\(name)")
    }

    /// Makes a fresh database (for a test that needs its own notifications or locks) and returns its name.
    public func createDatabase(prefix: String = "test") throws -> String {
        let name = "\(prefix)_\(UInt64.random(in: 0..<UInt64.max) & 0xFFFF_FFFF_FFFF)"
        try psql("CREATE DATABASE \(name)")
        return name
    }

    /// Runs one SQL command through `psql` as the superuser, throwing with its stderr when it fails.
    public func psql(_ command: String, database: String = "postgres") throws {
        let result = try Subprocess.run([
            "/usr/bin/psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", conninfo(database: database), "-c", command,
        ])
        guard result.succeeded else { throw TestFailure("psql \(command) failed: \(result.stderr)") }
    }

    // MARK: - Starting and stopping

    /// Starts the server (`pg_ctl start -w`) and waits until it accepts connections.
    public func start() throws {
        try PostgresCluster.runAsPostgres([
            "\(binaries)/pg_ctl", "-D", dataDirectory, "-l", logFile, "-w", "-t", "30", "start",
        ]) { "\($0)\n--- server.log:\n\(self.serverLog())" }
        let pid = try readPostmasterPID()
        postmasterPID.withLock { $0 = pid }
    }

    /// Promotes a standby to primary (`pg_ctl promote -w`, which returns once it accepts writes).
    public func promote() throws {
        try PostgresCluster.runAsPostgres(["\(binaries)/pg_ctl", "-D", dataDirectory, "-w", "promote"])
    }

    /// How ``stop(_:)`` stops the server: `fast` rolls back sessions and checkpoints; `immediate` ends
    /// every process at once without a checkpoint, as a crash would (recovery runs at the next start).
    public enum StopMode: String, Sendable {
        case fast
        case immediate
    }

    /// Stops the server with `pg_ctl stop -w`, which returns once the postmaster has exited.
    public func stop(_ mode: StopMode = .fast) throws {
        guard postmasterPID.withLock({ $0 }) != nil else { return }
        try PostgresCluster.runAsPostgres([
            "\(binaries)/pg_ctl", "-D", dataDirectory, "-m", mode.rawValue, "-w", "stop",
        ])
        postmasterPID.withLock { $0 = nil }
    }

    /// Freezes and then SIGKILLs the postmaster and all its children (a machine dying, not a shutdown).
    /// With `waitUntilReaped`, then waits until the postmaster is gone from /proc: init reaps the orphan
    /// lazily (1.2–1.8 s here), and until then a new server refuses the data directory ("Is another
    /// postmaster running?"). A test that never restarts this cluster need not wait.
    public func crash(waitUntilReaped: Bool = true) throws {
        guard let pid = postmasterPID.withLock({ $0 }) else { return }
        let children = try Subprocess.run(["/bin/ps", "-o", "pid=", "--ppid", String(pid)]).stdout
            .split(whereSeparator: \.isWhitespace).compactMap { pid_t($0) }
        let all = [pid] + children
        for process in all { kill(process, SIGSTOP) }
        for process in all { kill(process, SIGKILL) }
        if waitUntilReaped { try waitUntilGone(pid) }
        postmasterPID.withLock { $0 = nil }
    }

    /// Stops the server if running (immediately: its data is about to go) and removes the directory.
    public func destroy() {
        if let pid = postmasterPID.withLock({ $0 }) {
            if (try? stop(.immediate)) == nil {
                kill(pid, SIGKILL)
                try? waitUntilGone(pid)
            }
        }
        // Waited for: an rm left running when the test process exits was seen cut short, leaving half a
        // directory behind.
        _ = try? Subprocess.run(["/bin/rm", "-rf", directory])
    }

    /// The server log so far.
    public func serverLog() -> String {
        (try? readFile(logFile)).map { String(decoding: $0, as: UTF8.self) } ?? "(no server.log)"
    }

    private func readPostmasterPID() throws -> pid_t {
        let text = String(decoding: try readFile("\(dataDirectory)/postmaster.pid"), as: UTF8.self)
        guard let line = text.split(separator: "\n").first, let pid = pid_t(line) else {
            throw TestFailure("cannot read the postmaster's pid from \(dataDirectory)/postmaster.pid")
        }
        return pid
    }

    private func waitUntilGone(_ pid: pid_t, timeout: Double = 15) throws {
        let deadline = monotonicSeconds() + timeout
        while access("/proc/\(pid)", F_OK) == 0 {
            guard monotonicSeconds() < deadline else { throw TestFailure("postmaster \(pid) still in /proc") }
            usleep(20_000)
        }
    }

    // MARK: - Helpers

    /// The newest `/usr/lib/postgresql/<version>/bin` holding `initdb`.
    private static func findBinaries() throws -> String {
        let versions = try Subprocess.run(["/bin/ls", "/usr/lib/postgresql"]).stdout
            .split(whereSeparator: \.isWhitespace).compactMap { Int($0) }.sorted()
        for version in versions.reversed() where access("/usr/lib/postgresql/\(version)/bin/initdb", X_OK) == 0 {
            return "/usr/lib/postgresql/\(version)/bin"
        }
        throw TestFailure("no PostgreSQL server binaries under /usr/lib/postgresql: run `make deps`")
    }

    /// Runs a server program as the postgres user, from `/` (the test's working directory may not be
    /// readable by postgres). Throws with its output when it fails.
    private static func runAsPostgres(
        _ arguments: [String], describe: (String) -> String = { $0 }
    ) throws {
        let result = try Subprocess.run(
            ["/usr/sbin/runuser", "-u", "postgres", "--", "/usr/bin/env", "-C", "/"] + arguments, timeout: 60)
        guard result.succeeded else {
            throw TestFailure(
                describe(
                    "\(arguments.joined(separator: " ")) failed (\(result.status)): \(result.stdout)\(result.stderr)"))
        }
    }

    /// A TCP port on 127.0.0.1 that nothing listens on right now (bind to port 0, read it, close).
    public static func freeLoopbackPort() throws -> Int {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw TestFailure("socket: errno \(errno)") }
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = 0
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { socketAddress in
                bind(fd, socketAddress, length) == 0 && getsockname(fd, socketAddress, &length) == 0
            }
        }
        guard bound else { throw TestFailure("bind/getsockname: errno \(errno)") }
        return Int(UInt16(bigEndian: address.sin_port))
    }

    /// Stops and removes clusters left in /tmp by test processes that died without cleaning up.
    private static func removeAbandonedClusters() {
        guard let listing = try? Subprocess.run(["/bin/sh", "-c", "ls -d /tmp/heyan-pg-* 2>/dev/null"]) else { return }
        for directory in listing.stdout.split(separator: "\n").map(String.init) {
            guard let owner = try? readFile("\(directory)/heyan-owner.pid"),
                let pid = pid_t(String(decoding: owner, as: UTF8.self).split(separator: "\n").first ?? ""),
                kill(pid, 0) != 0, errno == ESRCH
            else { continue }
            if let text = try? readFile("\(directory)/data/postmaster.pid"),
                let line = String(decoding: text, as: UTF8.self).split(separator: "\n").first,
                let postmaster = pid_t(line)
            {
                kill(postmaster, SIGKILL)
            }
            _ = try? Subprocess.run(["/bin/rm", "-rf", directory])
        }
    }

    private func appendFile(_ path: String, _ text: String) throws {
        let fd = open(path, O_WRONLY | O_APPEND | O_CLOEXEC)
        guard fd >= 0 else { throw TestFailure("open \(path): errno \(errno)") }
        defer { close(fd) }
        let bytes = Array(text.utf8)
        guard bytes.withUnsafeBytes({ write(fd, $0.baseAddress, $0.count) }) == bytes.count else {
            throw TestFailure("write \(path): errno \(errno)")
        }
    }
}

// MARK: - From async tests

/// The same operations for `async` tests. Each runs on a thread of its own and is awaited, so the seconds a
/// server program takes (initdb, pg_ctl, pg_basebackup, waiting for a reaped postmaster) do not hold one of
/// the few threads of Swift's cooperative pool (two on this machine), which every test of the process
/// shares: blocked there, they stalled unrelated tests and ran the PostgreSQL suites one or two at a time.
extension PostgresCluster {
    /// ``init(settings:)``, off the pool.
    public static func make(settings: [String: String] = [:]) async throws -> PostgresCluster {
        try await onOwnThread { try PostgresCluster(settings: settings) }
    }

    /// ``standby(of:applicationName:settings:)``, off the pool.
    public static func makeStandby(
        of primary: PostgresCluster, applicationName: String, settings: [String: String] = [:]
    ) async throws -> PostgresCluster {
        try await onOwnThread {
            try PostgresCluster.standby(of: primary, applicationName: applicationName, settings: settings)
        }
    }

    /// ``shared()``, off the pool (the first caller starts it; the others wait on a thread of their own).
    public static func shared() async throws -> PostgresCluster {
        try await onOwnThread { try PostgresCluster.shared() }
    }

    /// ``createSchema(prefix:)``, off the pool.
    public func createSchema(prefix: String = "test") async throws -> (schema: String, conninfo: String) {
        try await onOwnThread { try self.createSchema(prefix: prefix) }
    }

    /// ``start()``, off the pool.
    public func start() async throws { try await onOwnThread { try self.start() } }

    /// ``stop(_:)``, off the pool.
    public func stop(_ mode: StopMode = .fast) async throws { try await onOwnThread { try self.stop(mode) } }

    /// ``crash(waitUntilReaped:)``, off the pool.
    public func crash(waitUntilReaped: Bool = true) async throws {
        try await onOwnThread { try self.crash(waitUntilReaped: waitUntilReaped) }
    }

    /// ``promote()``, off the pool.
    public func promote() async throws { try await onOwnThread { try self.promote() } }
}

/// Runs blocking `body` on a new thread and awaits its result, keeping the cooperative pool free.
public func onOwnThread<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
    try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<T, any Error>) in
        let start = OwnThreadStart { continuation.resume(with: Result { try body() }) }
        var thread = pthread_t()
        let created = pthread_create(
            &thread, nil,
            { raw in
                Unmanaged<OwnThreadStart>.fromOpaque(raw!).takeRetainedValue().body()
                return nil
            }, Unmanaged.passRetained(start).toOpaque())
        if created == 0 {
            pthread_detach(thread)
        } else {
            Unmanaged.passUnretained(start).release()
            continuation.resume(throwing: TestFailure("pthread_create failed: \(created)"))
        }
    }
}

/// A thread's body, non-generic so a C function pointer can start it.
private final class OwnThreadStart: Sendable {
    let body: @Sendable () -> Void
    init(_ body: @escaping @Sendable () -> Void) { self.body = body }
}
