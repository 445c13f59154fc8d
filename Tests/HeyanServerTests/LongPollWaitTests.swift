import HeyanTestSupport
import Testing

/// `wait=` is bounded by the API (60 s) and clamped to the configured `longPollMaxSeconds`.
@Suite struct LongPollWaitTests {
    @Test func waitAboveTheConfiguredMaximumWaitsTheMaximum() throws {
        let service = try RunningService(limits: #""longPollMaxSeconds": 1"#)
        let civil = try DepartmentClient(service, "civil-affairs")
        let started = monotonicSeconds()
        let polled = try civil.get("/v1/queue?wait=59")
        let elapsed = monotonicSeconds() - started
        #expect(polled.status == 200)
        #expect(elapsed >= 0.9 && elapsed < 3, "waited \(elapsed) s")
        #expect(try civil.get("/v1/queue?wait=61").status == 400)
        #expect(try civil.get("/v1/queue?wait=-1").status == 400)
    }
}
