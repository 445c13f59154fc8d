#if canImport(Glibc)
import Glibc
#endif
import HeyanTestSupport
import Testing

/// Two heyan nodes on one PostgreSQL schema (docs/postgresql.md, "Leader election"): exactly one
/// reports `heyan_leader 1`; when it shuts down (its store closed, as at process exit) the other
/// leads within seconds.
@Suite(.enabled(if: Engine.all.contains(.postgresql)))
struct SeveralNodesTests {
    @Test func oneNodeLeadsAndTheOtherTakesOver() throws {
        let settings = try Engine.postgresql.settings()
        let pki = try TestPKI()
        let nodes = [
            try RunningService(database: settings.database, pki: pki),
            try RunningService(database: settings.database, pki: pki),
        ]
        let clients = try nodes.map { try DepartmentClient($0, "data-office") }
        func leaders() throws -> [String?] { try clients.map { try AuditBacklogTests.scrape($0)["heyan_leader"] } }
        func waitFor(_ seconds: Double, _ condition: () throws -> Bool) rethrows -> Bool {
            let deadline = monotonicSeconds() + seconds
            while monotonicSeconds() < deadline {
                if try condition() { return true }
                usleep(50_000)
            }
            return try condition()
        }
        #expect(try waitFor(5) { try leaders().sorted { ($0 ?? "") < ($1 ?? "") } == ["0", "1"] })
        let leader = try #require(try leaders().firstIndex(of: "1"))
        let follower = 1 - leader

        let stoppedAt = monotonicSeconds()
        nodes[leader].runtime.stop(grace: 1)
        nodes[leader].runtime.store.close()
        #expect(try waitFor(5) { try AuditBacklogTests.scrape(clients[follower])["heyan_leader"] == "1" })
        print("leader takeover after the leader node stopped: \(monotonicSeconds() - stoppedAt) s")
    }

    func monotonicSeconds() -> Double {
        var now = timespec()
        clock_gettime(CLOCK_MONOTONIC, &now)
        return Double(now.tv_sec) + Double(now.tv_nsec) / 1e9
    }
}
