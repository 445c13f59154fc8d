#if canImport(Glibc)
import Glibc
#endif
import Foundation
import HeyanDomain
import HeyanHTTP
import HeyanTestSupport
import Synchronization
import Testing

@testable import HeyanServer

/// The service's time is its injected clock (``ServiceClock``): on a manual clock, overdue
/// marking and the long-poll timer fire when the test moves time, not when it sleeps.
@Suite struct ServiceClockTests {
    static func millis(_ text: Any?) -> Millis {
        Millis(((ISO8601DateFormatter.fractional.date(from: text as? String ?? "")?.timeIntervalSince1970 ?? 0) * 1000).rounded())
    }

    @Test func maintenanceMarksOverdueWhenTimePassesTheDueDate() throws {
        let clock = ManualClock()
        let service = try RunningService(clock: clock)
        let housing = try DepartmentClient(service, "housing-fund")
        var civil = try DepartmentClient(service, "civil-affairs")
        var auditor = try DepartmentClient(service, "audit-office")
        #expect(try housing.post("/v1/verifications", TestSubjects.verificationBody(subject: TestSubjects.residentID(70))).status == 202)
        let item = try #require((try civil.get("/v1/queue?lease=60")["items"] as? [[String: Any]])?.first)
        #expect(item["overdue"] as? Bool == false)
        let dueAt = Self.millis(item["dueAt"])
        #expect(dueAt > clock.now())
        var police = try DepartmentClient(service, "public-security")
        func overdueEntries() throws -> Int {
            // A lease is a write (here of an empty queue): it commits after any write maintenance
            // started before it.
            #expect(try police.get("/v1/queue")["items"] as? [Any] != nil)
            return (try auditor.get("/v1/audit?action=queue.overdue")["entries"] as? [[String: Any]])?.count ?? -1
        }

        // A second before the due time: maintenance runs (every 5 s of the clock) and marks nothing.
        clock.advance(nanoseconds: UInt64(dueAt - 1000 - clock.now()) * 1_000_000)
        // Days passed on the service's clock, so the loops close every keep-alive connection as idle at
        // their next tick (idle timeout 60 s of that clock): a request sent on one of them races the tick
        // (it lost once under a full `make test`). New connections, as RetentionTests makes after its jumps.
        civil = try DepartmentClient(service, "civil-affairs")
        auditor = try DepartmentClient(service, "audit-office")
        police = try DepartmentClient(service, "public-security")
        #expect(try overdueEntries() == 0)
        // Five seconds later, past the due time: the next run marks it, once.
        clock.advance(seconds: 5)
        #expect(try eventually { try overdueEntries() == 1 })
        clock.advance(seconds: 5)
        #expect(try overdueEntries() == 1)
        let again = try #require((try civil.get("/v1/queue?lease=60")["items"] as? [[String: Any]])?.first)
        #expect(again["id"] as? String == item["id"] as? String)
        #expect(again["overdue"] as? Bool == true)
    }

    @Test func waitersFireAtTheirDeadlineOfTheClock() throws {
        let clock = ManualClock()
        let timer = TimerWakeup(clock: clock)
        let waiters = ChangeWaiters(timer: timer)
        let fired = Mutex<[String]>([])
        waiters.wait(for: .queue(owner: "a"), seconds: 2) { timedOut in fired.withLock { $0.append("a \(timedOut)") } }
        waiters.wait(for: .queue(owner: "b"), seconds: 1) { timedOut in fired.withLock { $0.append("b \(timedOut)") } }
        let cancelled = waiters.wait(for: .queue(owner: "c"), seconds: 1) { _ in fired.withLock { $0.append("c") } }
        #expect(waiters.cancel(cancelled))
        let start = clock.monotonicNanoseconds()
        #expect(waiters.expire(now: start) == start + 1_000_000_000)
        #expect(waiters.expire(now: start + 1_000_000_000) == start + 2_000_000_000)
        #expect(fired.withLock { $0 } == ["b true"])
        waiters.notify(.queue(owner: "a"))
        #expect(fired.withLock { $0 } == ["b true", "a false"])
        #expect(waiters.expire(now: start + 5_000_000_000) == nil)
        #expect(waiters.count == 0)
    }

    @Test func aSleeperWakesWhenTheClockPassesItsDeadlineOrAnEarlierOneIsAsked() throws {
        let clock = ManualClock()
        let timer = TimerWakeup(clock: clock)
        let wakes = Atomic<Int>(0)
        let stop = Atomic<Bool>(false)
        let deadline = Atomic<UInt64>(clock.monotonicNanoseconds() + 10_000_000_000)
        _ = try startThread(name: "sleeper") {
            while !stop.load(ordering: .acquiring) {
                timer.sleep(until: deadline.load(ordering: .acquiring))
                wakes.add(1, ordering: .releasing)
            }
        }
        #expect(eventually { clock.earliestSleeperDeadline != nil })
        clock.advance(seconds: 9)  // before the deadline: woken by the advance, back asleep
        // The sleeper runs on its own thread: under load it counts its wake and sleeps again a
        // moment after the advance returns, so both are awaited rather than read at once.
        #expect(eventually { wakes.load(ordering: .acquiring) == 1 })
        #expect(eventually { clock.earliestSleeperDeadline == deadline.load(ordering: .acquiring) })
        #expect(wakes.load(ordering: .acquiring) == 1)
        // An earlier deadline wakes it at once.
        deadline.store(clock.monotonicNanoseconds() + 1_000_000_000, ordering: .releasing)
        timer.wake(by: deadline.load(ordering: .acquiring))
        #expect(eventually { clock.earliestSleeperDeadline == deadline.load(ordering: .acquiring) })
        stop.store(true, ordering: .releasing)
        timer.wakeNow()
        #expect(eventually { clock.earliestSleeperDeadline == nil })
    }
}
