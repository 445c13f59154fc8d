#if canImport(Glibc)
import Glibc
#endif

/// The service's one source of time: wall-clock milliseconds for what is recorded (submitted,
/// due, leased until, audit times) and monotonic nanoseconds for what is measured (deadlines,
/// intervals, timeouts, durations), plus sleeping until a monotonic deadline.
///
/// One instance is injected into the runtime and reaches the store, the routes, the long-poll
/// waiters, the maintenance schedule, the rate limiters and the event loops; nothing of the
/// service reads the system clock itself. ``SystemClock`` is the real one; tests use a manual
/// clock whose time moves only when the test advances it (Tests/HeyanTestSupport/ManualClock.swift),
/// so lease expiry, overdue marking, long-poll timeouts and audit intervals are tested by
/// advancing time, not by sleeping.
public protocol ServiceClock: Sendable {
    /// Wall-clock milliseconds since the Unix epoch.
    func now() -> Millis
    /// Monotonic nanoseconds: only differences mean anything.
    func monotonicNanoseconds() -> UInt64
    /// Blocks the calling thread until this clock's monotonic time reaches `deadline` or `alarm`
    /// rings (a ring before the call counts), whichever comes first. Callers loop: recompute
    /// what is due and sleep again.
    func sleep(until deadline: UInt64, alarm: ClockAlarm)
}

extension ServiceClock {
    /// Wall-clock seconds since the Unix epoch.
    public func nowSeconds() -> Int64 { now() / 1000 }
}

/// The system clock: `CLOCK_REALTIME` and `CLOCK_MONOTONIC`.
public struct SystemClock: ServiceClock {
    public init() {}

    public func now() -> Millis {
        var ts = timespec()
        clock_gettime(CLOCK_REALTIME, &ts)
        return Millis(ts.tv_sec) * 1000 + Millis(ts.tv_nsec / 1_000_000)
    }

    @inline(__always)
    public func monotonicNanoseconds() -> UInt64 {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return UInt64(ts.tv_sec) &* 1_000_000_000 &+ UInt64(ts.tv_nsec)
    }

    public func sleep(until deadline: UInt64, alarm: ClockAlarm) {
        alarm.wait(until: deadline, timed: true) { monotonicNanoseconds() >= deadline }
    }
}

/// What wakes a thread sleeping on a ``ServiceClock`` before its deadline: a new, earlier
/// deadline, a stop, or (for a manual clock) time advanced. A ring that comes while nobody sleeps
/// is kept for the next sleep, so a wake-up between "compute the next deadline" and "sleep" is
/// never lost.
public final class ClockAlarm: @unchecked Sendable {
    // @unchecked: `rung` is guarded by `mutex`; the pthread objects live as long as the alarm.
    private let mutex = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)
    private let condition = UnsafeMutablePointer<pthread_cond_t>.allocate(capacity: 1)
    private var rung = false

    public init() {
        pthread_mutex_init(mutex, nil)
        var attributes = pthread_condattr_t()
        pthread_condattr_init(&attributes)
        pthread_condattr_setclock(&attributes, CLOCK_MONOTONIC)
        pthread_cond_init(condition, &attributes)
        pthread_condattr_destroy(&attributes)
    }

    deinit {
        pthread_cond_destroy(condition)
        pthread_mutex_destroy(mutex)
        mutex.deallocate()
        condition.deallocate()
    }

    /// Wakes the sleeper (or the next sleep, if none is asleep).
    public func ring() {
        pthread_mutex_lock(mutex)
        rung = true
        pthread_cond_broadcast(condition)
        pthread_mutex_unlock(mutex)
    }

    /// Waits until rung or `due()`. With `timed`, `deadline` is a `CLOCK_MONOTONIC` time the wait
    /// ends at by itself; without, only a ring ends it (a manual clock rings when it advances).
    public func wait(until deadline: UInt64, timed: Bool, due: () -> Bool) {
        pthread_mutex_lock(mutex)
        while !rung && !due() {
            if timed {
                var ts = timespec(tv_sec: Int(deadline / 1_000_000_000), tv_nsec: Int(deadline % 1_000_000_000))
                _ = pthread_cond_timedwait(condition, mutex, &ts)
            } else {
                pthread_cond_wait(condition, mutex)
            }
        }
        rung = false
        pthread_mutex_unlock(mutex)
    }
}
