/// Minimal JSON output (RFC 8259) for hot paths, writing straight into a byte buffer without Foundation.
public enum JSONText {
    /// Appends `s` as a JSON string literal: quote, backslash and the control characters U+0000–U+001F are
    /// escaped (`\n`, `\r`, `\t`, `\b`, `\f`, otherwise `\u00XX`); everything else, including non-ASCII UTF-8 and
    /// `/`, is copied as is.
    public static func appendString(_ s: String, to buffer: inout [UInt8]) {
        buffer.append(UInt8(ascii: "\""))
        var s = s
        s.withUTF8 { bytes in
            guard let base = bytes.baseAddress else { return }
            let count = bytes.count
            var runStart = 0
            var index = 0
            while index < count {
                // Past the common case (no quote, backslash or control character) 32 bytes at a time
                // with one branch, then 8, then the last 1-7 (a base64url JWS of ~4 KB is the usual long
                // string); a word that may hold one is checked byte by byte below.
                while index + 32 <= count {
                    let words = UnsafeRawPointer(base + index)
                    let bits =
                        escapeBits(words.loadUnaligned(as: UInt64.self))
                        | escapeBits(words.loadUnaligned(fromByteOffset: 8, as: UInt64.self))
                        | escapeBits(words.loadUnaligned(fromByteOffset: 16, as: UInt64.self))
                        | escapeBits(words.loadUnaligned(fromByteOffset: 24, as: UInt64.self))
                    if bits != 0 { break }
                    index += 32
                }
                if index + 8 <= count, escapeBits(UnsafeRawPointer(base + index).loadUnaligned(as: UInt64.self)) == 0 {
                    index += 8
                    continue
                }
                if index + 8 > count, escapeBits(tailWord(base + index, count: count - index)) == 0 {
                    // The last 1–7 bytes (most of a short key or identifier) in one word as well.
                    index = count
                    break
                }
                let end = Swift.min(index + 8, count)
                while index < end {
                    let byte = base[index]
                    if byte < 0x20 || byte == UInt8(ascii: "\"") || byte == UInt8(ascii: "\\") {
                        buffer.append(contentsOf: UnsafeBufferPointer(start: base + runStart, count: index - runStart))
                        appendEscape(byte, to: &buffer)
                        runStart = index + 1
                    }
                    index += 1
                }
            }
            buffer.append(contentsOf: UnsafeBufferPointer(start: base + runStart, count: count - runStart))
        }
        buffer.append(UInt8(ascii: "\""))
    }

    /// The `count` (< 8) bytes at `start` in a word whose other bytes are `a`, which needs no escape.
    @inline(__always)
    private static func tailWord(_ start: UnsafePointer<UInt8>, count: Int) -> UInt64 {
        var word: UInt64 = 0x6161_6161_6161_6161
        withUnsafeMutableBytes(of: &word) { $0.baseAddress!.copyMemory(from: start, byteCount: count) }
        return word
    }

    /// Zero only when none of the eight bytes of `word` is below 0x20, `"` or `\` (the classic
    /// "has a byte less than n / equal to c" tests, which have no false negatives), without a branch.
    @inline(__always)
    private static func escapeBits(_ word: UInt64) -> UInt64 {
        let ones: UInt64 = 0x0101_0101_0101_0101
        let highs: UInt64 = 0x8080_8080_8080_8080
        let quote = word ^ (ones &* 0x22)
        let backslash = word ^ (ones &* 0x5C)
        return ((word &- ones &* 0x20) & ~word | (quote &- ones) & ~quote | (backslash &- ones) & ~backslash) & highs
    }

    /// `s` as a JSON string literal.
    public static func quoted(_ s: String) -> String {
        var buffer: [UInt8] = []
        appendString(s, to: &buffer)
        return String(decoding: buffer, as: UTF8.self)
    }

    /// Appends `"key":`.
    public static func appendKey(_ key: String, to buffer: inout [UInt8]) {
        appendString(key, to: &buffer)
        buffer.append(UInt8(ascii: ":"))
    }

    public static func appendInt(_ value: Int64, to buffer: inout [UInt8]) {
        buffer.append(contentsOf: String(value).utf8)
    }

