/// A parsed JSON document, used only to check the syntax of a configuration file strictly before
/// `JSONDecoder` sees it, and to say what was found at a path when a field has the wrong type.
///
/// `JSONDecoder` accepts trailing commas, keeps the last of two fields with the same name and
/// reports a syntax error without a position. A hand-edited configuration file deserves better:
/// ``JSONSyntax/parse(_:)`` follows RFC 8259 exactly and names the line and column of the problem.
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

/// A strict RFC 8259 parser for configuration files: positions in errors, duplicate fields rejected.
enum JSONSyntax {
    /// Nesting deeper than this is refused rather than risking the stack.
    static let maximumDepth = 256

    static func parse(_ bytes: [UInt8]) throws(ValidationIssue) -> JSONSyntaxValue {
        var parser = Parser(bytes: bytes)
        parser.skipWhitespace()
        let value = try parser.parseValue(depth: 0, path: "")
        parser.skipWhitespace()
        if parser.index < bytes.count {
            throw parser.syntaxError("unexpected text after the end of the document")
        }
        return value
    }

    private struct Parser {
        let bytes: [UInt8]
        var index = 0

        init(bytes: [UInt8]) {
            self.bytes = bytes
            // A UTF-8 byte order mark is tolerated: some editors on Windows write one.
            if bytes.starts(with: [0xEF, 0xBB, 0xBF]) { index = 3 }
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

        mutating func expect(_ literal: String, _ value: JSONSyntaxValue) throws(ValidationIssue) -> JSONSyntaxValue {
            let utf8 = Array(literal.utf8)
            guard bytes.count - index >= utf8.count, Array(bytes[index..<index + utf8.count]) == utf8 else {
                throw syntaxError("unexpected character, expected a value")
            }
            index += utf8.count
            return value
        }

        mutating func parseValue(depth: Int, path: String) throws(ValidationIssue) -> JSONSyntaxValue {
            guard depth < JSONSyntax.maximumDepth else { throw syntaxError("nested too deeply") }
            guard let byte = current else { throw syntaxError("unexpected end of file, expected a value") }
            switch byte {
            case UInt8(ascii: "{"): return try parseObject(depth: depth, path: path)
            case UInt8(ascii: "["): return try parseArray(depth: depth, path: path)
            case UInt8(ascii: "\""): return .string(try parseString())
            case UInt8(ascii: "t"): return try expect("true", .bool(true))
            case UInt8(ascii: "f"): return try expect("false", .bool(false))
            case UInt8(ascii: "n"): return try expect("null", .null)
            case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): return try parseNumber()
            default: throw syntaxError("unexpected character, expected a value")
            }
        }

        mutating func parseObject(depth: Int, path: String) throws(ValidationIssue) -> JSONSyntaxValue {
            index += 1  // {
            var fields: [(String, JSONSyntaxValue)] = []
            var seen: Set<String> = []
            skipWhitespace()
            if current == UInt8(ascii: "}") {
                index += 1
                return .object(fields)
            }
            while true {
                skipWhitespace()
                guard current == UInt8(ascii: "\"") else { throw syntaxError("expected a field name in double quotes") }
                let name = try parseString()
                let fieldPath = JSONPath.appending(name, to: path)
                guard seen.insert(name).inserted else {
                    throw ValidationIssue(path: fieldPath, message: "duplicate field")
                }
                skipWhitespace()
                guard current == UInt8(ascii: ":") else { throw syntaxError("expected ':' after a field name") }
                index += 1
                skipWhitespace()
                fields.append((name, try parseValue(depth: depth + 1, path: fieldPath)))
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

        mutating func parseArray(depth: Int, path: String) throws(ValidationIssue) -> JSONSyntaxValue {
            index += 1  // [
            var elements: [JSONSyntaxValue] = []
            skipWhitespace()
            if current == UInt8(ascii: "]") {
                index += 1
                return .array(elements)
            }
            while true {
                skipWhitespace()
                elements.append(try parseValue(depth: depth + 1, path: "\(path)[\(elements.count)]"))
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
                index += 1
                guard digits(&self) > 0 else { throw syntaxError("expected a digit after '.'") }
            }
            if current == UInt8(ascii: "e") || current == UInt8(ascii: "E") {
                index += 1
                if current == UInt8(ascii: "+") || current == UInt8(ascii: "-") { index += 1 }
                guard digits(&self) > 0 else { throw syntaxError("expected a digit in the exponent") }
            }
            return .number(String(decoding: bytes[start..<index], as: UTF8.self))
        }

        mutating func parseString() throws(ValidationIssue) -> String {
            index += 1  // opening quote
            var scalars = String.UnicodeScalarView()
            var raw: [UInt8] = []
            func flush(_ raw: inout [UInt8], into scalars: inout String.UnicodeScalarView) {
                scalars.append(contentsOf: String(decoding: raw, as: UTF8.self).unicodeScalars)
                raw.removeAll(keepingCapacity: true)
            }
            while true {
                guard let byte = current else { throw syntaxError("unexpected end of file inside a string") }
                switch byte {
                case UInt8(ascii: "\""):
                    index += 1
                    flush(&raw, into: &scalars)
                    return String(scalars)
                case UInt8(ascii: "\\"):
                    flush(&raw, into: &scalars)
                    index += 1
                    guard let escaped = current else { throw syntaxError("unexpected end of file inside a string") }
                    index += 1
                    switch escaped {
                    case UInt8(ascii: "\""): scalars.append("\"")
                    case UInt8(ascii: "\\"): scalars.append("\\")
                    case UInt8(ascii: "/"): scalars.append("/")
                    case UInt8(ascii: "b"): scalars.append("\u{08}")
                    case UInt8(ascii: "f"): scalars.append("\u{0C}")
                    case UInt8(ascii: "n"): scalars.append("\n")
                    case UInt8(ascii: "r"): scalars.append("\r")
                    case UInt8(ascii: "t"): scalars.append("\t")
                    case UInt8(ascii: "u"): scalars.append(try parseUnicodeEscape())
                    default:
                        index -= 1
                        throw syntaxError("invalid escape sequence")
                    }
                case 0x00..<0x20:
                    throw syntaxError("control character inside a string; write it as an escape such as \\n")
                default:
                    raw.append(byte)
                    index += 1
                }
            }
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
