import Glibc
import HeyanTestSupport
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
        try writeFile(script, Array(text.utf8), mode: 0o600)

        let child = try Subprocess([sqliteShell, path, ".read \(script)"])
        var seen: Int64 = 0
        let deadline = monotonicSeconds() + 30
        // Poll with short-lived connections, so nothing of ours holds the file open at the kill.
        while seen < 300 && monotonicSeconds() < deadline {
            let reader = try SQLiteConnection(path: path, mode: .readOnly)
            // The writer may hold the WAL index briefly (SQLITE_BUSY_RECOVERY under load): wait.
            try reader.execute("PRAGMA busy_timeout = 5000")
            seen = try reader.fetchScalar("SELECT count(*) FROM probe")?.integerValue ?? 0
        }
        child.signal(SIGKILL)
        // Killed by the signal, i.e. mid-stream, not finished on its own.
        #expect(child.wait(timeout: 10).status == 128 + SIGKILL)
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