    /// Appends a number: integral values below 2^53 without a fraction (`3`, not `3.0`), others in Swift's
    /// shortest round-trip form (`0.1`, `1e-07`, `9007199254740992.0`), and `null` for NaN and infinities,
    /// which JSON cannot express.
    public static func appendDouble(_ value: Double, to buffer: inout [UInt8]) {
        guard value.isFinite else {
            buffer.append(contentsOf: "null".utf8)
            return
        }
        if value == value.rounded(.towardZero) && value.magnitude < 9_007_199_254_740_992 {
            appendInt(Int64(value), to: &buffer)
        } else {
            buffer.append(contentsOf: value.description.utf8)
        }
    }

    @inline(__always)
    private static func hexDigit(_ nibble: UInt8) -> UInt8 {
        nibble < 10 ? UInt8(ascii: "0") + nibble : UInt8(ascii: "a") + nibble - 10
    }

    private static func appendEscape(_ byte: UInt8, to buffer: inout [UInt8]) {
        buffer.append(UInt8(ascii: "\\"))
        switch byte {
        case UInt8(ascii: "\""): buffer.append(UInt8(ascii: "\""))
        case UInt8(ascii: "\\"): buffer.append(UInt8(ascii: "\\"))
        case 0x0A: buffer.append(UInt8(ascii: "n"))
        case 0x0D: buffer.append(UInt8(ascii: "r"))
        case 0x09: buffer.append(UInt8(ascii: "t"))
        case 0x08: buffer.append(UInt8(ascii: "b"))
        case 0x0C: buffer.append(UInt8(ascii: "f"))
        default:
            buffer.append(contentsOf: "u00".utf8)
            buffer.append(hexDigit(byte >> 4))
            buffer.append(hexDigit(byte & 0x0F))
        }
    }
}

/// Writes one JSON object member by member into a byte buffer, for hot paths whose members are
/// known in advance (``AttestationPayload/make(verification:attestationID:issuer:legalBasis:issuedAt:expiresAt:)``):
/// the bytes ``JSONValue/object(_:)`` would give, without building the tree first.
struct JSONObjectWriter {
    private var empty = true

    /// Appends `{`.
    init(into buffer: inout [UInt8]) {
        buffer.append(UInt8(ascii: "{"))
    }

    /// Appends the separator and `"name":`; the caller appends the value. `name` is a literal that
    /// needs no escape (checked in debug builds), copied without the scan.
    mutating func key(_ name: StaticString, into buffer: inout [UInt8]) {
        separate(into: &buffer)
        buffer.append(UInt8(ascii: "\""))
        name.withUTF8Buffer { bytes in
            assert(bytes.allSatisfy { $0 >= 0x20 && $0 != UInt8(ascii: "\"") && $0 != UInt8(ascii: "\\") })
            buffer.append(contentsOf: bytes)
        }
        buffer.append(UInt8(ascii: "\""))
        buffer.append(UInt8(ascii: ":"))
    }

    mutating func string(_ name: StaticString, _ value: String, into buffer: inout [UInt8]) {
        key(name, into: &buffer)
        JSONText.appendString(value, to: &buffer)
    }

    /// A member whose name is not a literal (an audit detail's keys): the name escaped like any string.
    mutating func string(dynamicKey name: String, _ value: String, into buffer: inout [UInt8]) {
        separate(into: &buffer)
        JSONText.appendKey(name, to: &buffer)
        JSONText.appendString(value, to: &buffer)
    }

    mutating func int(_ name: StaticString, _ value: Int64, into buffer: inout [UInt8]) {
        key(name, into: &buffer)
        JSONText.appendInt(value, to: &buffer)
    }

    mutating func bool(_ name: StaticString, _ value: Bool, into buffer: inout [UInt8]) {
        key(name, into: &buffer)
        buffer.append(contentsOf: (value ? "true" : "false").utf8)
    }

    /// `"name":` and `claims` in their canonical form (``ClaimSet/appendCanonicalJSON(to:)``).
    mutating func claims(_ name: StaticString, _ claims: ClaimSet, into buffer: inout [UInt8]) {
        key(name, into: &buffer)
        claims.appendCanonicalJSON(to: &buffer)
    }

