#if canImport(Glibc)
import Glibc
#endif
import HeyanDomain
import HeyanHTTP
import Synchronization

/// Background work on a schedule: mark overdue queue items (every 5 s), sign an audit
/// checkpoint when the log grew (every 60 s), return freed heap memory (every 5 s); plus the
/// long-poll deadline timer; write the refused-request aggregates whose interval ended (every
/// 100 ms tick, and the rest at stop).
final class Maintenance: Sendable {
    let context: ServiceContext
    let waiters: ChangeWaiters
    let refusals: RefusalAudit
    let overdueInterval: UInt64 = 5_000_000_000
    let checkpointInterval: UInt64 = 60_000_000_000
    /// How often freed heap memory goes back to the kernel (malloc_trim).
    let trimInterval: UInt64 = 5_000_000_000
    private let started = Atomic<Bool>(false)
    private let stopped = Atomic<Bool>(false)

    init(context: ServiceContext, waiters: ChangeWaiters, refusals: RefusalAudit) {
        self.context = context
        self.waiters = waiters
        self.refusals = refusals
    }

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
        try waiters.startTimer()
        _ = try startThread(name: "heyan-maint") { [self] in
            var nextOverdue = monotonicNanoseconds()
            var nextCheckpoint = monotonicNanoseconds() + checkpointInterval
            var nextTrim = monotonicNanoseconds() + trimInterval
            while !stopped.load(ordering: .relaxed) {
                let now = monotonicNanoseconds()
                if now >= nextOverdue {
                    nextOverdue = now + overdueInterval
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
                if now >= nextCheckpoint {
                    nextCheckpoint = now + checkpointInterval
                    context.store.checkpoint(now: context.now(), sign: context.signCheckpoint) { [context] result in
                        if case .failure(let error) = result {
                            context.log.log(.error, "checkpoint-failed", [("error", "\(error)")])
                        }
                    }
                }
                writeRefusalAggregates(endedBy: now)
                if now >= nextTrim {
                    nextTrim = now + trimInterval
                    returnFreedHeapMemory()
                }
                usleep(100_000)
            }
        }
    }

    /// Stops the schedule and the long-poll timer (within 100 ms), then writes the refused-request
    /// counts of the intervals still open, waiting up to 5 s for their commit.
    func stop() {
        stopped.store(true, ordering: .relaxed)
        waiters.stopTimer()
        let written = Atomic<Int>(0)
        let started = writeRefusalAggregates(endedBy: nil) { written.add(1, ordering: .relaxed) }
        let deadline = monotonicNanoseconds() + 5_000_000_000
        while written.load(ordering: .relaxed) < started, monotonicNanoseconds() < deadline { usleep(1000) }
    }
}
