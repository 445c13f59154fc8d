import Glibc
import HeyanPostgres
import HeyanTestSupport
import Testing

@Suite(
    "PostgresConnection with a synchronous standby",
    .enabled(if: PostgresTestDatabase.isAvailable, "needs root to start PostgreSQL as the postgres user"))
struct PostgresReplicationTests {
    @Test(
        "read-write selection skips a standby; after the primary dies and the standby is promoted, acked rows are there"
    )
    func failover() async throws {
        let primary = try await PostgresCluster.make(settings: ["synchronous_standby_names": "'FIRST 1 (standby1)'"])
        let standby = try await PostgresCluster.makeStandby(of: primary, applicationName: "standby1")
        let writer = try PostgresConnection(conninfo: primary.conninfo())
        // Until the standby streams as the synchronous one, every COMMIT would wait.
        let deadline = monotonicSeconds() + 15
        while try writer.query(
            "SELECT count(*) AS n FROM pg_stat_replication WHERE application_name = 'standby1' AND sync_state = 'sync'"
        )[0].decode("n", as: Int.self) == 0 {
            try #require(monotonicSeconds() < deadline, "the standby never became synchronous")
            try await Task.sleep(for: .milliseconds(20))
        }
        try writer.execute("CREATE TABLE acked (id int8 PRIMARY KEY)")
        let outcomes = try writer.pipeline(
            (1...100).map { PostgresStatement("INSERT INTO acked VALUES ($1)", [.int($0)]) })
        #expect(outcomes.count == 100)

        // The standby is listed first; libpq skips it because it is read-only.
        let both =
            "host=127.0.0.1,127.0.0.1 port=\(standby.port),\(primary.port) user=postgres dbname=postgres "
            + "target_session_attrs=read-write connect_timeout=2"
        #expect(try PostgresConnection(conninfo: both).port == primary.port)
        let reader = try PostgresConnection(conninfo: standby.conninfo())
        let readOnly = try #require(throws: PostgresError.self) { try reader.query("INSERT INTO acked VALUES (0)") }
        #expect(readOnly.sqlState == "25006")
        #expect(readOnly.isTransient)

        try await primary.crash(waitUntilReaped: false)
        let lost = try #require(throws: PostgresError.self) { try writer.query("SELECT 1") }
        #expect(lost.isTransient)
        try await standby.promote()
        let promoted = try PostgresConnection(conninfo: both)
        #expect(promoted.port == standby.port)
        // Every COMMIT the primary acknowledged had reached the synchronous standby.
        #expect(try promoted.query("SELECT count(*) AS n FROM acked")[0].decode("n", as: Int.self) == 100)
        try promoted.query("INSERT INTO acked VALUES (101)")
    }
}
