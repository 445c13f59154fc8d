import HeyanDomain
import Synchronization

/// Bounds what refused requests write to the audit log, per department, without losing count.
///
/// Every refused request (every 4xx) is audited. Up to a rate per department — a ``TokenBucket``
/// of `limits.refusalAuditPerSecond` and `limits.refusalAuditBurst` — each gets its own
/// `request.refused` entry, written before the answer is sent. Beyond it a refusal is counted
/// instead: the department's counts go into one `request.refused.aggregate` entry when its
/// interval (`limits.refusalAuditIntervalSeconds`, starting at the first counted refusal) ends,
/// and at shutdown. So a department sending malformed requests as fast as it can writes at most
/// the bucket's rate plus one entry per interval, and individual plus aggregated counts add up to
/// every refusal. docs/audit.md, "Refused requests".
final class RefusalAudit: Sendable {
    /// What one department's refusals beyond its bucket add up to in the current interval.
    struct Tally: Sendable, Equatable {
        /// Wall-clock milliseconds of the first counted refusal.
        var from: Millis
        /// Monotonic nanoseconds when the interval ends.
        var endsAt: UInt64
        var count = 0
        var byProblem: [String: Int] = [:]
        var byStatus: [Int: Int] = [:]
    }

    private struct Department {
        var bucket: TokenBucket
        var tally: Tally?
    }

    /// The decision for one refusal.
    enum Decision: Equatable {
        /// Write a `request.refused` entry before answering.
        case individual
        /// Counted into the department's aggregate; answer at once.
        case counted
    }

    private let limit: RateLimit
    private let interval: UInt64
    private let departments = Mutex<[String: Department]>([:])
    /// Called with the end of each new interval (the maintenance thread's wake-up).
    private let intervalStarted: @Sendable (UInt64) -> Void

    /// - Parameters:
    ///   - perSecond: individual entries per department and second (the bucket's refill).
    ///   - burst: the bucket's size.
    ///   - intervalSeconds: how long counted refusals accumulate before their entry is written.
    ///   - intervalStarted: told when an interval that will end at the given monotonic time starts.
    init(perSecond: Int, burst: Int, intervalSeconds: Int, intervalStarted: @escaping @Sendable (UInt64) -> Void = { _ in }) {
        limit = RateLimit(requestsPerSecond: Double(perSecond), burst: burst)
        interval = UInt64(intervalSeconds) * 1_000_000_000
        self.intervalStarted = intervalStarted
    }

    /// Takes a token of `actor`'s bucket (`.individual`), or counts the refusal (`.counted`).
    /// `now` is monotonic nanoseconds, `wallNow` the time an aggregate's `from` reports.
    func admit(actor: String, status: Int, problemType: String?, now: UInt64, wallNow: Millis) -> Decision {
        let (decision, started) = departments.withLock { departments -> (Decision, UInt64?) in
            var department = departments[actor] ?? Department(bucket: TokenBucket(limit, now: now))
            defer { departments[actor] = department }
            if department.bucket.take(now: now) == nil { return (.individual, nil) }
            let started = department.tally == nil ? now &+ interval : nil
            var tally = department.tally ?? Tally(from: wallNow, endsAt: now &+ interval)
            tally.count += 1
            tally.byProblem[problemType ?? "-", default: 0] += 1
            tally.byStatus[status, default: 0] += 1
            department.tally = tally
            return (.counted, started)
        }
        if let started { intervalStarted(started) }
        return decision
    }

    /// When the earliest open interval ends (monotonic nanoseconds), if any is open.
    var nextIntervalEnd: UInt64? {
        departments.withLock { $0.values.compactMap { $0.tally?.endsAt }.min() }
    }

    /// The aggregate entries whose interval has ended by `now` (all of them when `now` is nil),
    /// each removed from the counts: the caller writes them.
    func takeAggregates(endedBy now: UInt64?, wallNow: Millis) -> [AuditEvent] {
        let ended = departments.withLock { departments -> [(String, Tally)] in
            var ended: [(String, Tally)] = []
            for (actor, department) in departments {
                guard let tally = department.tally, now.map({ $0 >= tally.endsAt }) ?? true else { continue }
                ended.append((actor, tally))
                departments[actor]?.tally = nil
            }
            return ended
        }
        return ended.sorted { $0.0 < $1.0 }.map { actor, tally in Self.event(actor: actor, tally: tally, to: wallNow) }
    }

    /// The `request.refused.aggregate` entry of `tally`: `count`, `from`, `to`, and `byProblem`
    /// and `byStatus` as `key=count` pairs, sorted, comma-separated.
    static func event(actor: String, tally: Tally, to: Millis) -> AuditEvent {
        let problems = tally.byProblem.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }
        let statuses = tally.byStatus.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }
        return AuditEvent(
            action: .requestRefusedAggregate, actor: actor,
            detail: [
                "count": String(tally.count), "from": Timestamp.rfc3339(tally.from),
                "to": Timestamp.rfc3339(max(to, tally.from)), "byProblem": problems.joined(separator: ","),
                "byStatus": statuses.joined(separator: ","),
            ])
    }
}
