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
        .object(sorted { $0.key < $1.key }.map { ($0.key, $0.value.json) })
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
