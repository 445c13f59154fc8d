#if canImport(Glibc)
import Glibc
#endif
import HeyanDomain
import Synchronization

/// A ``ServiceClock`` whose time moves only when the test says so (like NIO's
/// `EmbeddedEventLoop.advanceTime(by:)`): the service under test sees a frozen "now" until
/// ``advance(seconds:)``, which also wakes every thread sleeping on the clock so the timers
/// whose deadline passed fire.
///
/// Wall time starts at the real time (TLS certificates and signed timestamps stay valid);
/// monotonic time starts at an arbitrary large value.
public final class ManualClock: ServiceClock {
    private struct State {
        var wall: Millis
        var monotonic: UInt64
        /// Threads asleep on this clock, by alarm, with the deadline they sleep until.
        var sleepers: [ObjectIdentifier: (alarm: ClockAlarm, deadline: UInt64)] = [:]
        /// How many sleeps each alarm has begun: ``advance(nanoseconds:)`` waits for the woken
        /// sleepers to go back to sleep (their work for the new time started).
        var sleeps: [ObjectIdentifier: UInt64] = [:]
    }
    private let state: Mutex<State>

    public init(wall: Millis? = nil) {
        state = Mutex(State(wall: wall ?? SystemClock().now(), monotonic: 1_000_000_000_000))
    }

    public func now() -> Millis { state.withLock { $0.wall } }
    public func monotonicNanoseconds() -> UInt64 { state.withLock { $0.monotonic } }

    public func sleep(until deadline: UInt64, alarm: ClockAlarm) {
        let key = ObjectIdentifier(alarm)
        state.withLock {
            $0.sleepers[key] = (alarm, deadline)
            $0.sleeps[key, default: 0] += 1
        }
        alarm.wait(until: deadline, timed: false) { monotonicNanoseconds() >= deadline }
        state.withLock { _ = $0.sleepers.removeValue(forKey: key) }
    }

    /// Moves both clocks forward by `seconds` and wakes the sleepers; returns once each woken
    /// sleeper has gone back to sleep, i.e. has done what was due at the new time (at most 5 s
    /// of real time: a thread that stops sleeping for good costs that wait).
    public func advance(seconds: Double) {
        advance(nanoseconds: UInt64(seconds * 1e9))
    }

    public func advance(nanoseconds: UInt64) {
        let woken = state.withLock { state -> [(ObjectIdentifier, ClockAlarm, UInt64)] in
            state.wall += Millis(nanoseconds / 1_000_000)
            state.monotonic += nanoseconds
            return state.sleepers.map { ($0.key, $0.value.alarm, state.sleeps[$0.key] ?? 0) }
        }
        for (_, alarm, _) in woken { alarm.ring() }
        let limit = SystemClock().monotonicNanoseconds() + 5_000_000_000
        for (key, _, before) in woken {
            // Back asleep: a later sleep began.
            while SystemClock().monotonicNanoseconds() < limit {
                if state.withLock({ ($0.sleeps[key] ?? 0) > before }) { break }
                pauseOneMillisecond()
            }
        }
    }

    /// The earliest deadline a thread sleeps until (nil when none sleeps).
    public var earliestSleeperDeadline: UInt64? {
        state.withLock { $0.sleepers.values.map(\.deadline).min() }
    }
}

/// Polls `condition` until it holds or `seconds` of real time passed; returns its last value.
/// For waiting on another thread's effect (a commit, a response), never for time to pass.
@discardableResult
public func eventually(within seconds: Double = 5, _ condition: () throws -> Bool) rethrows -> Bool {
    let limit = SystemClock().monotonicNanoseconds() + UInt64(seconds * 1e9)
    while true {
        if try condition() { return true }
        if SystemClock().monotonicNanoseconds() >= limit { return false }
        pauseOneMillisecond()
    }
}

/// Gives other threads a millisecond.
private func pauseOneMillisecond() {
    var ts = timespec(tv_sec: 0, tv_nsec: 1_000_000)
    nanosleep(&ts, nil)
}
