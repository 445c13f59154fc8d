import CSQLite
import Glibc
import HeyanTestSupport
import Testing

@testable import HeyanStorage

private struct Abort: Error {}

@Suite("SQLiteStore: open, pragmas, migrations, single writer")
struct SQLiteStoreTests {
    let directory = TemporaryDirectory()

    @Test("open creates the parent directories (0700) and the file, and applies the pragmas")
    func openAppliesPragmas() throws {
        let path = directory.file("state/nested/heyan.sqlite")
        #expect(fileStatus(directory.file("state")) == nil)
        let store = try SQLiteStore(path: path)

        let parent = try #require(fileStatus(directory.file("state/nested")))
        #expect(parent.st_mode & S_IFMT == S_IFDIR)
        #expect(parent.st_mode & 0o777 == 0o700)
        let file = try #require(fileStatus(path))
        #expect(file.st_mode & 0o777 == 0o600)
        let wal = try #require(fileStatus(path + "-wal"))  // WAL mode: the -wal file exists while open
        #expect(wal.st_mode & 0o777 == 0o600)

        let pragmas = try store.write { db in
            [
                try db.fetchScalar("PRAGMA journal_mode"),
                try db.fetchScalar("PRAGMA synchronous"),
                try db.fetchScalar("PRAGMA foreign_keys"),
                try db.fetchScalar("PRAGMA wal_autocheckpoint"),
                try db.fetchScalar("PRAGMA busy_timeout"),
            ]
        }
        // wal_autocheckpoint reads 0: the WAL hook of the background checkpointer replaced SQLite's
        // automatic checkpoint (WALCheckpointerTests).
        #expect(pragmas == [.text("wal"), .integer(2), .integer(1), .integer(0), .integer(5000)])
        let readerPragmas = try store.read { db in
            [try db.fetchScalar("PRAGMA journal_mode"), try db.fetchScalar("PRAGMA foreign_keys")]
        }
        #expect(readerPragmas == [.text("wal"), .integer(1)])
        #expect(try store.integrityCheck())
    }

    @Test("SQLite's memory statistics are off, so allocations take no process-wide mutex")
    func memoryStatisticsOff() throws {
        let store = try SQLiteStore(path: directory.file("statistics.sqlite"))
        try store.write { try $0.execute("CREATE TABLE t (x TEXT); INSERT INTO t VALUES (hex(randomblob(5000)))") }
        #expect(sqliteProcessSettings == SQLITE_OK)
        // With statistics on, every allocation is counted (under the global mutex): the open
        // connections alone hold hundreds of KiB. Off, nothing is counted.
        #expect(sqlite3_memory_used() == 0)
    }

    @Test("a fresh database ends at the latest version with service_meta filled in")
    func freshMigration() throws {
        let store = try SQLiteStore(path: directory.file("fresh.sqlite"))
        #expect(store.schemaVersion == HeyanSchema.latestVersion)
        #expect(store.migrationOutcome.previousVersion == 0)
        #expect(store.migrationOutcome.applied == HeyanSchema.migrations.map(\.name))
        #expect(store.instanceID.count == 32)
        #expect(store.instanceID.allSatisfy { "0123456789abcdef".contains($0) })
        // e.g. 2025-01-31T08:00:00.123Z
        #expect(store.schemaCreatedAt.count == 24 && store.schemaCreatedAt.hasSuffix("Z"))
        let userVersion = try store.read { try Migrator.userVersion(of: $0) }
        #expect(userVersion == HeyanSchema.latestVersion)
    }

    @Test("two databases get different instance IDs")
    func distinctInstanceIDs() throws {
        let first = try SQLiteStore(path: directory.file("a.sqlite"))
        let second = try SQLiteStore(path: directory.file("b.sqlite"))
        #expect(first.instanceID != second.instanceID)
    }

    @Test("reopening does not re-run migrations: meta values are unchanged")
    func reopenIsIdempotent() throws {
        let path = directory.file("reopen.sqlite")
        let (instanceID, createdAt) = try {
            let store = try SQLiteStore(path: path)
            return (store.instanceID, store.schemaCreatedAt)
        }()
        let reopened = try SQLiteStore(path: path)
        #expect(reopened.migrationOutcome.applied.isEmpty)
        #expect(reopened.migrationOutcome.previousVersion == HeyanSchema.latestVersion)
        #expect(reopened.instanceID == instanceID)
        #expect(reopened.schemaCreatedAt == createdAt)
        // schema_created_at, instance_id, spot_check_seed (migration 3)
        #expect(try reopened.read { try $0.fetchScalar("SELECT count(*) FROM service_meta") } == .integer(3))
    }

