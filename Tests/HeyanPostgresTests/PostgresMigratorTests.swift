import HeyanPostgres
import HeyanTestSupport
import Testing

@Suite(
    "PostgresMigrator",
    .enabled(if: PostgresTestDatabase.isAvailable, "needs root to start PostgreSQL as the postgres user"))
struct PostgresMigratorTests {
    static let migrator = PostgresMigrator([
        PostgresMigration(version: 1, name: "create") { connection in
            try connection.execute("CREATE TABLE node_start (node text NOT NULL)")
            // Long enough that a second node starting at the same moment is sure to overlap.
            try connection.execute("SELECT pg_sleep(0.3)")
        },
        PostgresMigration(version: 2, name: "seed") { connection in
            try connection.query("INSERT INTO node_start (node) VALUES ($1)", [.text("migrated")])
        },
    ])

    @Test("applies each migration once, records it, and does nothing the second time")
    func appliesOnce() async throws {
        let connection = try await PostgresTestDatabase.connect()
        #expect(try PostgresMigrator.version(of: connection) == 0)
        let first = try Self.migrator.migrate(connection)
        #expect(first == PostgresMigrator.Outcome(previousVersion: 0, currentVersion: 2, applied: ["create", "seed"]))
        let second = try Self.migrator.migrate(connection)
        #expect(second == PostgresMigrator.Outcome(previousVersion: 2, currentVersion: 2, applied: []))
        let history = try connection.query("SELECT version, name FROM heyan_schema_migrations ORDER BY version").rows
        #expect(try history.map { try $0.decode("name", as: String.self) } == ["create", "seed"])
    }

    @Test("two nodes migrating at once: every migration is applied exactly once")
    func racingNodes() async throws {
        let (_, conninfo) = try await PostgresTestDatabase.fresh()
        let outcomes = onThreads(2) { _ -> Result<PostgresMigrator.Outcome, PostgresError> in
            do {
                let connection = try PostgresConnection(conninfo: conninfo)
                return .success(try Self.migrator.migrate(connection))
            } catch let error as PostgresError {
                return .failure(error)
            } catch {
                return .failure(PostgresError(message: "\(error)"))
            }
        }
        let results = try outcomes.map { try $0.get() }
        #expect(results.allSatisfy { $0.currentVersion == 2 })
        #expect(results.flatMap(\.applied).sorted() == ["create", "seed"])
        let connection = try PostgresConnection(conninfo: conninfo)
        #expect(try connection.query("SELECT count(*) AS n FROM node_start")[0].decode("n", as: Int.self) == 1)
    }

    @Test("a failing migration leaves the schema at the previous version, with none of its changes")
    func failureRollsBack() async throws {
        let connection = try await PostgresTestDatabase.connect()
        let broken = PostgresMigrator([
            PostgresMigration(version: 1, name: "good") { try $0.execute("CREATE TABLE a (n int)") },
            PostgresMigration(version: 2, name: "bad") { connection in
                try connection.execute("CREATE TABLE b (n int)")
                try connection.execute("CREATE TABLE a (n int)")
            },
        ])
        let error = try #require(throws: PostgresError.self) { try broken.migrate(connection) }
        #expect(error.sqlState == "42P07")
        #expect(try PostgresMigrator.version(of: connection) == 1)
        #expect(try connection.query("SELECT to_regclass('b') IS NULL AS absent")[0].decode("absent", as: Bool.self))
    }

    @Test("a schema newer than the code is refused")
    func tooNew() async throws {
        let connection = try await PostgresTestDatabase.connect()
        try Self.migrator.migrate(connection)
        let older = PostgresMigrator([Self.migrator.migrations[0]])
        let error = try #require(throws: PostgresError.self) { try older.migrate(connection) }
        #expect(error.code == "postgres.schema-too-new")
    }
}
