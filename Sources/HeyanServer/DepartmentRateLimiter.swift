import HeyanDomain
import HeyanHTTP
import Synchronization

/// One ``TokenBucket`` per department that has a `rateLimit` in `departments.json`; departments
/// without one are not limited (docs/configuration.md). The table is built once and never changes,
/// so a check is a dictionary lookup and one short per-department lock: departments do not contend
/// with each other, only requests of the same department do.
final class DepartmentRateLimiter: Sendable {
    private final class Slot: Sendable {
        let bucket: Mutex<TokenBucket>
        init(_ bucket: TokenBucket) { self.bucket = Mutex(bucket) }
    }

    private let slots: [String: Slot]
    private let clock: @Sendable () -> UInt64

    /// - Parameter clock: monotonic nanoseconds (of the service clock).
    init(_ directory: DepartmentDirectory, clock: @escaping @Sendable () -> UInt64) {
        let now = clock()
        var slots: [String: Slot] = [:]
        for department in directory.departments {
            if let limit = department.rateLimit { slots[department.code] = Slot(TokenBucket(limit, now: now)) }
        }
        self.slots = slots
        self.clock = clock
    }

    /// `nil` when `department` may go ahead (one token taken); otherwise the seconds to wait.
    func admit(_ department: String) -> Int? {
        guard let slot = slots[department] else { return nil }
        let now = clock()
        return slot.bucket.withLock { $0.take(now: now) }
    }
}
