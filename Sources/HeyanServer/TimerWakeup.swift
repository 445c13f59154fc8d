import HeyanDomain
import Synchronization

/// Wakes the maintenance thread (the service's one timer thread) by a deadline.
///
/// The thread sleeps on the service clock until the earliest of its own schedule, the long-poll
/// deadlines and the refused-request intervals; whatever adds an earlier deadline calls
/// ``wake(by:)``. Nothing polls: with nothing due the thread sleeps until the next deadline.
final class TimerWakeup: Sendable {
    let clock: any ServiceClock
    private let alarm = ClockAlarm()
    /// The deadline the thread sleeps until; nil while it is awake (then any request rings, and
    /// the ring is kept for its next sleep, so no request is lost).
    private let sleepingUntil = Mutex<UInt64?>(nil)

    init(clock: any ServiceClock) { self.clock = clock }

    /// Makes sure the thread is awake by `deadline` (monotonic nanoseconds of ``clock``).
    func wake(by deadline: UInt64) {
        let ring = sleepingUntil.withLock { until -> Bool in
            guard let current = until else { return true }
            guard deadline < current else { return false }
            until = deadline
            return true
        }
        if ring { alarm.ring() }
    }

    /// Wakes the thread now (stop).
    func wakeNow() { alarm.ring() }

    /// Sleeps until `deadline` or an earlier ``wake(by:)``.
    func sleep(until deadline: UInt64) {
        sleepingUntil.withLock { $0 = deadline }
        clock.sleep(until: deadline, alarm: alarm)
        sleepingUntil.withLock { $0 = nil }
    }
}
