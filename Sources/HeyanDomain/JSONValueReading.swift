/// Reading JSON text back into a ``JSONValue``: the console (docs/console.md) renders the API's own
/// answers, so it reads the bodies the API's handlers wrote. The same strict parser as request
/// bodies (``JSONSyntax``, its request limits), and plain accessors for rendering.
extension JSONValue {
    /// Parses `bytes` (strict RFC 8259, request limits); integers that fit 64 bits are `.int`.
    public init(parsing bytes: [UInt8]) throws(ValidationIssue) {
        self.init(try JSONSyntax.parse(bytes, limits: .request))
    }

    init(_ syntax: JSONSyntaxValue) {
        switch syntax {
        case .null: self = .null
        case .bool(let value): self = .bool(value)
        case .number(let literal): self = Int64(literal).map(JSONValue.int) ?? .number(Double(literal) ?? 0)
        case .string(let value): self = .string(value)
        case .array(let elements): self = .array(elements.map(JSONValue.init))
        case .object(let fields): self = .object(fields.map { ($0.0, JSONValue($0.1)) })
        }
    }

    /// The member `name` of an object (the first of that name), nil otherwise.
    public subscript(name: String) -> JSONValue? {
        guard case .object(let fields) = self else { return nil }
        return fields.first { $0.0 == name }?.1
    }

    /// The elements of an array; empty for anything else.
    public var elements: [JSONValue] {
        if case .array(let elements) = self { return elements }
        return []
    }

    /// The text of a string, or of a number or boolean as JSON writes it; nil for null, arrays, objects.
    public var text: String? {
        switch self {
        case .string(let value): value
        case .int(let value): String(value)
        case .bool(let value): String(value)
        case .number: String(decoding: jsonBytes(), as: UTF8.self)
        default: nil
        }
    }

    /// A number as a double; nil for anything else.
    public var double: Double? {
        switch self {
        case .int(let value): Double(value)
        case .number(let value): value
        default: nil
        }
    }
}
