#if canImport(Glibc)
import Glibc
#endif
import HeyanHTTP
import Foundation
import HeyanTestSupport
import Synchronization
import Testing

/// The drain of a graceful stop (SIGTERM → `ServiceRuntime.stop`) with `drainSeconds`, as a load balancer sees
/// it (docs/cluster.md, "Rolling restart"): `/readyz` says 503 "draining" at once, the node keeps accepting and
/// serving for `drainSeconds` with `Connection: close` on every response, then refuses new connections.
/// The whole restart through HAProxy is `ClusterTests.aRollingRestartUnderLoadFailsNoRequest`.
@Suite struct GracefulDrainTests {
    @Test func aStoppingNodeSaysDrainingAtOnceKeepsServingThenRefuses() throws {
        let service = try RunningService(drainSeconds: 3)
        let earlier = try service.connect("housing-fund")  // a keep-alive connection from before the stop
        let ready = try earlier.request("GET", "/readyz")
        #expect(ready.status == 200)
        #expect(ready.headers["connection"]?.lowercased() != "close")

        // The stop runs on a thread of its own, started at once (a Task could wait for the busy test pool).
        let began = Mutex<Double?>(nil)
        let done = Atomic<Bool>(false)
        Thread {
            began.withLock { $0 = monotonicSeconds() }
            service.runtime.stop(grace: 5)
            done.store(true, ordering: .releasing)
        }.start()
        // Well inside the drain: a new connection is accepted and told "draining".
        var draining = try service.connect("housing-fund").request("GET", "/readyz")
        while draining.status == 200 && !done.load(ordering: .acquiring) {
            usleep(10_000)
            draining = try service.connect("housing-fund").request("GET", "/readyz")
        }
        let stopBegan = try #require(began.withLock { $0 })
        #expect(monotonicSeconds() - stopBegan < 1.5, "503 only after the drain")
        #expect(draining.status == 503, "\(draining.bodyText)")
        #expect(draining.bodyText.contains("draining"), "\(draining.bodyText)")
        // The connection from before is still served, and told to close.
        let served = try earlier.request("GET", "/v1/catalog/CIV-MARRIAGE")
        #expect(served.status == 200)
        #expect(served.headers["connection"]?.lowercased() == "close")

        while !done.load(ordering: .acquiring) { usleep(10_000) }
        #expect(monotonicSeconds() - stopBegan >= 3)
        // Stopped: nobody is accepted any more.
        #expect(throws: (any Error).self) { _ = try service.connect("housing-fund").request("GET", "/readyz") }
    }
}
