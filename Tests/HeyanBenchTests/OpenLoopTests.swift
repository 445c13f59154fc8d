import Testing
@testable import HeyanBench

/// Open-loop accounting with an injected clock: a simulated server with one connection and a
/// fixed service time, driven through the same ``OpenLoopSchedule`` and ``RunAccounting`` the
/// workers use.
@Suite struct OpenLoopTests {
    static let ms: UInt64 = 1_000_000

    /// Sends every due request as soon as the single connection is free, until `end`.
    static func simulate(rate: Double, service: UInt64, end: UInt64) -> RunAccounting {
        var schedule = OpenLoopSchedule(ratePerSecond: rate, start: 0)
        var accounting = RunAccounting(window: 0..<end)
        var connectionFreeAt: UInt64 = 0
        while true {
            let sendAt = max(schedule.nextIntendedTime, connectionFreeAt)
            guard sendAt < end, let intended = schedule.takeDue(now: sendAt) else { break }
            accounting.started(intended: intended, now: sendAt)
            let completedAt = sendAt + service
            accounting.response(status: 200, now: completedAt)
            accounting.completed(intended: intended, now: completedAt)
            connectionFreeAt = completedAt
        }
        accounting.dropped = UInt64(schedule.backlog(at: end, window: accounting.window))
        return accounting
    }

    @Test func intendedTimesAreEvenlySpacedAndPhased() {
        var schedule = OpenLoopSchedule(ratePerSecond: 1_000, start: 5_000, phase: 250)
        #expect(schedule.intendedTime(0) == 5_250)
        #expect(schedule.intendedTime(3) == 3_005_250)
        #expect(schedule.takeDue(now: 5_000) == nil)
        #expect(schedule.takeDue(now: 2_005_250) == 5_250)
        #expect(schedule.takeDue(now: 2_005_250) == 1_005_250)
        #expect(schedule.takeDue(now: 2_005_250) == 2_005_250)
        #expect(schedule.takeDue(now: 2_005_250) == nil)
        #expect(schedule.backlog(at: 10_005_250, window: 0..<UInt64.max) == 8)
    }

    @Test func aServerThatKeepsUpShowsItsServiceTime() {
        let accounting = Self.simulate(rate: 200, service: 1 * Self.ms, end: 1_000 * Self.ms)
        #expect(accounting.transactions == 200)
        #expect(accounting.late == 0)
        #expect(accounting.dropped == 0)
        #expect(accounting.latency.percentile(50) == 1_000)
        #expect(accounting.latency.maxMicroseconds == 1_000)
    }

    @Test func aSlowServerCannotHideItsQueueing() {
        // 200 requests/s intended, 10 ms each on one connection: request i is sent at 10i ms
        // instead of 5i ms, so its latency from the intended time is 5i + 10 ms, not 10 ms.
        let accounting = Self.simulate(rate: 200, service: 10 * Self.ms, end: 1_000 * Self.ms)
        #expect(accounting.transactions == 99)  // the 100th completes at exactly 1 s, outside the window
        #expect(accounting.late == 99)  // all but the first are over 1 ms behind
        #expect(accounting.dropped == 100)
        #expect(accounting.latency.minMicroseconds == 10_000)
        #expect(accounting.latency.maxMicroseconds == 500_000)  // i = 98: 5·98 + 10 ms
        let median = accounting.latency.percentile(50)
        #expect(abs(median - 255_000) <= 255_000 / 128)  // i = 49
        // A closed-loop measurement of the same server would have said 10 ms throughout.
        #expect(accounting.latency.percentile(99) > 400_000)
    }

    @Test func onlyTheMeasurementWindowCounts() {
        var accounting = RunAccounting(window: 100..<200)
        accounting.completed(intended: 0, now: 99)
        accounting.response(status: 200, now: 99)
        accounting.completed(intended: 50, now: 150)
        accounting.response(status: 201, now: 150)
        accounting.completed(intended: 150, now: 200)
        accounting.error(.timeout, "during warmup counts too")
        #expect(accounting.transactions == 1)
        #expect(accounting.requests == 1)
        #expect(accounting.statuses[201] == 1 && accounting.statuses[200] == 0)
        #expect(accounting.errors[BenchErrorKind.timeout.rawValue] == 1)
    }
}
