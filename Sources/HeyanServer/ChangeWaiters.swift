import HeyanDomain
import Synchronization

/// Long-polls waiting for a store change (a verification answered, an owner's queue filled) or
/// their deadline, whichever comes first. Each waiter fires exactly once.
///
/// Register before reading the state you wait on, so a change that commits in between is not
/// missed; cancel when the read already has what you need.
final class ChangeWaiters: Sendable {
    /// A registered waiter, for ``cancel(_:)``.
    final class Waiter: Sendable {
        let id: UInt64
        let change: StoreChange
        let deadline: UInt64
        let fire: @Sendable (_ timedOut: Bool) -> Void
        let fired = Atomic<Bool>(false)

        init(id: UInt64, change: StoreChange, deadline: UInt64, fire: @escaping @Sendable (Bool) -> Void) {
            self.id = id
            self.change = change
            self.deadline = deadline
            self.fire = fire
        }

        func trigger(timedOut: Bool) {
            if !fired.exchange(true, ordering: .acquiringAndReleasing) { fire(timedOut) }
        }
    }

    private struct State {
        var byChange: [StoreChange: [UInt64: Waiter]] = [:]
        var nextID: UInt64 = 0
    }
    private let state = Mutex(State())
    /// The service clock, and the maintenance thread that fires waiters at their deadline
    /// (``Maintenance`` calls ``expire(now:)``).
    let timer: TimerWakeup

    init(timer: TimerWakeup) { self.timer = timer }

    /// Calls `fire(false)` on `change`, or `fire(true)` after `seconds`. Returns the waiter for
    /// ``cancel(_:)``.
    @discardableResult
    func wait(for change: StoreChange, seconds: Double, fire: @escaping @Sendable (_ timedOut: Bool) -> Void) -> Waiter {
        let deadline = timer.clock.monotonicNanoseconds() + UInt64(max(0, seconds) * 1e9)
        let waiter = state.withLock { state in
            state.nextID += 1
            let waiter = Waiter(id: state.nextID, change: change, deadline: deadline, fire: fire)
            state.byChange[change, default: [:]][waiter.id] = waiter
            return waiter
        }
        timer.wake(by: deadline)
        return waiter
    }

    /// How many waiters wait (for tests: a long poll has registered).
    var count: Int { state.withLock { $0.byChange.values.reduce(0) { $0 + $1.count } } }

    /// Removes a waiter without firing it. Returns false when it already fired (or is firing): then
    /// its callback answers, and the caller must not.
    func cancel(_ waiter: Waiter) -> Bool {
        state.withLock { state in
            state.byChange[waiter.change]?.removeValue(forKey: waiter.id)
            if state.byChange[waiter.change]?.isEmpty == true { state.byChange[waiter.change] = nil }
        }
        return !waiter.fired.exchange(true, ordering: .acquiringAndReleasing)
    }

    /// Fires every waiter on `change` (called by the store after a commit).
    func notify(_ change: StoreChange) {
        let waiters = state.withLock { $0.byChange.removeValue(forKey: change) }
        for waiter in waiters?.values ?? [:].values { waiter.trigger(timedOut: false) }
    }

    /// Fires the waiters whose deadline is `now` or earlier (`fire(true)`); returns the earliest
    /// deadline of those left, if any.
    func expire(now: UInt64) -> UInt64? {
        var due: [Waiter] = []
        var next: UInt64?
        state.withLock { state in
            for (change, waiters) in state.byChange {
                for (id, waiter) in waiters {
                    if waiter.deadline <= now {
                        due.append(waiter)
                        state.byChange[change]?.removeValue(forKey: id)
                    } else {
                        next = min(next ?? .max, waiter.deadline)
                    }
                }
                if state.byChange[change]?.isEmpty == true { state.byChange[change] = nil }
            }
        }
        for waiter in due { waiter.trigger(timedOut: true) }
        return next
    }
}
