import HeyanDomain
@testable import HeyanServer
import Synchronization
import HeyanTestSupport
import Testing

/// The token bucket's arithmetic with a clock the test moves by hand.
@Suite struct TokenBucketTests {
    static let second: UInt64 = 1_000_000_000

    @Test func aFullBucketAllowsTheBurstThenRefusesWithTheWaitInWholeSeconds() {
        var bucket = TokenBucket(RateLimit(requestsPerSecond: 5, burst: 3), now: 0)
        #expect(bucket.take(now: 0) == nil)
        #expect(bucket.take(now: 0) == nil)
        #expect(bucket.take(now: 0) == nil)
        // Empty: one token takes 0.2 s at 5/s, rounded up to the 1 s minimum of Retry-After.
        #expect(bucket.take(now: 0) == 1)
        // A refusal takes nothing: after 0.2 s there is exactly one token.
        #expect(bucket.take(now: Self.second / 5) == nil)
        #expect(bucket.take(now: Self.second / 5) == 1)
    }

    @Test func refillIsProportionalToElapsedTimeAndCappedAtTheBurst() {
        var bucket = TokenBucket(RateLimit(requestsPerSecond: 10, burst: 4), now: 0)
        for _ in 0..<4 { #expect(bucket.take(now: 0) == nil) }
        #expect(bucket.take(now: 0) != nil)
        // 0.25 s at 10/s: 2.5 tokens, two requests pass, the third is refused.
        let later = Self.second / 4
        #expect(bucket.take(now: later) == nil)
        #expect(bucket.take(now: later) == nil)
        #expect(bucket.take(now: later) != nil)
        // An hour idle refills only up to the burst.
        let hour = later + 3600 * Self.second
        for _ in 0..<4 { #expect(bucket.take(now: hour) == nil) }
        #expect(bucket.take(now: hour) != nil)
    }

    @Test func slowRatesAskForLongerWaits() {
        var bucket = TokenBucket(RateLimit(requestsPerSecond: 0.1, burst: 1), now: 0)
        #expect(bucket.take(now: 0) == nil)
        #expect(bucket.take(now: 0) == 10)
        #expect(bucket.take(now: 4 * Self.second) == 6)
        #expect(bucket.take(now: 10 * Self.second) == nil)
    }

    @Test func aClockThatGoesBackwardsNeitherRefillsNorBreaks() {
        var bucket = TokenBucket(RateLimit(requestsPerSecond: 1, burst: 1), now: 10 * Self.second)
        #expect(bucket.take(now: 10 * Self.second) == nil)
        #expect(bucket.take(now: 5 * Self.second) == 1)
        #expect(bucket.take(now: 11 * Self.second) == nil)
    }

    @Test func departmentsHaveSeparateBucketsAndThoseWithoutALimitAreNotLimited() {
        let directory = DepartmentDirectory(departments: [
            Department(code: "flood", name: LocalizedName(zh: "甲", en: "A"), roles: [.requester],
                rateLimit: RateLimit(requestsPerSecond: 1, burst: 2)),
            Department(code: "victim", name: LocalizedName(zh: "乙", en: "B"), roles: [.requester],
                rateLimit: RateLimit(requestsPerSecond: 1, burst: 2)),
            Department(code: "free", name: LocalizedName(zh: "丙", en: "C"), roles: [.requester]),
        ])
        let clock = Atomic<UInt64>(0)
        let limiter = DepartmentRateLimiter(directory) { clock.load(ordering: .relaxed) }
        #expect(limiter.admit("flood") == nil)
        #expect(limiter.admit("flood") == nil)
        #expect(limiter.admit("flood") == 1)
        #expect(limiter.admit("victim") == nil)
        #expect(limiter.admit("victim") == nil)
        for _ in 0..<1000 { #expect(limiter.admit("free") == nil) }
        #expect(limiter.admit("unknown") == nil)
        clock.store(Self.second, ordering: .relaxed)
        #expect(limiter.admit("flood") == nil)
        #expect(limiter.admit("flood") == 1)
    }
}

/// The helper that lifts the example limits for tests that measure something else.
@Suite struct DepartmentsWithoutRateLimitsTests {
    @Test func theExampleFileLosesItsLimitsAndStillDecodes() throws {
        let bytes = departmentsWithoutRateLimits(try readFile(packageRoot() + "/config/departments.json"))
        let directory = try DepartmentDirectory.decode(bytes, file: "departments.json")
        #expect(directory.departments.count == 13)
        #expect(directory.departments.allSatisfy { $0.rateLimit == nil })
    }
}