    @Test("later migrations run on an older database, each once, in order")
    func incrementalMigration() throws {
        let path = directory.file("incremental.sqlite")
        let first = Migration(version: 1, name: "one") { try $0.execute("CREATE TABLE log (step TEXT) STRICT") }
        let second = Migration(version: 2, name: "two") {
            try $0.execute("INSERT INTO log VALUES (?)", arguments: [.text("two")])
        }
        let failing = Migration(version: 3, name: "three") { db in
            try db.execute("INSERT INTO log VALUES (?)", arguments: [.text("three")])
            throw Abort()
        }
        _ = try SQLiteStore(path: path, migrator: Migrator([first]))
        let upgraded = try SQLiteStore(path: path, migrator: Migrator([first, second]))
        #expect(upgraded.migrationOutcome == .init(previousVersion: 1, currentVersion: 2, applied: ["two"]))
        // A failing migration leaves the database at the last whole version, its changes rolled back.
        #expect(throws: Abort.self) { try SQLiteStore(path: path, migrator: Migrator([first, second, failing])) }
        let again = try SQLiteStore(path: path, migrator: Migrator([first, second]))
        #expect(again.schemaVersion == 2)
        #expect(try again.read { try $0.fetchAll("SELECT step FROM log") } == [[.text("two")]])
    }

    @Test("a database with a newer user_version is refused with sqlite.schema-too-new")
    func schemaTooNew() throws {
        let path = directory.file("newer.sqlite")
        do {
            let db = try SQLiteConnection(path: path)
            try db.execute("PRAGMA user_version = \(HeyanSchema.latestVersion + 1)")
        }
        let error = try #require(throws: SQLiteError.self) { try SQLiteStore(path: path) }
        #expect(error.code == "sqlite.schema-too-new")
        #expect(error.message.contains("version \(HeyanSchema.latestVersion + 1)"))
        // Nothing was created in the refused database.
        let db = try SQLiteConnection(path: path, mode: .readOnly)
        #expect(try db.fetchScalar("SELECT count(*) FROM sqlite_schema") == .integer(0))
    }

    @Test("write rolls back on throw; a read during an open write sees the committed state")
    func writeIsolation() throws {
        let store = try SQLiteStore(path: directory.file("isolation.sqlite"))
        try store.write { try $0.execute("CREATE TABLE t (n INTEGER NOT NULL) STRICT; INSERT INTO t VALUES (1);") }

        #expect(throws: Abort.self) {
            try store.write { db in
                try db.execute("UPDATE t SET n = 99")
                throw Abort()
            }
        }
        #expect(try store.read { try $0.fetchScalar("SELECT n FROM t") } == .integer(1))

        try store.write { db in
            try db.execute("UPDATE t SET n = 2")
            // The write transaction is open: readers still see 1, without waiting.
            let started = monotonicSeconds()
            #expect(try store.read { try $0.fetchScalar("SELECT n FROM t") } == .integer(1))
            #expect(monotonicSeconds() - started < 1)
        }
        #expect(try store.read { try $0.fetchScalar("SELECT n FROM t") } == .integer(2))
    }

    @Test("concurrent writers are serialized and none is lost")
    func concurrentWrites() async throws {
        let store = try SQLiteStore(path: directory.file("concurrent.sqlite"))
        try store.write { try $0.execute("CREATE TABLE t (n INTEGER PRIMARY KEY) STRICT") }
        try await withThrowingTaskGroup(of: Void.self) { group in
            for worker in 0..<4 {
                group.addTask {
                    for n in 0..<50 {
                        let value = SQLiteValue.integer(Int64(worker * 1000 + n))
                        try store.write { try $0.execute("INSERT INTO t VALUES (?)", arguments: [value]) }
                        _ = try store.read { try $0.fetchScalar("SELECT count(*) FROM t") }
                    }
                }
            }
            try await group.waitForAll()
        }
        #expect(try store.read { try $0.fetchScalar("SELECT count(*) FROM t") } == .integer(200))
    }

    @Test("committed writes survive closing and reopening")
    func durableAcrossReopen() throws {
        let path = directory.file("durable.sqlite")
        do {
            let store = try SQLiteStore(path: path)
            try store.write { db in
                try db.execute("CREATE TABLE t (n INTEGER NOT NULL, s TEXT NOT NULL) STRICT")
                try db.execute("INSERT INTO t VALUES (?, ?)", arguments: [.integer(7), .text("已核验")])
            }
        }
        // A clean close checkpoints the WAL into the database file and removes it.
        #expect(fileStatus(path + "-wal") == nil)
        let store = try SQLiteStore(path: path)
        #expect(try store.read { try $0.fetchAll("SELECT n, s FROM t") } == [[.integer(7), .text("已核验")]])
        #expect(try store.integrityCheck())
    }
}
