import HeyanPostgres
import HeyanTestSupport
import Testing

private struct Abort: Error {}

@Suite(
    "PostgresConnection against a throwaway server",
    .enabled(if: PostgresTestDatabase.isAvailable, "needs root to start PostgreSQL as the postgres user"))
struct PostgresConnectionTests {
    @Test("connects over TCP and over the unix socket, and reports where it is")
    func connects() async throws {
        let (cluster, conninfo) = try await PostgresTestDatabase.fresh()
        let connection = try PostgresConnection(conninfo: conninfo, connectTimeout: 5, applicationName: "heyan-test")
        #expect(connection.isConnected)
        #expect(connection.port == cluster.port)
        #expect(connection.host == "127.0.0.1")
        #expect(connection.serverVersion >= 140000)
        #expect(connection.transactionStatus == .idle)
        let row = try connection.query("SELECT pg_backend_pid() AS pid, current_setting('application_name') AS name")[0]
        #expect(try row.decode("pid", as: Int32.self) == connection.backendPID)
        #expect(try row.decode("name", as: String.self) == "heyan-test")

        let overSocket = try PostgresConnection(conninfo: cluster.socketConninfo())
        #expect(overSocket.host == cluster.socketDirectory)
        #expect(try overSocket.query("SELECT 1 AS one")[0].decode("one", as: Int.self) == 1)

        connection.close()
        #expect(!connection.isConnected)
        let closed = try #require(throws: PostgresError.self) { try connection.query("SELECT 1") }
        #expect(closed.code == "postgres.closed")
    }

    @Test("text, bytea, int8, bool, float8 and NULL parameters come back unchanged in both result formats")
    func parameterRoundTrip() async throws {
        let connection = try await PostgresTestDatabase.connect()
        try connection.execute(
            "CREATE TABLE value (id int8 PRIMARY KEY, label text, data bytea, flag bool, ratio float8, count int4)")
        let allBytes = (0...255).map(UInt8.init)
        let rows: [[PostgresValue]] = [
            [.int64(1), .text("核验 \"quoted\" 'single' \\ back"), .bytes(allBytes), .bool(true), .double(0.1), .int(7)],
            [.int64(Int64.min), .text(""), .bytes([]), .bool(false), .double(-1e300), .int(-2_147_483_648)],
            [.int64(Int64.max), .null, .null, .null, .null, .null],
        ]
        for row in rows {
            let inserted = try connection.query(
                "INSERT INTO value (id, label, data, flag, ratio, count) VALUES ($1, $2, $3, $4, $5, $6)", row)
            #expect(inserted.affectedRows == 1)
            #expect(inserted.commandTag == "INSERT 0 1")
        }
        for format in [PostgresFormat.binary, .text] {
            let result = try connection.query(
                "SELECT id, label, data, flag, ratio, count FROM value ORDER BY id", resultFormat: format)
            #expect(result.rowCount == 3)
            #expect(result.columnNames == ["id", "label", "data", "flag", "ratio", "count"])
            let first = result[0]
            let second = result[1]
            let third = result[2]
            #expect(try first.decode("id", as: Int64.self) == Int64.min)
            #expect(try first.decode("label", as: String.self) == "")
            #expect(try first.decode("data", as: [UInt8].self) == [])
            #expect(try first.decode("flag", as: Bool.self) == false)
            #expect(try first.decode("ratio", as: Double.self) == -1e300)
            #expect(try first.decode("count", as: Int32.self) == Int32.min)
            #expect(try second.decode("label", as: String.self) == "核验 \"quoted\" 'single' \\ back")
            #expect(try second.decode("data", as: [UInt8].self) == allBytes)
            #expect(try second.decode("flag", as: Bool.self))
            #expect(try second.decode("ratio", as: Double.self) == 0.1)
            #expect(try second.decode("count", as: Int.self) == 7)
            #expect(try third.decode("id", as: Int64.self) == Int64.max)
            for column in ["label", "data", "flag", "ratio", "count"] {
                #expect(try third.isNull(column))
                let null = try #require(throws: PostgresError.self) { try third.decode(column, as: String.self) }
                #expect(null.code == "postgres.unexpected-null")
            }
            #expect(try third.decodeIfPresent("label", as: String.self) == nil)
            #expect(try third.decodeIfPresent("data", as: [UInt8].self) == nil)
        }
        // A text parameter is typed by the server from its context: here, an int8 comparison.
        let found = try connection.query("SELECT label FROM value WHERE id = $1", [.text("1")])
        #expect(found.rowCount == 1)
    }

