import HeyanPostgres
import HeyanTestSupport
import Testing

@Suite(
    "PostgresConnection pipeline mode",
    .enabled(if: PostgresTestDatabase.isAvailable, "needs root to start PostgreSQL as the postgres user"))
struct PostgresPipelineTests {
    @Test("1,000 INSERTs in one pipeline and one sync: every result checked, all committed together")
    func thousandInserts() async throws {
        let connection = try await PostgresTestDatabase.connect()
        try connection.execute("CREATE TABLE item (id int8 PRIMARY KEY, payload bytea NOT NULL)")
        let statements = (1...1_000).map { id in
            PostgresStatement(
                "INSERT INTO item (id, payload) VALUES ($1, $2) RETURNING id",
                [.int64(Int64(id)), .bytes(Array(repeating: UInt8(id % 256), count: 200))])
        }
        let outcomes = try connection.pipeline(statements)
        #expect(outcomes.count == 1_000)
        for (offset, outcome) in outcomes.enumerated() {
            let result = try outcome.get()
            #expect(result.affectedRows == 1)
            #expect(try result[0].decode("id", as: Int64.self) == Int64(offset + 1))
        }
        // Out of pipeline mode again: ordinary calls work.
        #expect(connection.transactionStatus == .idle)
        let stored = try connection.query("SELECT count(*) AS n, sum(length(payload)) AS bytes FROM item")[0]
        #expect(try stored.decode("n", as: Int.self) == 1_000)
        #expect(try stored.decode("bytes", as: Int.self) == 200_000)
    }

    @Test("a failing statement aborts the rest up to the sync, and the implicit transaction rolls back")
    func failureAbortsTheRest() async throws {
        let connection = try await PostgresTestDatabase.connect()
        try connection.execute("CREATE TABLE item (id int8 PRIMARY KEY)")
        try connection.query("INSERT INTO item VALUES (2)")
        let outcomes = try connection.pipeline([
            PostgresStatement("INSERT INTO item VALUES ($1)", [.int64(1)]),
            PostgresStatement("INSERT INTO item VALUES ($1)", [.int64(2)]),
            PostgresStatement("INSERT INTO item VALUES ($1)", [.int64(3)]),
        ])
        #expect(outcomes.count == 3)
        guard case .completed = outcomes[0] else {
            Issue.record("first statement: \(outcomes[0])")
            return
        }
        guard case .failed(let error) = outcomes[1] else {
            Issue.record("second statement: \(outcomes[1])")
            return
        }
        #expect(error.sqlState == "23505")
        guard case .aborted = outcomes[2] else {
            Issue.record("third statement: \(outcomes[2])")
            return
        }
        #expect(throws: PostgresError.self) { try outcomes[2].get() }
        let ids = try connection.query("SELECT id FROM item ORDER BY id").rows.map {
            try $0.decode("id", as: Int64.self)
        }
        #expect(ids == [2])
        // The connection is usable after the failed pipeline, for another pipeline too.
        let again = try connection.pipeline([PostgresStatement("SELECT 7 AS seven")])
        #expect(try again[0].get()[0].decode("seven", as: Int.self) == 7)
    }

    @Test("BEGIN and COMMIT inside a pipeline; an empty pipeline")
    func explicitTransaction() async throws {
        let connection = try await PostgresTestDatabase.connect()
        try connection.execute("CREATE TABLE item (id int8 PRIMARY KEY)")
        let outcomes = try connection.pipeline([
            PostgresStatement("BEGIN"),
            PostgresStatement("INSERT INTO item VALUES (1)"),
            PostgresStatement("INSERT INTO item VALUES (2)"),
            PostgresStatement("COMMIT"),
        ])
        #expect(try outcomes.map { try $0.get().commandTag } == ["BEGIN", "INSERT 0 1", "INSERT 0 1", "COMMIT"])
        #expect(try connection.query("SELECT count(*) AS n FROM item")[0].decode("n", as: Int.self) == 2)
        #expect(try connection.pipeline([]).isEmpty)
    }
}
