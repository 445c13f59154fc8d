import CSQLite
import HeyanTestSupport
import Testing

@testable import HeyanStorage

@Suite("SQLiteStatement and SQLiteError")
struct SQLiteStatementTests {
    let directory = TemporaryDirectory()

    func connection() throws -> SQLiteConnection {
        try SQLiteConnection(path: directory.file("statements.sqlite"))
    }

    @Test("every type round-trips through bind and column getters")
    func roundTrip() throws {
        let db = try connection()
        try db.execute("CREATE TABLE t (i INTEGER, r REAL, s TEXT, b BLOB, n ANY) STRICT")
        let nulBlob: [UInt8] = [0, 1, 0, 255, 0]
        let chinese = "核验 电子证明 \u{0}尾"  // Chinese text with an embedded NUL
        let rows: [(Int64, Double, String, [UInt8])] = [
            (Int64.min, -0.5, chinese, nulBlob),
            (Int64.max, 1e300, "", []),
            (0, .pi, "plain", [0]),
        ]
        let insert = try db.prepare("INSERT INTO t (i, r, s, b, n) VALUES (?, ?, ?, ?, ?)")
        for (integer, real, text, blob) in rows {
            try insert.reset()
            try insert.bind(integer, at: 1)
            try insert.bind(real, at: 2)
            try insert.bind(text, at: 3)
            try insert.bind(blob, at: 4)
            try insert.bindNull(at: 5)
            try insert.run()
        }
        let select = try db.prepare("SELECT i, r, s, b, n FROM t ORDER BY rowid")
        for (integer, real, text, blob) in rows {
            #expect(try select.step())
            #expect(select.int64(at: 0) == integer)
            #expect(select.double(at: 1) == real)
            #expect(select.text(at: 2) == text)
            #expect(select.blob(at: 3) == blob)
            #expect(!select.isNull(at: 3))
            #expect(select.isNull(at: 4))
            #expect(select.text(at: 4) == nil)
            #expect(select.blob(at: 4) == nil)
            #expect(select.value(at: 4) == .null)
        }
        #expect(try select.step() == false)
        // The zero-length blob and empty text stayed non-NULL, with the right storage class.
        let types = try db.fetchAll(
            "SELECT typeof(s), typeof(b), length(s) FROM t WHERE i = ?", arguments: [.integer(.max)])
        #expect(types == [[.text("text"), .text("blob"), .integer(0)]])
        // The NUL inside the text is stored, not cut off: every UTF-8 byte of it is in the column.
        #expect(try db.fetchScalar("SELECT length(CAST(s AS BLOB)) FROM t WHERE i = ?", arguments: [.integer(.min)])
            == .integer(Int64(chinese.utf8.count)))
    }

    @Test("SQLiteValue array and Int binding round-trip")
    func valueArray() throws {
        let db = try connection()
        let values: [SQLiteValue] = [.integer(42), .real(2.5), .text("证明"), .blob([0, 0, 7]), .null]
        let row = try db.fetchAll("SELECT ?, ?, ?, ?, ?", arguments: values)
        #expect(row == [values])

        let statement = try db.prepare("SELECT ? + 1, :name")
        try statement.bind(Int(41), at: 1)
        try statement.bind(.text("named"), named: ":name")
        #expect(try statement.step())
        #expect(statement.row() == [.integer(42), .text("named")])
        #expect(statement.columnCount == 2)
    }

    @Test("binding the wrong number of values or an unknown name is an error")
    func bindingCountMismatch() throws {
        let db = try connection()
        let statement = try db.prepare("SELECT ?, ?")
        let error = try #require(throws: SQLiteError.self) { try statement.bind([.integer(1)]) }
        #expect(error.code == "sqlite.range")
        #expect(throws: SQLiteError.self) { try statement.bind(.null, named: ":missing") }
        // Index 3 is past the parameters: SQLite itself refuses it.
        let range = try #require(throws: SQLiteError.self) { try statement.bind(Int64(1), at: 3) }
        #expect(range.resultCode == SQLITE_RANGE)
    }

    @Test("cached statement is the same object, reset and with bindings cleared")
    func cachedStatementReuse() throws {
        let db = try connection()
        try db.execute("CREATE TABLE t (n INTEGER); INSERT INTO t VALUES (1), (2), (3);")
        let sql = "SELECT n, ? FROM t ORDER BY n"
        let first = try db.cachedStatement(sql)
        try first.bind(Int64(7), at: 1)
        #expect(try first.step())
        #expect(first.int64(at: 0) == 1)
        #expect(first.isBusy)  // left mid-way on purpose

        let second = try db.cachedStatement(sql)
        #expect(first === second)
        #expect(!second.isBusy)
        #expect(try second.step())
        #expect(second.int64(at: 0) == 1)  // starts from the first row again
        #expect(second.isNull(at: 1))  // the binding 7 was cleared

        let other = try db.cachedStatement("SELECT count(*) FROM t")
        #expect(other !== second)
        try db.resetCachedStatements()
        #expect(!second.isBusy)
    }

    @Test("bound text and blobs are the values at the bind, across arena blocks, past its limit, and after clearing")
    func bindingArena() throws {
        let db = try connection()
        try db.execute("CREATE TABLE a (k INTEGER PRIMARY KEY, s TEXT, b BLOB) STRICT")
        let insert = try db.prepare("INSERT INTO a (k, s, b) VALUES (?, ?, ?)")
        // Sizes that fill a block, spill into the next, exceed a block (bound TRANSIENT), and —
        // rebound without clearing — take the arena past its limit (TRANSIENT again).
        let sizes = [1, 100, 3_000, 2_000, 4_096, 4_097, 10_000, 900, 3_500, 3_500, 3_500, 3_500, 50]
        var expected: [(String, [UInt8])] = []
        for (k, size) in sizes.enumerated() {
            let text = String(repeating: "核", count: size / 3 + 1) + "\(k)"
            var blob = [UInt8]((0..<size).map { UInt8(truncatingIfNeeded: $0 &+ k) })
            try insert.reset()
            try insert.bind(Int64(k), at: 1)
            try insert.bind(text, at: 2)
            try insert.bind(blob, at: 3)
            expected.append((text, blob))
            // The caller's buffer changes after the bind: the statement took its own copy.
            for i in blob.indices { blob[i] = 0xAA }
            try insert.run()
        }
        for (k, value) in expected.enumerated() {
            let select = try db.cachedStatement("SELECT s, b FROM a WHERE k = ?")
            try select.bind(Int64(k), at: 1)
            #expect(try select.step())
            #expect(select.text(at: 0) == value.0, "row \(k)")
            #expect(select.blob(at: 1) == value.1, "row \(k)")
        }
        // Cleared, the parameters are NULL again and the arena serves new values.
        try insert.reset()
        try insert.clearBindings()
        try insert.bind(Int64(100), at: 1)
        try insert.run()
        try insert.reset()
        try insert.clearBindings()
        try insert.bind(Int64(101), at: 1)
        try insert.bind("after clearing", at: 2)
        try insert.bind([1, 2, 3], at: 3)
        try insert.run()
        #expect(try db.fetchScalar("SELECT s IS NULL AND b IS NULL FROM a WHERE k = 100") == .integer(1))
        #expect(try db.fetchScalar("SELECT s FROM a WHERE k = 101") == .text("after clearing"))
        #expect(try db.fetchScalar("SELECT hex(b) FROM a WHERE k = 101") == .text("010203"))
    }

    @Test("bad SQL gives SQLiteError with SQLite's code, message and the SQL")
    func badSQL() throws {
        let db = try connection()
        let error = try #require(throws: SQLiteError.self) { try db.prepare("SELEC 1") }
        #expect(error.code == "sqlite.error")
        #expect(error.resultCode == SQLITE_ERROR)
        #expect(error.sqliteMessage == "near \"SELEC\": syntax error")
        #expect(error.sql == "SELEC 1")
        #expect(error.description.hasPrefix("sqlite.error: near \"SELEC\": syntax error"))

        let missing = try #require(throws: SQLiteError.self) { try db.execute("SELECT 1; SELECT * FROM nowhere;") }
        #expect(missing.sqliteMessage == "no such table: nowhere")
        #expect(missing.sql == "SELECT * FROM nowhere;")  // the failing statement, not the script

        let twoStatements = try #require(throws: SQLiteError.self) { try db.prepare("SELECT 1; SELECT 2") }
        #expect(twoStatements.code == "sqlite.misuse")
        // Trailing whitespace and comments are not a second statement.
        _ = try db.prepare("SELECT 1; -- done\n")
    }

    @Test("long SQL is truncated in the error")
    func truncatedSQL() throws {
        let db = try connection()
        let sql = "SELECT " + String(repeating: "1 + ", count: 100) + "nonsense_column"
        let error = try #require(throws: SQLiteError.self) { try db.prepare(sql) }
        #expect(error.sql == String(sql.prefix(SQLiteError.maximumSQLLength)) + "…")
    }

    @Test("a UNIQUE or PRIMARY KEY violation is sqlite.constraint with the extended code")
    func constraintViolation() throws {
        let db = try connection()
        try db.execute("CREATE TABLE t (id INTEGER NOT NULL PRIMARY KEY, name TEXT UNIQUE) STRICT")
        try db.execute("INSERT INTO t VALUES (?, ?)", arguments: [.integer(1), .text("a")])

        let duplicateKey = try #require(throws: SQLiteError.self) {
            try db.execute("INSERT INTO t VALUES (?, ?)", arguments: [.integer(1), .text("b")])
        }
        #expect(duplicateKey.code == "sqlite.constraint")
        #expect(duplicateKey.resultCode == SQLITE_CONSTRAINT)
        #expect(duplicateKey.extendedResultCode == SQLiteError.constraintPrimaryKey)
        #expect(duplicateKey.sqliteMessage == "UNIQUE constraint failed: t.id")

        let duplicateName = try #require(throws: SQLiteError.self) {
            try db.execute("INSERT INTO t VALUES (?, ?)", arguments: [.integer(2), .text("a")])
        }
        #expect(duplicateName.extendedResultCode == SQLiteError.constraintUnique)
        #expect(duplicateName.sqliteMessage == "UNIQUE constraint failed: t.name")

        // The failed cached statement was reset and works again.
        try db.execute("INSERT INTO t VALUES (?, ?)", arguments: [.integer(2), .text("b")])
        #expect(db.changes == 1)
        #expect(db.lastInsertRowID == 2)
    }

    @Test("extended code constants match SQLite's definitions")
    func extendedCodes() {
        #expect(SQLiteError.constraintPrimaryKey == SQLITE_CONSTRAINT | (6 << 8))
        #expect(SQLiteError.constraintUnique == SQLITE_CONSTRAINT | (8 << 8))
        #expect(SQLiteError.code(forResultCode: SQLITE_BUSY) == "sqlite.busy")
        #expect(SQLiteError.code(forResultCode: SQLiteError.constraintUnique) == "sqlite.constraint")
    }
}
