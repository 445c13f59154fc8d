#if canImport(Glibc)
import Glibc
#endif
import HeyanHTTP
import HeyanTestSupport
import Testing

/// The drain of a graceful stop (SIGTERM → `ServiceRuntime.stop`) with `drainSeconds`, as a load balancer sees
/// it (docs/cluster.md, "Rolling restart"): `/readyz` says 503 "draining" at once, the node keeps accepting and
/// serving for `drainSeconds` with `Connection: close` on every response, then refuses new connections.
/// The whole restart through HAProxy is `ClusterTests.aRollingRestartUnderLoadFailsNoRequest`.
@Suite struct GracefulDrainTests {
    @Test func aStoppingNodeSaysDrainingAtOnceKeepsServingThenRefuses() async throws {
        let service = try RunningService(drainSeconds: 1.5)
        let earlier = try service.connect("housing-fund")  // a keep-alive connection from before the stop
        let ready = try earlier.request("GET", "/readyz")
        #expect(ready.status == 200)
        #expect(ready.headers["connection"]?.lowercased() != "close")

        let started = monotonicSeconds()
        let stopped = Task { try await onOwnThread { service.runtime.stop(grace: 5) } }
        // At once (well inside the drain): a new connection is accepted and told "draining".
        var draining = try service.connect("housing-fund").request("GET", "/readyz")
        while draining.status == 200 && monotonicSeconds() - started < 1 {
            usleep(10_000)
            draining = try service.connect("housing-fund").request("GET", "/readyz")
        }
        #expect(monotonicSeconds() - started < 1)
        #expect(draining.status == 503, "\(draining.bodyText)")
        #expect(draining.bodyText.contains("draining"), "\(draining.bodyText)")
        // The connection from before is still served, and told to close.
        let served = try earlier.request("GET", "/v1/catalog/CIV-MARRIAGE")
        #expect(served.status == 200)
        #expect(served.headers["connection"]?.lowercased() == "close")

        try await stopped.value
        #expect(monotonicSeconds() - started >= 1.5)
        // Stopped: nobody is accepted any more.
        #expect(throws: (any Error).self) { _ = try service.connect("housing-fund").request("GET", "/readyz") }
    }
}
