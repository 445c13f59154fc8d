import Glibc
import HeyanPostgres
import HeyanTestSupport
import Testing

/// Each test here stops, crashes or blocks its server, so each makes a cluster of its own.
@Suite(
    "PostgresConnection when the server goes away",
    .enabled(if: PostgresTestDatabase.isAvailable, "needs root to start PostgreSQL as the postgres user"))
struct PostgresServerLossTests {
    @Test("a stopped or crashed server gives transient errors; an open COMMIT is in doubt; reset reconnects")
    func serverLoss() async throws {
        let cluster = try await PostgresCluster.make()
        let connection = try PostgresConnection(conninfo: cluster.conninfo())
        try connection.execute("CREATE TABLE t (n int8)")
        try connection.query("BEGIN")
        try connection.query("INSERT INTO t VALUES (1)")

        try await cluster.stop(.immediate)
        let commit = try #require(throws: PostgresError.self) { try connection.commit() }
        #expect(commit.code == "postgres.commit-in-doubt")
        #expect(commit.isCommitInDoubt)
        #expect(commit.isTransient)
        #expect(!connection.isConnected)
        let query = try #require(throws: PostgresError.self) { try connection.query("SELECT 1") }
        #expect(query.isTransient, "\(query)")
        let refused = try #require(throws: PostgresError.self) { try connection.reset() }
        #expect(refused.code == "postgres.cannot-connect")
        #expect(refused.isTransient)

        try await cluster.start()
        try connection.reset()
        #expect(connection.isConnected)
        // Immediate shutdown is a crash for the data: the uncommitted row is gone after recovery.
        #expect(try connection.query("SELECT count(*) AS n FROM t")[0].decode("n", as: Int.self) == 0)

        // SIGKILL of every server process (a machine dying): the harness waits until the postmaster is gone
        // from /proc, so the data directory can be started again at once.
        try await cluster.crash()
        let lost = try #require(throws: PostgresError.self) { try connection.query("SELECT 1") }
        #expect(lost.code == "postgres.connection-lost", "\(lost)")
        #expect(lost.isTransient)
        try await cluster.start()
        let fresh = try PostgresConnection(conninfo: cluster.conninfo())
        #expect(try fresh.query("SELECT 1 AS one")[0].decode("one", as: Int.self) == 1)
    }

    @Test("a COMMIT whose wait for the synchronous standby is cancelled is reported unacknowledged, not success")
    func cancelledSynchronousReplication() async throws {
        // A primary that requires a standby which never attaches: every COMMIT waits for it.
        let cluster = try await PostgresCluster.make(settings: [
            "synchronous_standby_names": "'FIRST 1 (absent_standby)'"
        ])
        let connection = try PostgresConnection(conninfo: cluster.conninfo())
        // Setup commits must not wait: synchronous_commit = local skips the standby for this session.
        try connection.execute("SET synchronous_commit = local; CREATE TABLE t (n int8)")
        try connection.execute("SET synchronous_commit = on")
        let waitingPID = connection.backendPID
        let canceller = BackgroundThread { () -> String? in
            do {
                let admin = try PostgresConnection(conninfo: cluster.conninfo())
                let deadline = monotonicSeconds() + 10
                while monotonicSeconds() < deadline {
                    let waiting = try admin.query(
                        "SELECT count(*) AS n FROM pg_stat_activity WHERE pid = $1 AND wait_event = 'SyncRep'",
                        [.int64(Int64(waitingPID))])
                    if try waiting[0].decode("n", as: Int.self) == 1 {
                        // What an operator's or a timeout's cancel does; heyan itself never cancels a COMMIT.
                        try admin.query("SELECT pg_cancel_backend($1::int4)", [.int64(Int64(waitingPID))])
                        return nil
                    }
                    usleep(10_000)
                }
                return "the COMMIT never waited for the standby"
            } catch {
                return "\(error)"
            }
        }
        let error = try #require(throws: PostgresError.self) {
            try connection.transaction { connection in try connection.query("INSERT INTO t VALUES (1)") }
        }
        #expect(canceller.join() == nil)
        #expect(error.code == "postgres.commit-unacknowledged")
        #expect(error.isCommitInDoubt)
        #expect(error.detail?.contains("already committed locally") == true)
        // Committed locally indeed: the row is there, though no standby has it.
        #expect(try connection.query("SELECT count(*) AS n FROM t")[0].decode("n", as: Int.self) == 1)
    }
}