    @Test("reading a column that is absent or of another type fails with its own code")
    func decodingMistakes() async throws {
        let connection = try await PostgresTestDatabase.connect()
        let row = try connection.query("SELECT 'x'::text AS label, 5::int4 AS n")[0]
        let missing = try #require(throws: PostgresError.self) { try row.decode("lable", as: String.self) }
        #expect(missing.code == "postgres.no-such-column")
        #expect(missing.message.contains("label, n"))
        let mismatch = try #require(throws: PostgresError.self) { try row.decode("label", as: Int64.self) }
        #expect(mismatch.code == "postgres.type-mismatch")
        let bytes = try #require(throws: PostgresError.self) { try row.decode("n", as: [UInt8].self) }
        #expect(bytes.code == "postgres.type-mismatch")
        let nul = try #require(throws: PostgresError.self) {
            try connection.query("SELECT $1::text", [.text("a\u{0}b")])
        }
        #expect(nul.code == "postgres.invalid-parameter")
        #expect(connection.isConnected)
    }

    @Test("a column is found by its whole name: the first of two with one name, never one it is a prefix of")
    func columnLookup() async throws {
        let connection = try await PostgresTestDatabase.connect()
        let row = try connection.query(
            "SELECT 1::int8 AS id2, 2::int8 AS id, 3::int8 AS id, 4::int8 AS i, 'é'::text AS \"名\"")[0]
        #expect(try row.decode("id", as: Int.self) == 2)
        #expect(try row.decode("id2", as: Int.self) == 1)
        #expect(try row.decode("i", as: Int.self) == 4)
        #expect(try row.decode("名", as: String.self) == "é")
        for absent in ["", "i\u{0}", "id22", "I", "名字"] {
            let missing = try #require(throws: PostgresError.self) { try row.decode(absent, as: Int.self) }
            #expect(missing.code == "postgres.no-such-column")
        }
    }

    @Test("transaction control without parameters goes in the simple protocol and means what it meant")
    func transactionControl() async throws {
        let connection = try await PostgresTestDatabase.connect()
        try connection.execute("CREATE TABLE t (n int8 PRIMARY KEY)")
        #expect(try connection.query("BEGIN ISOLATION LEVEL REPEATABLE READ").commandTag == "BEGIN")
        #expect(connection.transactionStatus == .inTransaction)
        try connection.query("INSERT INTO t VALUES ($1)", [.int64(1)])
        #expect(try connection.query("SAVEPOINT job").commandTag == "SAVEPOINT")
        try connection.query("INSERT INTO t VALUES ($1)", [.int64(2)])
        #expect(try connection.query("ROLLBACK TO SAVEPOINT job").commandTag == "ROLLBACK")
        #expect(try connection.query("RELEASE SAVEPOINT job").commandTag == "RELEASE")
        try connection.commit()
        #expect(try connection.query("SELECT count(*) AS n FROM t")[0].decode("n", as: Int.self) == 1)
        // The session prepared the parameterised statement, and none of the transaction control.
        let prepared = try connection.query("SELECT statement FROM pg_prepared_statements").rows.map {
            try $0.decode("statement", as: String.self)
        }
        #expect(prepared.contains("INSERT INTO t VALUES ($1)"), "\(prepared)")
        #expect(
            !prepared.contains { statement in
                ["BEGIN", "SAVEPOINT", "ROLLBACK", "RELEASE", "COMMIT"].contains(String(statement.prefix { $0 != " " }))
            },
            "\(prepared)")
        // Nothing but one statement goes that way: a script is refused as the extended protocol refuses it.
        let script = try #require(throws: PostgresError.self) { try connection.query("BEGIN; DROP TABLE t") }
        #expect(script.sqlState == "42601")
        #expect(try connection.query("SELECT count(*) AS n FROM t")[0].decode("n", as: Int.self) == 1)
        let statement = try #require(throws: PostgresError.self) { try connection.query("SAVEPOINT") }
        #expect(statement.code == "postgres.syntax-error")
        #expect(connection.transactionStatus == .idle)
    }

    @Test("a unique violation carries SQLSTATE 23505, the constraint, and is permanent")
    func uniqueViolation() async throws {
        let connection = try await PostgresTestDatabase.connect()
        try connection.execute("CREATE TABLE department (code text CONSTRAINT department_code_key UNIQUE)")
        try connection.query("INSERT INTO department VALUES ($1)", [.text("gongan")])
        let error = try #require(throws: PostgresError.self) {
            try connection.query("INSERT INTO department VALUES ($1)", [.text("gongan")])
        }
        #expect(error.code == "postgres.unique-violation")
        #expect(error.sqlState == "23505")
        #expect(error.constraint == "department_code_key")
        #expect(error.detail == "Key (code)=(gongan) already exists.")
        #expect(error.sql == "INSERT INTO department VALUES ($1)")
        #expect(!error.isTransient)
        #expect(!error.isCommitInDoubt)
        #expect(error.isTransientStoreFailure == false)
        // The connection survives a statement error.
        #expect(connection.isConnected)
        #expect(connection.transactionStatus == .idle)

        let syntax = try #require(throws: PostgresError.self) { try connection.query("SELEC 1") }
        #expect(syntax.code == "postgres.syntax-error")
        #expect(syntax.sqlState == "42601")
    }

    @Test("planned statements are prepared once per session and parameter types, run by name, prepared again after reset")
    func preparedStatements() async throws {
        let connection = try await PostgresTestDatabase.connect()
        try connection.execute("CREATE TABLE item (id bigint PRIMARY KEY, name text)")
        let prepared = "SELECT name, parameter_types::text AS types FROM pg_prepared_statements ORDER BY name"
        let insert = "INSERT INTO item (id, name) VALUES ($1, $2)"
        try connection.query(insert, [.int64(1), .text("a")])
        try connection.query(insert, [.int64(2), .text("b")])
        try connection.query(insert, [.int64(3), .null])  // NULL and text both leave the type to the server
        try connection.query("BEGIN")
        try connection.query("SAVEPOINT job")  // utility statements run unnamed
        try connection.query("RELEASE SAVEPOINT job")
        try connection.commit()
        for outcome in try connection.pipeline([
            PostgresStatement(insert, [.int64(4), .text("d")]), PostgresStatement(insert, [.int64(5), .text("e")]),
        ]) { _ = try outcome.get() }
        let count = "SELECT count(*) AS n FROM item WHERE id > $1"
        #expect(try connection.query(count, [.int64(0)])[0].decode("n", as: Int.self) == 5)
        #expect(try connection.query(count, [.int64(3)])[0].decode("n", as: Int.self) == 2)
        // Other parameter types: a statement of its own.
        #expect(try connection.query(count, [.text("4")])[0].decode("n", as: Int.self) == 1)
        let names = try connection.query(prepared).rows.map { try $0.decode("name", as: String.self) }
        // The insert, the count with int8 and with unknown, and the listing itself.
        #expect(names.count == 4)
        #expect(names.allSatisfy { $0.hasPrefix("heyan_") })

        // A new session has none; the wrapper prepares them again rather than naming lost statements.
        try connection.reset()
        try connection.query(insert, [.int64(6), .text("f")])
        #expect(try connection.query(count, [.int64(0)])[0].decode("n", as: Int.self) == 6)
        #expect(try connection.query(prepared).rows.count == 3)
    }

    @Test("a write in a read-only session is 25006, transient: after a failover a reconnect finds the primary")
    func readOnlyTransaction() async throws {
        let connection = try await PostgresTestDatabase.connect()
        try connection.execute("CREATE TABLE t (n int)")
        try connection.execute("SET default_transaction_read_only = on")
        let error = try #require(throws: PostgresError.self) { try connection.query("INSERT INTO t VALUES (1)") }
        #expect(error.sqlState == "25006")
        #expect(error.code == "postgres.read-only-transaction")
        #expect(error.isTransient)
    }

    @Test("a transaction commits on return; rolls back on throw, leaving nothing")
    func transactions() async throws {
        let connection = try await PostgresTestDatabase.connect()
        try connection.execute("CREATE TABLE t (n int8 PRIMARY KEY)")
        let value = try connection.transaction { connection in
            try connection.query("INSERT INTO t VALUES ($1)", [.int64(1)])
            #expect(connection.transactionStatus == .inTransaction)
            return 42
        }
        #expect(value == 42)
        #expect(throws: Abort.self) {
            try connection.transaction(.serializable) { connection in
                try connection.query("INSERT INTO t VALUES ($1)", [.int64(2)])
                try connection.query("INSERT INTO t VALUES ($1)", [.int64(3)])
                throw Abort()
            }
        }
        #expect(connection.transactionStatus == .idle)
        let rows = try connection.query("SELECT n FROM t ORDER BY n").rows.map { try $0.decode("n", as: Int64.self) }
        #expect(rows == [1])
    }

    @Test("COMMIT of a transaction whose statement failed is reported, not taken for success")
    func commitOfFailedTransaction() async throws {
        let connection = try await PostgresTestDatabase.connect()
        try connection.execute("CREATE TABLE t (n int8 PRIMARY KEY)")
        let error = try #require(throws: PostgresError.self) {
            try connection.transaction { connection in
                try connection.query("INSERT INTO t VALUES (1)")
                // The body swallows the failure; the server has aborted the transaction regardless.
                _ = try? connection.query("INSERT INTO t VALUES (1)")
                #expect(connection.transactionStatus == .inFailedTransaction)
            }
        }
        #expect(error.code == "postgres.transaction-aborted")
        #expect(connection.transactionStatus == .idle)
        #expect(try connection.query("SELECT count(*) AS n FROM t")[0].decode("n", as: Int.self) == 0)
    }

    @Test("a multi-host string with target_session_attrs=read-write skips a dead first host")
    func multiHost() async throws {
        let (cluster, _) = try await PostgresTestDatabase.fresh()
        let dead = try deadPort()
        let conninfo =
            "host=127.0.0.1,127.0.0.1 port=\(dead),\(cluster.port) user=postgres dbname=postgres "
            + "target_session_attrs=read-write connect_timeout=2"
        let connection = try PostgresConnection(conninfo: conninfo)
        #expect(connection.port == cluster.port)
        #expect(
            try connection.query("SELECT pg_is_in_recovery() AS standby")[0].decode("standby", as: Bool.self) == false)
        // The URI form picks the same host.
        let uri = try PostgresConnection(
            conninfo: "postgresql://postgres@127.0.0.1:\(dead),127.0.0.1:\(cluster.port)/postgres"
                + "?target_session_attrs=read-write")
        #expect(uri.port == cluster.port)

        // No host reachable: cannot-connect, transient, naming every host tried.
        let error = try #require(throws: PostgresError.self) {
            try PostgresConnection(
                conninfo: "host=127.0.0.1,127.0.0.1 port=\(dead),\(dead) user=postgres", connectTimeout: 2)
        }
        #expect(error.code == "postgres.cannot-connect")
        #expect(error.isTransient)
        #expect(error.sqlState == nil)
        #expect(error.message.contains("port \(dead) failed"))
    }

    @Test("a quoted identifier survives any name")
    func quotedIdentifier() async throws {
        let connection = try await PostgresTestDatabase.connect()
        #expect(try connection.quotedIdentifier("queue") == "\"queue\"")
        #expect(try connection.quotedIdentifier("a\"b") == "\"a\"\"b\"")
    }
}

/// A loopback port with no listener (bound, read and closed), so connecting to it is refused.
func deadPort() throws -> Int { try PostgresCluster.freeLoopbackPort() }
