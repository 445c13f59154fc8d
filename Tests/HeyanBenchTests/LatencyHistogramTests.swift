#if canImport(Glibc)
import Glibc
#endif
import Testing
@testable import HeyanBench

@Suite struct LatencyHistogramTests {
    /// The relative width of a bucket above the linear range.
    static let bucketError = 1.0 / 128

    @Test func valuesBelowOneMillisecondAreExact() {
        var histogram = LatencyHistogram()
        for value in 1...1_000 { histogram.record(microseconds: UInt64(value)) }
        #expect(histogram.count == 1_000)
        #expect(histogram.percentile(50) == 500)
        #expect(histogram.percentile(90) == 900)
        #expect(histogram.percentile(99) == 990)
        #expect(histogram.percentile(99.9) == 999)
        #expect(histogram.percentile(100) == 1_000)
        #expect(histogram.minMicroseconds == 1)
        #expect(histogram.maxMicroseconds == 1_000)
        #expect(histogram.meanMicroseconds == 500.5)
    }

    @Test func uniformDistributionPercentilesWithinBucketError() {
        var histogram = LatencyHistogram()
        for value in 1...200_000 { histogram.record(microseconds: UInt64(value)) }
        for (percentile, expected) in [(50.0, 100_000.0), (90, 180_000), (99, 198_000), (99.9, 199_800)] {
            let measured = histogram.percentile(percentile)
            #expect(abs(measured - expected) / expected <= Self.bucketError, "p\(percentile): \(measured) vs \(expected)")
        }
        #expect(histogram.maxMicroseconds == 200_000)
        #expect(histogram.meanMicroseconds == 100_000.5)
    }

    @Test func exponentialTailPercentilesWithinBucketError() {
        // A deterministic exponential distribution (mean 2 ms) by inverse transform on an even grid.
        var samples: [UInt64] = []
        let count = 100_000
        for index in 0..<count {
            let u = (Double(index) + 0.5) / Double(count)
            samples.append(UInt64(-2_000 * log1p(-u)))
        }
        var histogram = LatencyHistogram()
        for sample in samples { histogram.record(microseconds: sample) }
        let sorted = samples.sorted()
        for percentile in [50.0, 90, 99, 99.9, 99.99] {
            let rank = Int((percentile / 100 * Double(count)).rounded(.up)) - 1
            let exact = Double(sorted[rank])
            let measured = histogram.percentile(percentile)
            let tolerance = exact < 1_024 ? 0.5 : exact * Self.bucketError
            #expect(abs(measured - exact) <= tolerance, "p\(percentile): \(measured) vs \(exact)")
        }
    }

    @Test func bucketsCoverEveryValueOnce() {
        var previousUpper: UInt64?
        for index in 0..<(LatencyHistogram.bucketCount - 1) {
            let range = LatencyHistogram.bucketRange(index)
            if let previousUpper { #expect(range.lowerBound == previousUpper + 1) }
            #expect(LatencyHistogram.bucketIndex(range.lowerBound) == index)
            #expect(LatencyHistogram.bucketIndex(range.upperBound) == index)
            if range.lowerBound >= 1_024 {
                #expect(Double(range.upperBound - range.lowerBound + 1) / Double(range.lowerBound) <= Self.bucketError)
            }
            previousUpper = range.upperBound
        }
        // 60 s still has its own bucket; beyond 2^26 µs everything shares the last one.
        #expect(LatencyHistogram.bucketIndex(60_000_000) < LatencyHistogram.bucketCount - 1)
        #expect(LatencyHistogram.bucketIndex(1 << 40) == LatencyHistogram.bucketCount - 1)
    }

    @Test func mergingEqualsRecordingTogether() {
        var left = LatencyHistogram()
        var right = LatencyHistogram()
        var both = LatencyHistogram()
        for value in stride(from: 3, to: 500_000, by: 7) {
            if value % 2 == 0 { left.record(microseconds: UInt64(value)) } else { right.record(microseconds: UInt64(value)) }
            both.record(microseconds: UInt64(value))
        }
        left.merge(right)
        #expect(left == both)
        #expect(LatencyHistogram().percentile(99) == 0)
    }

    @Test func hugeValuesKeepTheExactMaximum() {
        var histogram = LatencyHistogram()
        histogram.record(microseconds: 100)
        histogram.record(microseconds: 90_000_000)  // 90 s: past the last bucket
        #expect(histogram.percentile(100) == 90_000_000)
        #expect(histogram.maxMicroseconds == 90_000_000)
    }
}
