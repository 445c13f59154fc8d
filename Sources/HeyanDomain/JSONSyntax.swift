/// A parsed JSON document, from heyan's own strict RFC 8259 parser (``JSONSyntax``). Two uses:
/// - every request body: the rules walk this tree directly (``RequestObject``, with
///   ``JSONSyntax/Limits/request``), which is the hot path of `POST /v1/verifications`;
/// - configuration files: their syntax is checked before `JSONDecoder` sees them, and a field of
///   the wrong type is reported with what was found at its path.
///
/// `JSONDecoder` accepts trailing commas, keeps the last of two fields with the same name and
/// reports a syntax error without a position. Neither a request nor a hand-edited file should
/// get that: ``JSONSyntax/parse(_:)`` follows RFC 8259 exactly and names the line and column of
/// the problem.
enum JSONSyntaxValue: Sendable, Equatable {
    case null
    case bool(Bool)
    /// The number as written, so a message can quote it.
    case number(String)
    case string(String)
    case array([JSONSyntaxValue])
    /// Fields in document order.
    case object([(String, JSONSyntaxValue)])

    static func == (lhs: JSONSyntaxValue, rhs: JSONSyntaxValue) -> Bool {
        switch (lhs, rhs) {
        case (.null, .null): return true
        case (.bool(let a), .bool(let b)): return a == b
        case (.number(let a), .number(let b)): return a == b
        case (.string(let a), .string(let b)): return a == b
        case (.array(let a), .array(let b)): return a == b
        case (.object(let a), .object(let b)):
            return a.count == b.count && zip(a, b).allSatisfy { $0.0 == $1.0 && $0.1 == $1.1 }
        default: return false
        }
    }

    /// The value at a decoder coding path, if there is one.
    func value(at path: [any CodingKey]) -> JSONSyntaxValue? {
        var current = self
        for key in path {
            switch current {
            case .array(let elements):
                guard let index = key.intValue, elements.indices.contains(index) else { return nil }
                current = elements[index]
            case .object(let fields):
                guard let field = fields.last(where: { $0.0 == key.stringValue }) else { return nil }
                current = field.1
            default:
                return nil
            }
        }
        return current
    }

    /// How a message names this value: "null", "true", "1.5", "a string", "an array", "an object".
    var foundDescription: String {
        switch self {
        case .null: return "null"
        case .bool(let value): return value ? "true" : "false"
        case .number(let literal): return literal
        case .string(let value): return value.count <= 40 ? "'\(value)'" : "a string"
        case .array: return "an array"
        case .object: return "an object"
        }
    }
}

/// A strict RFC 8259 parser: positions in errors, duplicate fields rejected.
///
/// Configuration files use ``parse(_:)`` (``Limits/configuration``). Request bodies use
/// ``parse(_:limits:)`` with ``Limits/request``, which also refuses invalid UTF-8, numbers that
/// are not finite or integers that do not fit 64 bits, and over-long strings (docs/api-rules.md).
enum JSONSyntax {
    /// Nesting deeper than this is refused rather than risking the stack.
    static let maximumDepth = 256

    /// What a document may hold beyond the grammar of RFC 8259.
    struct Limits: Sendable {
        /// A value at this depth or deeper is refused (the top-level value is at depth 0), so the
        /// recursive descent never goes deeper than this, however deep the input is.
        var maximumDepth: Int
        /// Longest string (field name or value), in bytes of JSON text between the quotes;
        /// `nil` for no limit.
        var maximumStringBytes: Int?
        /// Refuse bytes that are not UTF-8 inside strings (elsewhere any non-ASCII byte is a
        /// syntax error anyway). Otherwise they are replaced by U+FFFD.
        var refusesInvalidUTF8: Bool
        /// Refuse `1e999` (not finite as a double) and integers outside `Int64`.
        var refusesUnrepresentableNumbers: Bool
        /// Skip a leading UTF-8 byte order mark.
        var allowsByteOrderMark: Bool

        /// Hand-edited configuration files: deep nesting allowed, a byte order mark tolerated.
        /// (Their UTF-8 is checked before parsing, by ``StrictJSON``.)
        static let configuration = Limits(
            maximumDepth: JSONSyntax.maximumDepth, maximumStringBytes: nil, refusesInvalidUTF8: false,
            refusesUnrepresentableNumbers: false, allowsByteOrderMark: true)

        /// API request bodies from other departments' programs: untrusted, so bounded.
        static let request = Limits(
            maximumDepth: 32, maximumStringBytes: 65_536, refusesInvalidUTF8: true,
            refusesUnrepresentableNumbers: true, allowsByteOrderMark: false)
    }

