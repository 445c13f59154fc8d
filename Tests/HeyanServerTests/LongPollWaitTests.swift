import HeyanHTTP
import HeyanTestSupport
import Synchronization
import Testing

/// `wait=` is bounded by the API (60 s) and clamped to the configured `longPollMaxSeconds`.
@Suite struct LongPollWaitTests {
    /// On a manual clock: `wait=59` with a 1 s maximum still waits at 0.9 s and has answered at 1 s.
    @Test func waitAboveTheConfiguredMaximumWaitsTheMaximum() throws {
        let clock = ManualClock()
        let service = try RunningService(limits: #""longPollMaxSeconds": 1"#, clock: clock)
        let civil = try DepartmentClient(service, "civil-affairs")
        let status = Mutex<Int?>(nil)
        let poller = try DepartmentClient(service, "civil-affairs")
        _ = try startThread(name: "wait-59") {
            let polled = try? poller.get("/v1/queue?wait=59")
            status.withLock { $0 = polled?.status ?? -1 }
        }
        #expect(eventually { service.runtime.longPollsWaiting == 1 })
        clock.advance(seconds: 0.9)
        #expect(service.runtime.longPollsWaiting == 1)
        #expect(status.withLock { $0 } == nil)
        clock.advance(seconds: 0.1)
        #expect(eventually { status.withLock { $0 } != nil })
        #expect(status.withLock { $0 } == 200)
        #expect(try civil.get("/v1/queue?wait=61").status == 400)
        #expect(try civil.get("/v1/queue?wait=-1").status == 400)
    }
}
