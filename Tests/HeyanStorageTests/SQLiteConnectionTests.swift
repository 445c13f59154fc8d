import CSQLite
import Glibc
import HeyanTestSupport
import Testing

@testable import HeyanStorage

private struct Abort: Error {}

@Suite("SQLiteConnection transactions and isolation")
struct SQLiteConnectionTests {
    let directory = TemporaryDirectory()

    @Test("transaction commits on return and rolls back on throw")
    func transactionRollback() throws {
        let db = try SQLiteConnection(path: directory.file("tx.sqlite"))
        try db.execute("CREATE TABLE t (n INTEGER NOT NULL) STRICT")
        let value = try db.transaction(.immediate) {
            try db.execute("INSERT INTO t VALUES (?)", arguments: [.integer(1)])
            return 42
        }
        #expect(value == 42)
        #expect(throws: Abort.self) {
            try db.transaction(.immediate) {
                try db.execute("INSERT INTO t VALUES (?)", arguments: [.integer(2)])
                #expect(db.isInTransaction)
                throw Abort()
            }
        }
        #expect(!db.isInTransaction)
        #expect(try db.fetchAll("SELECT n FROM t") == [[.integer(1)]])
    }

    @Test("a failing statement inside a transaction rolls back the earlier ones")
    func transactionRollbackOnSQLiteError() throws {
        let db = try SQLiteConnection(path: directory.file("tx2.sqlite"))
        try db.execute("CREATE TABLE t (n INTEGER PRIMARY KEY) STRICT")
        let error = try #require(throws: SQLiteError.self) {
            try db.transaction {
                try db.execute("INSERT INTO t VALUES (?)", arguments: [.integer(1)])
                try db.execute("INSERT INTO t VALUES (?)", arguments: [.integer(1)])
            }
        }
        #expect(error.code == "sqlite.constraint")
        #expect(try db.fetchScalar("SELECT count(*) FROM t") == .integer(0))
    }

    @Test("a WAL reader sees committed state and is not blocked by an open write transaction")
    func readerNotBlockedByWriter() throws {
        let path = directory.file("wal.sqlite")
        var configuration = SQLiteConfiguration()
        configuration.busyTimeoutMilliseconds = 3000
        let writer = try SQLiteConnection(path: path)
        try writer.configureWriter(configuration)
        try writer.execute("CREATE TABLE t (n INTEGER NOT NULL) STRICT; INSERT INTO t VALUES (1);")
        let reader = try SQLiteConnection(path: path, mode: .readOnly)
        try reader.configureReader(configuration)

        try writer.execute("BEGIN IMMEDIATE")
        try writer.execute("UPDATE t SET n = 2")
        let started = monotonicSeconds()
        #expect(try reader.fetchScalar("SELECT n FROM t") == .integer(1))
        // Not blocked: a reader waiting on a lock would have spent up to busy_timeout (3 s) here.
        #expect(monotonicSeconds() - started < 1)
        try writer.execute("COMMIT")
        #expect(try reader.fetchScalar("SELECT n FROM t") == .integer(2))

        let readOnly = try #require(throws: SQLiteError.self) { try reader.execute("DELETE FROM t") }
        #expect(readOnly.code == "sqlite.readonly")
    }
}