    static func parse(_ bytes: [UInt8]) throws(ValidationIssue) -> JSONSyntaxValue {
        try parse(bytes, limits: .configuration)
    }

    static func parse(_ bytes: [UInt8], limits: Limits) throws(ValidationIssue) -> JSONSyntaxValue {
        var parser = Parser(bytes: bytes, limits: limits)
        parser.skipWhitespace()
        let value = try parser.parseValue(depth: 0)
        parser.skipWhitespace()
        if parser.index < bytes.count {
            throw parser.syntaxError("unexpected text after the end of the document")
        }
        return value
    }

    /// One step of the path to the value being parsed, kept only to name it in an error.
    private enum PathStep {
        case field(String)
        case element(Int)
    }

    private struct Parser {
        let bytes: [UInt8]
        let limits: Limits
        var index = 0
        /// Where the parser is; rendered into a JSON path only when an error needs it.
        var path: [PathStep] = []

        init(bytes: [UInt8], limits: Limits) {
            self.bytes = bytes
            self.limits = limits
            // A UTF-8 byte order mark is tolerated: some editors on Windows write one.
            if limits.allowsByteOrderMark && bytes.starts(with: [0xEF, 0xBB, 0xBF]) { index = 3 }
        }

        func renderedPath() -> String {
            var rendered = ""
            for step in path {
                switch step {
                case .field(let name): rendered = JSONPath.appending(name, to: rendered)
                case .element(let index): rendered += "[\(index)]"
                }
            }
            return rendered
        }

        func syntaxError(_ problem: String) -> ValidationIssue {
            var line = 1
            var column = 1
            for byte in bytes[..<min(index, bytes.count)] {
                if byte == UInt8(ascii: "\n") {
                    line += 1
                    column = 1
                } else if byte & 0xC0 != 0x80 {  // count characters, not UTF-8 continuation bytes
                    column += 1
                }
            }
            return ValidationIssue(path: "", message: "not valid JSON at line \(line), column \(column): \(problem)")
        }

        var current: UInt8? { index < bytes.count ? bytes[index] : nil }

        mutating func skipWhitespace() {
            while let byte = current,
                byte == 0x20 || byte == 0x09 || byte == 0x0A || byte == 0x0D
            {
                index += 1
            }
        }

        mutating func expect(_ literal: StaticString, _ value: JSONSyntaxValue) throws(ValidationIssue) -> JSONSyntaxValue {
            let count = literal.utf8CodeUnitCount
            guard bytes.count - index >= count else { throw syntaxError("unexpected character, expected a value") }
            let matches = literal.withUTF8Buffer { utf8 in
                for offset in 0..<count where bytes[index + offset] != utf8[offset] { return false }
                return true
            }
            guard matches else { throw syntaxError("unexpected character, expected a value") }
            index += count
            return value
        }

        mutating func parseValue(depth: Int) throws(ValidationIssue) -> JSONSyntaxValue {
            guard depth < limits.maximumDepth else {
                throw syntaxError("nested too deeply (at most \(limits.maximumDepth) levels)")
            }
            guard let byte = current else { throw syntaxError("unexpected end of file, expected a value") }
            switch byte {
            case UInt8(ascii: "{"): return try parseObject(depth: depth)
            case UInt8(ascii: "["): return try parseArray(depth: depth)
            case UInt8(ascii: "\""): return .string(try parseString())
            case UInt8(ascii: "t"): return try expect("true", .bool(true))
            case UInt8(ascii: "f"): return try expect("false", .bool(false))
            case UInt8(ascii: "n"): return try expect("null", .null)
            case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): return try parseNumber()
            default: throw syntaxError("unexpected character, expected a value")
            }
        }

        mutating func parseObject(depth: Int) throws(ValidationIssue) -> JSONSyntaxValue {
            index += 1  // {
            var fields: [(String, JSONSyntaxValue)] = []
            // Objects of requests hold a handful of fields: a linear scan finds duplicates faster
            // than hashing; a set takes over for large objects.
            var seen: Set<String>? = nil
            skipWhitespace()
            if current == UInt8(ascii: "}") {
                index += 1
                return .object(fields)
            }
            while true {
                skipWhitespace()
                guard current == UInt8(ascii: "\"") else { throw syntaxError("expected a field name in double quotes") }
                let name = try parseString()
                let duplicate: Bool
                if var names = seen {
                    seen = nil  // keep the set uniquely referenced while inserting
                    duplicate = !names.insert(name).inserted
                    seen = names
                } else {
                    duplicate = fields.contains { $0.0 == name }
                    if fields.count == 16 { seen = Set(fields.map(\.0) + [name]) }
                }
                if duplicate {
                    path.append(.field(name))
                    throw ValidationIssue(path: renderedPath(), message: "duplicate field")
                }
                skipWhitespace()
                guard current == UInt8(ascii: ":") else { throw syntaxError("expected ':' after a field name") }
                index += 1
                skipWhitespace()
                path.append(.field(name))
                let value = try parseValue(depth: depth + 1)
                path.removeLast()
                fields.append((name, value))
                skipWhitespace()
                switch current {
                case UInt8(ascii: ","): index += 1
                case UInt8(ascii: "}"):
                    index += 1
                    return .object(fields)
                case nil: throw syntaxError("unexpected end of file, expected ',' or '}'")
                default: throw syntaxError("expected ',' or '}'")
                }
            }
        }

