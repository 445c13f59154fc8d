/// Identifiers heyan hands out: a prefix, then 26 Crockford base-32 characters holding 48 bits of
/// milliseconds and 80 random bits, so they sort by creation time (like a ULID).
public enum Identifiers {
    static let alphabet = Array("0123456789ABCDEFGHJKMNPQRSTVWXYZ".utf8)

    /// `random` must hold at least 10 bytes.
    public static func make(prefix: String, time: Millis, random: [UInt8]) -> String {
        precondition(random.count >= 10)
        var value = [UInt8](repeating: 0, count: 16)
        let t = UInt64(max(0, time))
        for index in 0..<6 { value[index] = UInt8(truncatingIfNeeded: t >> (8 * UInt64(5 - index))) }
        for index in 0..<10 { value[6 + index] = random[index] }
        // 128 bits → 26 characters of 5 bits (the first holds 3).
        var out: [UInt8] = []
        out.reserveCapacity(26)
        var accumulator: UInt32 = 0
        var bits = 2  // pad 128 to 130 bits with two leading zeros
        for byte in value {
            accumulator = (accumulator << 8) | UInt32(byte)
            bits += 8
            while bits >= 5 {
                bits -= 5
                out.append(alphabet[Int((accumulator >> UInt32(bits)) & 31)])
            }
        }
        return prefix + String(decoding: out, as: UTF8.self)
    }
}

/// The prefix of each kind of identifier heyan hands out, so an ID says what it names.
extension Verification {
    public static let idPrefix = "ver_"
}

extension QueueItem {
    /// A verification's queue item; a spot check in the same queue has ``SpotCheck/idPrefix``.
    public static let idPrefix = "qi_"
}

extension Attestation {
    /// Attestations and commitment receipts (a receipt is an attestation of the commitment).
    public static let idPrefix = "att_"
}

extension Commitment {
    public static let idPrefix = "com_"
}

extension CreditEntry {
    public static let idPrefix = "crd_"
}

/// What an ID in an owner's queue names (`POST /v1/queue/{id}/answer` answers both kinds).
public enum OwnerQueueEntry: Sendable, Equatable {
    case verificationItem(String)
    case spotCheck(String)

    public init(id: String) {
        self = id.hasPrefix(SpotCheck.idPrefix) ? .spotCheck(id) : .verificationItem(id)
    }
}

extension Complaint {
    public static let idPrefix = "cmp_"
}
