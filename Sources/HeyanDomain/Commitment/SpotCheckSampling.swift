/// Which commitments are checked afterwards (事后核查): a deterministic, auditable sample.
///
///     mac     = HMAC-SHA256(key: seed, message: UTF-8 bytes of the commitment ID)
///     value   = the first 8 bytes of mac as a big-endian unsigned integer
///     sampled = value / 2^64 < spotCheckRate
///
/// The seed is the installation's sampling key (32 random bytes made by the migration, kept in
/// `service_meta`); the commitment ID carries 80 random bits chosen by heyan, so neither the
/// requester nor the applicant can steer the decision. Seed, value, rate and decision are written
/// in the commitment row and its audit entry, so an auditor recomputes every decision with any
/// HMAC implementation. The share sampled converges to the rate (HMAC output is uniform).
public enum SpotCheckSampling {
    /// The rule's name, recorded with each decision.
    public static let rule = "hmac-sha256(seed, commitmentId)[0..8] / 2^64 < spotCheckRate"

    /// The decision for `commitmentID` under `seed`.
    ///
    /// - Parameter hmac: HMAC-SHA256 (key, message) → 32 bytes (`Digest.hmacSHA256` in HeyanCrypto).
    public static func decide(
        seed: [UInt8], commitmentID: String, rate: Double, hmac: ([UInt8], [UInt8]) -> [UInt8]
    ) -> SpotCheckSample {
        let mac = hmac(seed, Array(commitmentID.utf8))
        precondition(mac.count >= 8, "HMAC-SHA256 gives 32 bytes")
        var value: UInt64 = 0
        for byte in mac.prefix(8) { value = value << 8 | UInt64(byte) }
        return SpotCheckSample(
            rule: rule, seed: hex(seed), value: hex(Array(mac.prefix(8))), rate: rate,
            sampled: isSampled(value: value, rate: rate))
    }

    /// `value / 2^64 < rate` (the quotient as a correctly rounded double); a rate of 1 or more
    /// samples everything (a value within 2^10 of 2^64 rounds to 1.0), 0 nothing.
    public static func isSampled(value: UInt64, rate: Double) -> Bool {
        rate >= 1 || Double(value) / 18_446_744_073_709_551_616.0 < rate
    }

    /// The spot check's due time: `spotCheckWithinDays` calendar days after the commitment was
    /// accepted.
    public static func dueAt(createdAt: Millis, withinDays days: Int) -> Millis {
        createdAt + Millis(days) * 86_400_000
    }
}
