#if canImport(Glibc)
import Glibc
#endif
import HeyanDomain
import HeyanHTTP
import Synchronization

/// Background work on a schedule, on the service's one timer thread: mark overdue queue items
/// (every 5 s), sign an audit checkpoint when the log grew (every 60 s), return freed heap memory
/// (every 5 s), sign a transparency-log checkpoint note when the tree grew (every
/// `audit.checkpointIntervalSeconds`, when configured), fire the long-poll waiters whose deadline
/// passed, and write the refused-request aggregates whose interval ended (and the rest at stop).
///
/// The thread sleeps on the service clock (``TimerWakeup``) until the earliest of those deadlines;
/// a long poll or a refusal interval that ends sooner wakes it. It does not poll.
///
/// With several nodes on one database only the elected one (``NodeCoordination/leadsPeriodicWork``;
/// always this node on SQLite) marks overdue items, signs checkpoints, pushes them to witnesses
/// and erases past retention; the rest — heap trimming, long-poll deadlines, this node's refusal
/// counts — is each node's own.
final class Maintenance: Sendable {
    let context: ServiceContext
    let waiters: ChangeWaiters
    let refusals: RefusalAudit
    let timer: TimerWakeup
    let overdueInterval: UInt64 = 5_000_000_000
    let checkpointInterval: UInt64 = 60_000_000_000
    /// How often freed heap memory goes back to the kernel (malloc_trim).
    let trimInterval: UInt64 = 5_000_000_000
    private let started = Atomic<Bool>(false)
    private let stopped = Atomic<Bool>(false)

    init(context: ServiceContext, waiters: ChangeWaiters, refusals: RefusalAudit, timer: TimerWakeup) {
        self.context = context
        self.waiters = waiters
        self.refusals = refusals
        self.timer = timer
    }

    private var clock: any ServiceClock { timer.clock }

    /// Appends the `request.refused.aggregate` entries whose interval ended by `now` (every one
    /// when nil); returns how many writes it started and calls `done` after each.
    @discardableResult
    private func writeRefusalAggregates(endedBy now: UInt64?, done: @escaping @Sendable () -> Void = {}) -> Int {
        let events = refusals.takeAggregates(endedBy: now, wallNow: context.now())
        for event in events {
            context.store.recordRefusal(event, at: context.now()) { [context] result in
                if case .failure(let error) = result {
                    context.log.log(
                        .error, "refusal-aggregate-failed",
                        [("department", event.actor), ("count", event.detail["count"] ?? ""), ("error", "\(error)")])
                }
                done()
            }
        }
        return events.count
    }

    func start() throws {
        guard !started.exchange(true, ordering: .relaxed) else { return }
        _ = try startThread(name: "heyan-maint") { [self] in
            let first = clock.monotonicNanoseconds()
            var nextOverdue = first
            var nextCheckpoint = first + checkpointInterval
            var nextTrim = first + trimInterval
            var nextNote = context.transparencyLog == nil ? UInt64.max : first
            var nextErasure = context.transparencyLog?.retention == nil ? UInt64.max : first
            while !stopped.load(ordering: .relaxed) {
                let now = clock.monotonicNanoseconds()
                // A follower keeps the schedule and skips the work; it takes over at the next slot.
                let leads = context.store.leadsPeriodicWork
                if now >= nextOverdue {
                    nextOverdue = now + overdueInterval
                    if leads { markOverdue() }
                }
                if now >= nextCheckpoint {
                    nextCheckpoint = now + checkpointInterval
                    if leads {
                        context.store.checkpoint(now: context.now(), sign: context.signCheckpoint) { [context] result in
                            if case .failure(let error) = result {
                                context.log.log(.error, "checkpoint-failed", [("error", "\(error)")])
                            }
                        }
                    }
                }
                if let publisher = context.transparencyLog, now >= nextNote {
                    nextNote = now + publisher.interval
                    if leads { publisher.publish() }
                }
                if let publisher = context.transparencyLog, now >= nextErasure {
                    nextErasure = now + publisher.erasureInterval
                    if leads { publisher.eraseExpired() }
                }
                writeRefusalAggregates(endedBy: now)
                if now >= nextTrim {
                    nextTrim = now + trimInterval
                    returnFreedHeapMemory()
                }
                let nextWaiter = waiters.expire(now: now) ?? .max
                let nextInterval = refusals.nextIntervalEnd ?? .max
                timer.sleep(until: min(nextOverdue, nextCheckpoint, nextTrim, nextNote, nextErasure, nextWaiter, nextInterval))
            }
        }
    }

    /// Marks the queue items and spot checks past their due time overdue (each once, audited).
    private func markOverdue() {
        context.store.markOverdue(now: context.now()) { [context] result in
            if case .success(let count) = result, count > 0 {
                context.log.log(.info, "queue-overdue", numbers: [("marked", Double(count))])
            }
        }
        context.store.markSpotChecksOverdue(now: context.now()) { [context] result in
            if case .success(let count) = result, count > 0 {
                context.log.log(.info, "spot-check-overdue", numbers: [("marked", Double(count))])
            }
        }
    }

    /// Stops the schedule and the long-poll deadlines, then writes the refused-request counts of
    /// the intervals still open, waiting for their commit (at most 5 s of the service clock).
    func stop() {
        stopped.store(true, ordering: .relaxed)
        timer.wakeNow()
        let written = Atomic<Int>(0)
        let alarm = ClockAlarm()
        let started = writeRefusalAggregates(endedBy: nil) {
            written.add(1, ordering: .relaxed)
            alarm.ring()
        }
        let deadline = clock.monotonicNanoseconds() + 5_000_000_000
        while written.load(ordering: .relaxed) < started, clock.monotonicNanoseconds() < deadline {
            clock.sleep(until: deadline, alarm: alarm)
        }
    }
}
