/// The value of one claim about a subject (e.g. `maritalStatus: "married"`,
/// `hasCriminalRecord: false`), typed by the certificate type's ``ClaimSchema``.
public enum ClaimValue: Sendable, Hashable {
    case bool(Bool)
    case string(String)
    /// An `integer` claim.
    case integer(Int64)

    // A `date` claim is a `.string` holding `yyyy-mm-dd`, checked against the schema on input.

    public var json: JSONValue {
        switch self {
        case .bool(let value): return .bool(value)
        case .string(let value): return .string(value)
        case .integer(let value): return .int(value)
        }
    }
}

/// Claims by name. Serialized with sorted keys so equal sets have equal bytes (stored, hashed,
/// signed).
public typealias ClaimSet = [String: ClaimValue]

extension Dictionary where Key == String, Value == ClaimValue {
    /// `{"a":1,"b":"x"}` with keys in byte order.
    public var canonicalJSON: JSONValue {
        .object(canonicalMembers.map { ($0.key, $0.value.json) })
    }

    /// The members in canonical order: by key (`String`'s `<`). The one ordering of both encodings.
    private var canonicalMembers: [(key: String, value: ClaimValue)] { sorted { $0.key < $1.key } }

    /// ``canonicalJSON``'s bytes appended to `buffer`, without the tree: a data-sharing verification writes
    /// its claims and disclosed claims six times (payload, response, stored columns), and each `JSONValue`
    /// object was a sorted copy, a member array and its release on the event loop. One claim, the common
    /// case, needs no sorted copy.
    public func appendCanonicalJSON(to buffer: inout [UInt8]) {
        func member(_ key: String, _ value: ClaimValue) {
            JSONText.appendKey(key, to: &buffer)
            value.json.serialize(into: &buffer)  // a scalar: no tree, no allocation
        }
        buffer.append(UInt8(ascii: "{"))
        if count == 1, let (key, value) = first {
            member(key, value)
        } else {
            for (index, (key, value)) in canonicalMembers.enumerated() {
                if index > 0 { buffer.append(UInt8(ascii: ",")) }
                member(key, value)
            }
        }
        buffer.append(UInt8(ascii: "}"))
    }

    /// ``canonicalJSON`` as text: how both stores keep claims.
    public var canonicalJSONText: String {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(16 + count * 48)
        appendCanonicalJSON(to: &bytes)
        return String(decoding: bytes, as: UTF8.self)
    }

    /// Claims a store kept as ``canonicalJSONText``; nil when the column is NULL or does not hold claims.
    public static func decode(canonicalText text: String?) -> ClaimSet? {
        guard let text else { return nil }
        return try? decode(canonical: Array(text.utf8))
    }

    /// Reads back what ``canonicalJSON`` wrote (stored claims): booleans, integers and strings.
    public static func decode(canonical bytes: [UInt8]) throws(ValidationIssue) -> ClaimSet {
        guard case .object(let fields) = try JSONSyntax.parse(bytes) else {
            throw ValidationIssue(path: "", message: "claims must be an object")
        }
        var claims: ClaimSet = [:]
        for (name, value) in fields {
            switch value {
            case .bool(let flag): claims[name] = .bool(flag)
            case .string(let text): claims[name] = .string(text)
            case .number(let literal):
                guard let number = Int64(literal) else { throw ValidationIssue(path: name, message: "not an integer") }
                claims[name] = .integer(number)
            default:
                throw ValidationIssue(path: name, message: "a claim is a boolean, an integer or a string")
            }
        }
        return claims
    }
}
