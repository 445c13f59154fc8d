import HeyanDomain

/// A token bucket (`departments.json` `rateLimit`): it refills at `requestsPerSecond` up to `burst`
/// tokens, and each request takes one. Time is passed in (monotonic nanoseconds), so the arithmetic
/// is deterministic and testable; O(1), no allocation.
struct TokenBucket: Sendable, Equatable {
    /// Tokens added per nanosecond.
    let refillPerNanosecond: Double
    let capacity: Double
    private(set) var tokens: Double
    private(set) var updatedAt: UInt64

    /// A full bucket at `now`.
    init(_ limit: RateLimit, now: UInt64) {
        refillPerNanosecond = limit.requestsPerSecond / 1e9
        capacity = Double(limit.burst)
        tokens = capacity
        updatedAt = now
    }

    /// Takes one token if there is one: `nil`. Otherwise leaves the bucket as it is and returns the
    /// whole seconds (at least 1) until a token will be there, for `Retry-After`.
    mutating func take(now: UInt64) -> Int? {
        if now > updatedAt {
            tokens = min(capacity, tokens + Double(now &- updatedAt) * refillPerNanosecond)
            updatedAt = now
        }
        if tokens >= 1 {
            tokens -= 1
            return nil
        }
        let seconds = (1 - tokens) / refillPerNanosecond / 1e9
        guard seconds.isFinite, seconds < 86_400 else { return 86_400 }
        // A hair below the exact value so that float noise (6.000000001) does not add a second.
        return max(1, Int((seconds - 1e-6).rounded(.up)))
    }
}