        mutating func parseArray(depth: Int) throws(ValidationIssue) -> JSONSyntaxValue {
            index += 1  // [
            var elements: [JSONSyntaxValue] = []
            skipWhitespace()
            if current == UInt8(ascii: "]") {
                index += 1
                return .array(elements)
            }
            while true {
                skipWhitespace()
                path.append(.element(elements.count))
                let element = try parseValue(depth: depth + 1)
                path.removeLast()
                elements.append(element)
                skipWhitespace()
                switch current {
                case UInt8(ascii: ","): index += 1
                case UInt8(ascii: "]"):
                    index += 1
                    return .array(elements)
                case nil: throw syntaxError("unexpected end of file, expected ',' or ']'")
                default: throw syntaxError("expected ',' or ']'")
                }
            }
        }

        mutating func parseNumber() throws(ValidationIssue) -> JSONSyntaxValue {
            let start = index
            var isInteger = true
            func digits(_ parser: inout Parser) -> Int {
                var count = 0
                while let byte = parser.current, byte >= UInt8(ascii: "0"), byte <= UInt8(ascii: "9") {
                    parser.index += 1
                    count += 1
                }
                return count
            }
            if current == UInt8(ascii: "-") { index += 1 }
            if current == UInt8(ascii: "0") {
                index += 1
                if let byte = current, byte >= UInt8(ascii: "0"), byte <= UInt8(ascii: "9") {
                    throw syntaxError("a number must not start with a leading zero")
                }
            } else if digits(&self) == 0 {
                throw syntaxError("expected a digit")
            }
            if current == UInt8(ascii: ".") {
                isInteger = false
                index += 1
                guard digits(&self) > 0 else { throw syntaxError("expected a digit after '.'") }
            }
            if current == UInt8(ascii: "e") || current == UInt8(ascii: "E") {
                isInteger = false
                index += 1
                if current == UInt8(ascii: "+") || current == UInt8(ascii: "-") { index += 1 }
                guard digits(&self) > 0 else { throw syntaxError("expected a digit in the exponent") }
            }
            let literal = String(decoding: bytes[start..<index], as: UTF8.self)
            if limits.refusesUnrepresentableNumbers {
                if isInteger {
                    guard Int64(literal) != nil else {
                        index = start
                        throw syntaxError("integer \(Self.abbreviated(literal)) does not fit in 64 bits")
                    }
                } else if !(Double(literal)?.isFinite ?? false) {
                    index = start
                    throw syntaxError("number \(Self.abbreviated(literal)) is too large to represent")
                }
            }
            return .number(literal)
        }

        static func abbreviated(_ literal: String) -> String {
            literal.utf8.count <= 40 ? literal : String(literal.prefix(37)) + "..."
        }

