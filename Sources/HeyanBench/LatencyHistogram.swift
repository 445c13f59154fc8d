/// A log-linear latency histogram in the manner of HdrHistogram: exact to the microsecond below
/// 1,024 µs, then 128 buckets per power of two (a bucket is at most 1/128 ≈ 0.8% of its value
/// wide) up to 2^26 µs (67 s); longer values land in the last bucket, the exact maximum is kept
/// apart.
///
/// Recording is a few integer operations and one increment, with no allocation: each worker
/// thread keeps its own histogram and the runner merges them at the end. Percentiles never sort
/// the samples.
public struct LatencyHistogram: Sendable, Equatable {
    /// Values below this many microseconds have a bucket each.
    static let linearLimit: UInt64 = 1 << linearBits
    static let linearBits = 10
    /// Sub-buckets per power of two above the linear range (2^7 = 128: relative error < 0.8%).
    static let subBucketBits = 7
    /// Values at or above 2^maxBits µs share the last bucket.
    static let maxBits = 26
    static let bucketCount = Int(linearLimit) + (maxBits - linearBits) * (1 << subBucketBits)

    private var counts: [UInt64]
    /// Number of recorded values.
    public private(set) var count: UInt64 = 0
    /// Sum of recorded values in microseconds (for the mean).
    public private(set) var sumMicroseconds: UInt64 = 0
    /// Smallest and largest recorded values, exact, in microseconds.
    public private(set) var minMicroseconds: UInt64 = .max
    public private(set) var maxMicroseconds: UInt64 = 0

    public init() { counts = [UInt64](repeating: 0, count: Self.bucketCount) }

    /// Records one latency given in nanoseconds.
    @inline(__always)
    public mutating func record(nanoseconds: UInt64) { record(microseconds: nanoseconds / 1_000) }

    /// Records one latency given in microseconds.
    public mutating func record(microseconds value: UInt64) {
        counts.withUnsafeMutableBufferPointer { $0[Self.bucketIndex(value)] &+= 1 }
        count &+= 1
        sumMicroseconds &+= value
        if value < minMicroseconds { minMicroseconds = value }
        if value > maxMicroseconds { maxMicroseconds = value }
    }

    /// Adds every value recorded in `other`.
    public mutating func merge(_ other: LatencyHistogram) {
        for index in 0..<Self.bucketCount { counts[index] &+= other.counts[index] }
        count &+= other.count
        sumMicroseconds &+= other.sumMicroseconds
        minMicroseconds = min(minMicroseconds, other.minMicroseconds)
        maxMicroseconds = max(maxMicroseconds, other.maxMicroseconds)
    }

    /// Forgets every value (used when the warmup ends).
    public mutating func reset() { self = LatencyHistogram() }

    /// The bucket that holds `value` (µs).
    @inline(__always)
    static func bucketIndex(_ value: UInt64) -> Int {
        if value < linearLimit { return Int(value) }
        let exponent = 63 - value.leadingZeroBitCount  // floor(log2(value)) ≥ linearBits
        if exponent >= maxBits { return bucketCount - 1 }
        let subBucket = Int((value >> UInt64(exponent - subBucketBits)) & ((1 << subBucketBits) - 1))
        return Int(linearLimit) + (exponent - linearBits) << subBucketBits + subBucket
    }

    /// The smallest and largest value (µs) a bucket holds.
    static func bucketRange(_ index: Int) -> ClosedRange<UInt64> {
        if index < Int(linearLimit) { return UInt64(index)...UInt64(index) }
        let offset = index - Int(linearLimit)
        let exponent = linearBits + offset >> subBucketBits
        let subBucket = UInt64(offset & ((1 << subBucketBits) - 1))
        let width = UInt64(1) << UInt64(exponent - subBucketBits)
        let low = (UInt64(1) << UInt64(exponent)) + subBucket * width
        return low...(low + width - 1)
    }

    /// The value (µs) at `percentile` (0–100): the middle of the bucket that holds the sample of
    /// that rank, clamped to the exact minimum and maximum (and the maximum itself for the last
    /// rank). 0 when nothing was recorded.
    public func percentile(_ percentile: Double) -> Double {
        guard count > 0 else { return 0 }
        let fraction = min(max(percentile, 0), 100) / 100
        // The rank of the sample (1-based); the tolerance keeps 0.999 × 1000 from rounding up to 1000.
        let rank = max(1, UInt64((fraction * Double(count) - 1e-7).rounded(.up)))
        if rank >= count { return Double(maxMicroseconds) }  // the largest sample is known exactly
        var seen: UInt64 = 0
        for index in 0..<Self.bucketCount {
            seen &+= counts[index]
            if seen >= rank {
                let range = Self.bucketRange(index)
                let middle = (Double(range.lowerBound) + Double(range.upperBound)) / 2
                return min(max(middle, Double(minMicroseconds)), Double(maxMicroseconds))
            }
        }
        return Double(maxMicroseconds)
    }

    /// Mean in microseconds (exact: from the sum).
    public var meanMicroseconds: Double { count == 0 ? 0 : Double(sumMicroseconds) / Double(count) }
}
