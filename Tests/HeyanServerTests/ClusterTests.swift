#if canImport(Glibc)
import Glibc
#endif
import HeyanTestSupport
import Testing

/// Why the cluster cannot be started here, or nil.
private var clusterUnavailableReason: String? {
    if let reason = PostgresCluster.unavailableReason { return reason }
    return access("/usr/sbin/haproxy", X_OK) == 0 ? nil : "haproxy is not installed: run `make deps`"
}

/// The cluster of docs/cluster.md under fire, in short: `make crashtest-cluster` with 4 node kills and one
/// database failover, and a rolling restart of all three nodes under load. Each starts its own temporary
/// cluster (PostgreSQL primary + synchronous standby, three `heyan serve`, HAProxy) on free ports through the
/// scripts in Tests/Scripts/cluster. PostgreSQL runs as the postgres user through runuser, so these need root,
/// and Debian's haproxy (`make deps`).
@Suite(.serialized, .enabled(if: clusterUnavailableReason == nil, "\(clusterUnavailableReason ?? "")"))
struct ClusterTests {
    static let binary = packageRoot() + "/.build/debug/heyan"
    static let scripts = packageRoot() + "/Tests/Scripts/cluster"

    static func line(_ output: String, startingWith prefix: String) -> String {
        output.split(separator: "\n").first { $0.hasPrefix(prefix) }.map(String.init) ?? ""
    }

    @Test func nodeKillsAndAFailoverLoseNothingAndTheCheckerCatchesALoss() async throws {
        let run = try await onOwnThread {
            try Subprocess.run(
                [
                    "python3", Self.scripts + "/crashtest_cluster.py", "--binary", Self.binary, "--kills", "4",
                    "--failovers", "1", "--seconds", "6", "--prove-checker",
                ], timeout: 300)
        }
        let summary = Self.line(run.stdout, startingWith: "kills=")
        #expect(run.status == 0, "\(run.stdout)\n\(run.stderr)")
        #expect(summary.hasPrefix("kills=4 failovers=1 acknowledged="), "\(run.stdout)")
        #expect(summary.contains(" lost=0 "), "\(run.stdout)")
        #expect(!summary.contains(" commitment=0 "), "every kind of write in the load: \(run.stdout)")
        // The checker, run again after one acknowledged record was deleted from the database, counts it lost.
        #expect(
            Self.line(run.stdout, startingWith: "checker: ") == "checker: one acknowledged record deleted -> lost=1 caught",
            "\(run.stdout)")
    }

    @Test func aRollingRestartUnderLoadFailsNoRequest() async throws {
        let run = try await onOwnThread {
            try Subprocess.run(
                ["python3", Self.scripts + "/rolling_restart.py", "--binary", Self.binary, "--drain", "1.5"],
                timeout: 300)
        }
        let summary = Self.line(run.stdout, startingWith: "restarted=")
        #expect(run.status == 0, "\(run.stdout)\n\(run.stderr)")
        #expect(summary.hasPrefix("restarted=3 "), "\(run.stdout)")
        #expect(summary.contains(" failed=0 ") && summary.contains(" status-5xx=0 "), "\(run.stdout)")
        #expect(summary.contains(" lost=0 "), "\(run.stdout)")
    }
}
