import HeyanDomain
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
        #expect(try eventually(within: 5) { try leaders().sorted { ($0 ?? "") < ($1 ?? "") } == ["0", "1"] })
        let leader = try #require(try leaders().firstIndex(of: "1"))
        let follower = 1 - leader

        let stoppedAt = SystemClock().monotonicNanoseconds()
        nodes[leader].runtime.stop(grace: 1)
        nodes[leader].runtime.store.close()
        #expect(try eventually(within: 5) { try AuditBacklogTests.scrape(clients[follower])["heyan_leader"] == "1" })
        let seconds = Double(SystemClock().monotonicNanoseconds() - stoppedAt) / 1e9
        print("leader takeover after the leader node stopped: \(seconds) s")
    }
}