        mutating func parseString() throws(ValidationIssue) -> String {
            index += 1  // opening quote
            let start = index
            // Fast path: no escapes. Scan to the closing quote, then make the string in one go.
            // The scan runs on the buffer and stops one byte past the longest string allowed, so an
            // over-long string is refused without reading the rest; the length is checked there.
            let scan = bytes.withUnsafeBufferPointer { buffer -> (stop: Int, highBits: UInt8) in
                var position = start
                var highBits: UInt8 = 0
                let end = limits.maximumStringBytes.map { Swift.min(buffer.count, start + $0 + 1) } ?? buffer.count
                while position < end {
                    let byte = buffer[position]
                    if byte == UInt8(ascii: "\"") || byte == UInt8(ascii: "\\") || byte < 0x20 { break }
                    highBits |= byte
                    position += 1
                }
                return (position, highBits)
            }
            index = scan.stop
            var highBits = scan.highBits
            try checkStringLength(from: start)
            guard let stopByte = current else { throw syntaxError("unexpected end of file inside a string") }
            if stopByte == UInt8(ascii: "\"") {
                let text = try makeString(bytes[start..<index], ascii: highBits < 0x80, start: start)
                index += 1
                return text
            }
            if stopByte < 0x20 {
                throw syntaxError("control character inside a string; write it as an escape such as \\n")
            }
            // Slow path: escapes. Collect UTF-8, escapes encoded, and check it once at the end.
            var raw = Array(bytes[start..<index])
            while true {
                guard let byte = current else { throw syntaxError("unexpected end of file inside a string") }
                switch byte {
                case UInt8(ascii: "\""):
                    let text = try makeString(raw[...], ascii: highBits < 0x80, start: start)
                    index += 1
                    return text
                case UInt8(ascii: "\\"):
                    index += 1
                    guard let escaped = current else { throw syntaxError("unexpected end of file inside a string") }
                    index += 1
                    switch escaped {
                    case UInt8(ascii: "\""): raw.append(UInt8(ascii: "\""))
                    case UInt8(ascii: "\\"): raw.append(UInt8(ascii: "\\"))
                    case UInt8(ascii: "/"): raw.append(UInt8(ascii: "/"))
                    case UInt8(ascii: "b"): raw.append(0x08)
                    case UInt8(ascii: "f"): raw.append(0x0C)
                    case UInt8(ascii: "n"): raw.append(0x0A)
                    case UInt8(ascii: "r"): raw.append(0x0D)
                    case UInt8(ascii: "t"): raw.append(0x09)
                    case UInt8(ascii: "u"): raw.append(contentsOf: UTF8.encode(try parseUnicodeEscape())!)
                    default:
                        index -= 1
                        throw syntaxError("invalid escape sequence")
                    }
                case 0x00..<0x20:
                    throw syntaxError("control character inside a string; write it as an escape such as \\n")
                default:
                    highBits |= byte
                    raw.append(byte)
                    index += 1
                }
                try checkStringLength(from: start)
            }
        }

        @inline(__always)
        func checkStringLength(from start: Int) throws(ValidationIssue) {
            if let maximum = limits.maximumStringBytes, index - start > maximum {
                throw ValidationIssue(
                    path: renderedPath(), message: "string longer than \(maximum) bytes")
            }
        }

        /// `ascii`: no byte of the raw text had its high bit set (escapes may still have made
        /// non-ASCII characters, which are valid UTF-8 by construction).
        func makeString(_ utf8: ArraySlice<UInt8>, ascii: Bool, start: Int) throws(ValidationIssue) -> String {
            if ascii || !limits.refusesInvalidUTF8 { return String(decoding: utf8, as: UTF8.self) }
            guard let text = String(validating: utf8, as: UTF8.self) else {
                var at = self
                at.index = start
                throw at.syntaxError("string is not valid UTF-8")
            }
            return text
        }

        mutating func hexQuad() throws(ValidationIssue) -> UInt32 {
            guard bytes.count - index >= 4 else { throw syntaxError("expected four hex digits after \\u") }
            var value: UInt32 = 0
            for _ in 0..<4 {
                let byte = bytes[index]
                let digit: UInt8
                switch byte {
                case UInt8(ascii: "0")...UInt8(ascii: "9"): digit = byte - UInt8(ascii: "0")
                case UInt8(ascii: "a")...UInt8(ascii: "f"): digit = byte - UInt8(ascii: "a") + 10
                case UInt8(ascii: "A")...UInt8(ascii: "F"): digit = byte - UInt8(ascii: "A") + 10
                default: throw syntaxError("expected four hex digits after \\u")
                }
                value = value << 4 | UInt32(digit)
                index += 1
            }
            return value
        }

        mutating func parseUnicodeEscape() throws(ValidationIssue) -> Unicode.Scalar {
            let first = try hexQuad()
            if (0xD800..<0xDC00).contains(first) {
                guard bytes.count - index >= 2, bytes[index] == UInt8(ascii: "\\"),
                    bytes[index + 1] == UInt8(ascii: "u")
                else { throw syntaxError("unpaired surrogate in \\u escape") }
                index += 2
                let second = try hexQuad()
                guard (0xDC00..<0xE000).contains(second) else { throw syntaxError("unpaired surrogate in \\u escape") }
                let combined = 0x10000 + ((first - 0xD800) << 10) + (second - 0xDC00)
                return Unicode.Scalar(combined)!  // always a valid scalar: 0x10000...0x10FFFF
            }
            guard let scalar = Unicode.Scalar(first) else { throw syntaxError("unpaired surrogate in \\u escape") }
            return scalar
        }
    }
}
