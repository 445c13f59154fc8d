import Glibc
import Testing

@testable import HeyanStorage

/// The `sqlite3` command-line shell writes in a child process here, because forking the
/// multi-threaded test process and running Swift in the child is not safe. It is not part of
/// libsqlite3-dev (Debian package `sqlite3`); without it this test is skipped.
private let sqliteShell = "/usr/bin/sqlite3"

@Suite("Crash durability")
struct CrashDurabilityTests {
    let directory = TemporaryDirectory()

    /// A writer killed with SIGKILL mid-stream loses no commit that another connection had already
    /// seen, and the store reopens the crashed file (hot WAL, stale -shm) cleanly.
    @Test(
        "commits seen before kill -9 survive, and the store reopens the crashed database",
        .enabled(if: access(sqliteShell, X_OK) == 0, "needs the sqlite3 shell (Debian package sqlite3)"),
        .timeLimit(.minutes(1)))
    func killNineLosesNoCommit() throws {
        let path = directory.file("crash/heyan.sqlite")
        let instanceID = try {
            let store = try SQLiteStore(path: path)
            try store.write { try $0.execute("CREATE TABLE probe (n INTEGER PRIMARY KEY) STRICT") }
            return store.instanceID
        }()

        // One transaction per INSERT, as the shell runs them; far more than get done before the kill.
        let script = directory.file("writer.sql")
        var text = "PRAGMA synchronous = FULL;\nPRAGMA busy_timeout = 5000;\n"
        for n in 1...200_000 { text += "INSERT INTO probe VALUES (\(n));\n" }
        try writeFile(script, text)

        let child = try spawn([sqliteShell, path, ".read \(script)"])
        var seen: Int64 = 0
        let deadline = monotonicSeconds() + 30
        // Poll with short-lived connections, so nothing of ours holds the file open at the kill.
        while seen < 300 && monotonicSeconds() < deadline {
            let reader = try SQLiteConnection(path: path, mode: .readOnly)
            // The writer may hold the WAL index briefly (SQLITE_BUSY_RECOVERY under load): wait.
            try reader.execute("PRAGMA busy_timeout = 5000")
            seen = try reader.fetchScalar("SELECT count(*) FROM probe")?.integerValue ?? 0
        }
        #expect(kill(child, SIGKILL) == 0)
        var status: Int32 = 0
        #expect(waitpid(child, &status, 0) == child)
        // Killed by the signal, i.e. mid-stream, not finished on its own.
        #expect(status & 0x7F == SIGKILL)
        #expect(seen >= 300)

        let store = try SQLiteStore(path: path)
        #expect(store.instanceID == instanceID)
        #expect(store.migrationOutcome.applied.isEmpty)
        let (count, maximum) = try store.read { db in
            (
                try db.fetchScalar("SELECT count(*) FROM probe")?.integerValue ?? -1,
                try db.fetchScalar("SELECT max(n) FROM probe")?.integerValue ?? -1
            )
        }
        #expect(count >= seen)
        #expect(count == maximum)  // whole transactions only: 1…count, no gap
        #expect(try store.integrityCheck())
        // Still writable after recovery.
        try store.write { try $0.execute("INSERT INTO probe VALUES (?)", arguments: [.integer(count + 1)]) }
    }
}

private func writeFile(_ path: String, _ text: String) throws {
    let descriptor = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
    guard descriptor >= 0 else { throw SpawnFailure(what: "open \(path)", errno: errno) }
    defer { close(descriptor) }
    var bytes = Array(text.utf8)[...]
    while !bytes.isEmpty {
        let written = bytes.withUnsafeBytes { write(descriptor, $0.baseAddress, $0.count) }
        guard written > 0 else { throw SpawnFailure(what: "write \(path)", errno: errno) }
        bytes = bytes.dropFirst(written)
    }
}

private struct SpawnFailure: Error {
    let what: String
    let errno: Int32
}

/// Starts `arguments[0]` with `arguments`, stdout and stderr to /dev/null; returns its pid.
private func spawn(_ arguments: [String]) throws -> pid_t {
    var actions = posix_spawn_file_actions_t()
    posix_spawn_file_actions_init(&actions)
    defer { posix_spawn_file_actions_destroy(&actions) }
    posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0)
    posix_spawn_file_actions_addopen(&actions, 2, "/dev/null", O_WRONLY, 0)
    var argv: [UnsafeMutablePointer<CChar>?] = arguments.map { strdup($0) } + [nil]
    defer { for pointer in argv { free(pointer) } }
    var pid: pid_t = 0
    let returned = posix_spawn(&pid, arguments[0], &actions, nil, &argv, environ)
    guard returned == 0 else { throw SpawnFailure(what: "posix_spawn \(arguments[0])", errno: returned) }
    return pid
}