    /// `"name":` and `value` serialized.
    mutating func value(_ name: StaticString, _ value: JSONValue, into buffer: inout [UInt8]) {
        key(name, into: &buffer)
        value.serialize(into: &buffer)
    }

    /// The `,` before every member but the first.
    private mutating func separate(into buffer: inout [UInt8]) {
        if !empty { buffer.append(UInt8(ascii: ",")) }
        empty = false
    }

    /// Appends `}`.
    func end(into buffer: inout [UInt8]) {
        buffer.append(UInt8(ascii: "}"))
    }
}

/// A JSON value to serialize (RFC 8259). Objects keep their members in the order given.
///
/// Integers and doubles are separate cases so that identifiers and counts are never written in floating point;
/// `.int(1)` and `.number(1)` serialize the same but are not `==`.
///
/// Not `indirect`: arrays and member lists already hold their elements out of line, and an indirect
/// enum boxed every value (a string, a number) in its own heap object, allocated and released per node.
public enum JSONValue: Sendable, Equatable {
    case null
    case bool(Bool)
    case int(Int64)
    case number(Double)
    case string(String)
    case array([JSONValue])
    case object([(String, JSONValue)])

    public func serialize(into buffer: inout [UInt8]) {
        switch self {
        case .null:
            buffer.append(contentsOf: "null".utf8)
        case .bool(let value):
            buffer.append(contentsOf: (value ? "true" : "false").utf8)
        case .int(let value):
            JSONText.appendInt(value, to: &buffer)
        case .number(let value):
            JSONText.appendDouble(value, to: &buffer)
        case .string(let value):
            JSONText.appendString(value, to: &buffer)
        case .array(let elements):
            buffer.append(UInt8(ascii: "["))
            for (index, element) in elements.enumerated() {
                if index > 0 { buffer.append(UInt8(ascii: ",")) }
                element.serialize(into: &buffer)
            }
            buffer.append(UInt8(ascii: "]"))
        case .object(let members):
            buffer.append(UInt8(ascii: "{"))
            for (index, (key, value)) in members.enumerated() {
                if index > 0 { buffer.append(UInt8(ascii: ",")) }
                JSONText.appendKey(key, to: &buffer)
                value.serialize(into: &buffer)
            }
            buffer.append(UInt8(ascii: "}"))
        }
    }

    /// The compact JSON text (no insignificant whitespace).
    ///
    /// `reservingCapacity`: the expected size, when a caller knows it (a verification with its
    /// attestation, ~4.5 KB, would otherwise grow the buffer eight times).
    public func jsonBytes(reservingCapacity capacity: Int = 0) -> [UInt8] {
        var buffer: [UInt8] = []
        if capacity > 0 { buffer.reserveCapacity(capacity) }
        serialize(into: &buffer)
        return buffer
    }

    public static func == (lhs: JSONValue, rhs: JSONValue) -> Bool {
        switch (lhs, rhs) {
        case (.null, .null): true
        case (.bool(let a), .bool(let b)): a == b
        case (.int(let a), .int(let b)): a == b
        case (.number(let a), .number(let b)): a == b
        case (.string(let a), .string(let b)): a == b
        case (.array(let a), .array(let b)): a == b
        case (.object(let a), .object(let b)): a.elementsEqual(b) { $0.0 == $1.0 && $0.1 == $1.1 }
        default: false
        }
    }
}

extension JSONValue: ExpressibleByNilLiteral, ExpressibleByBooleanLiteral, ExpressibleByIntegerLiteral,
    ExpressibleByFloatLiteral, ExpressibleByStringLiteral, ExpressibleByArrayLiteral,
    ExpressibleByDictionaryLiteral
{
    public init(nilLiteral: ()) { self = .null }
    public init(booleanLiteral value: Bool) { self = .bool(value) }
    public init(integerLiteral value: Int64) { self = .int(value) }
    public init(floatLiteral value: Double) { self = .number(value) }
    public init(stringLiteral value: String) { self = .string(value) }
    public init(arrayLiteral elements: JSONValue...) { self = .array(elements) }
    public init(dictionaryLiteral elements: (String, JSONValue)...) { self = .object(elements) }
}
