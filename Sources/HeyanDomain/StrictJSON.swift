import FoundationEssentials

/// One problem with one field of a JSON document: where (a JSON path such as
/// `items[2].requesters[0].department`, empty for the whole document) and what is wrong.
///
/// The same shape serves configuration files and the `errors` member of a 422 problem response.
public struct ValidationIssue: Error, Hashable, Sendable, Codable, CustomStringConvertible {
    /// JSON path of the field: `name.sub[3].field`; empty for the document itself.
    public var path: String
    /// What is wrong, for a person: `unknown department 'civil-afairs'`.
    public var message: String

    public init(path: String, message: String) {
        self.path = path
        self.message = message
    }

    public var description: String { path.isEmpty ? message : "\(path): \(message)" }
}

/// A configuration file (`heyan.json`, `departments.json`, `catalog.json`) that heyan refuses to
/// start with. The message names the file, the field and the problem:
/// `catalog.json: items[2].owner: unknown department 'civil-afairs'`.
public struct ConfigurationError: HeyanError, Hashable {
    /// The file name as the caller gave it, used only in messages.
    public let file: String
    /// Every problem found; never empty. Syntax and type errors stop at the first one.
    public let issues: [ValidationIssue]

    public init(file: String, issues: [ValidationIssue]) {
        precondition(!issues.isEmpty, "a ConfigurationError needs at least one issue")
        self.file = file
        self.issues = issues
    }

    public var code: String { "config.invalid" }
    public var message: String { issues.map { "\(file): \($0)" }.joined(separator: "; ") }
}

/// Rendering of decoder coding paths as JSON paths (`items[2].claims.maritalStatus`).
public enum JSONPath {
    /// `parent.name`, or `parent["odd name"]` when the name is not a plain identifier.
    public static func appending(_ name: String, to parent: String) -> String {
        // On the UTF-8 bytes: the request rules make a path for every field they read, and
        // `Unicode.Scalar.Properties.isAlphabetic` (a table search, the same answer as A-Z and a-z
        // for ASCII) cost ~300 instructions per character (docs/performance.md, issue 16).
        let plain =
            !name.isEmpty
            && name.utf8.allSatisfy { byte in
                switch byte {
                case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
                    UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "_"), UInt8(ascii: "$"):
                    return true
                default:
                    return false
                }
            }
        if plain { return parent.isEmpty ? name : "\(parent).\(name)" }
        let escaped = name.replacing("\\", with: "\\\\").replacing("\"", with: "\\\"")
        return "\(parent)[\"\(escaped)\"]"
    }

    /// Renders a `Decoder.codingPath`.
    public static func render(_ codingPath: [any CodingKey]) -> String {
        var path = ""
        for key in codingPath {
            if let index = key.intValue, !(key is FieldKey) {
                path += "[\(index)]"
            } else {
                path = appending(key.stringValue, to: path)
            }
        }
        return path
    }
}

/// A coding key for any field name, used to list the fields an object actually has.
public struct FieldKey: CodingKey, Hashable, Sendable {
    public var stringValue: String
    public var intValue: Int? { nil }
    public init(_ name: String) { stringValue = name }
    public init(stringValue: String) { self.stringValue = stringValue }
    public init?(intValue: Int) { nil }
}

extension Decoder {
    /// A keyed container that refuses fields the type does not declare, so a typo such as
    /// `"ownr"` is an error instead of a silently missing optional field.
    ///
    /// - Parameter extraFields: names accepted and ignored besides `Key.allCases`, such as `$schema`.
    public func strictContainer<Key: CodingKey & CaseIterable>(
        keyedBy type: Key.Type, ignoring extraFields: Set<String> = []
    ) throws -> KeyedDecodingContainer<Key> {
        let everything = try container(keyedBy: FieldKey.self)
        let known = Key.allCases.map(\.stringValue)
        let allowed = Set(known).union(extraFields)
        let unknown = everything.allKeys.map(\.stringValue).filter { !allowed.contains($0) }.sorted()
        if let first = unknown.first {
            let path = JSONPath.appending(first, to: JSONPath.render(codingPath))
            if let guess = known.min(by: { editDistance($0, first) < editDistance($1, first) }),
                editDistance(guess, first) <= 2
            {
                throw ValidationIssue(path: path, message: "unknown field, did you mean '\(guess)'?")
            }
            throw ValidationIssue(
                path: path, message: "unknown field; expected one of: \(known.joined(separator: ", "))")
        }
        return try container(keyedBy: Key.self)
    }

    /// Decodes a string enumeration, naming the allowed values when the value is not one of them.
    public func decodeKeyword<Value: RawRepresentable & CaseIterable>(_ type: Value.Type) throws -> Value
    where Value.RawValue == String {
        let raw = try singleValueContainer().decode(String.self)
        guard let value = Value(rawValue: raw) else {
            let allowed = Value.allCases.map { "'\($0.rawValue)'" }.joined(separator: ", ")
            throw ValidationIssue(
                path: JSONPath.render(codingPath), message: "unknown value '\(raw)'; expected one of: \(allowed)")
        }
        return value
    }
}

extension KeyedDecodingContainer {
    /// An integer field. A JSON number with a fraction (`1.5`) is reported against this field;
    /// `JSONDecoder` itself would call the whole document invalid.
    public func decodeInteger(forKey key: Key) throws -> Int {
        let number: Double
        do {
            number = try decode(Double.self, forKey: key)
        } catch DecodingError.typeMismatch(_, let context) {
            throw DecodingError.typeMismatch(Int.self, context)
        }
        guard number.rounded() == number, abs(number) <= 9_007_199_254_740_991 else {
            throw DecodingError.typeMismatch(
                Int.self, .init(codingPath: codingPath + [key], debugDescription: "not an integer"))
        }
        return Int(number)
    }

    /// An optional integer field; see ``decodeInteger(forKey:)``.
    public func decodeIntegerIfPresent(forKey key: Key) throws -> Int? {
        guard contains(key) else { return nil }
        if try decodeNil(forKey: key) {
            throw DecodingError.valueNotFound(
                Int.self, .init(codingPath: codingPath + [key], debugDescription: "null"))
        }
        return try decodeInteger(forKey: key)
    }

    /// An optional field that, when present, must not be `null` (absent and `null` mean different
    /// things to a reader of the file; heyan accepts only absent).
    public func decodeStrictIfPresent<Value: Decodable>(_ type: Value.Type, forKey key: Key) throws -> Value? {
        guard contains(key) else { return nil }
        return try decode(type, forKey: key)
    }
}

/// Decoding of JSON documents with errors that name the field: strict syntax (RFC 8259, no
/// duplicate fields), then `JSONDecoder`, with its errors turned into ``ValidationIssue``s.
public enum StrictJSON {
    public static func decode<Value: Decodable>(_ type: Value.Type, from bytes: [UInt8]) throws(ValidationIssue)
        -> Value
    {
        guard String(validating: bytes, as: UTF8.self) != nil else {
            throw ValidationIssue(path: "", message: "not valid UTF-8")
        }
        let document = try JSONSyntax.parse(bytes)
        do {
            return try JSONDecoder().decode(Value.self, from: Data(bytes))
        } catch let issue as ValidationIssue {
            throw issue
        } catch let error as DecodingError {
            throw issue(for: error, in: document)
        } catch {
            throw ValidationIssue(path: "", message: "\(error)")
        }
    }

    static func issue(for error: DecodingError, in document: JSONSyntaxValue) -> ValidationIssue {
        func found(_ path: [any CodingKey]) -> String {
            guard let value = document.value(at: path) else { return "" }
            return ", found \(value.foundDescription)"
        }
        switch error {
        case .keyNotFound(let key, let context):
            return ValidationIssue(path: JSONPath.render(context.codingPath + [key]), message: "missing field")
        case .typeMismatch(let type, let context):
            return ValidationIssue(
                path: JSONPath.render(context.codingPath),
                message: "expected \(describe(type))\(found(context.codingPath))")
        case .valueNotFound(let type, let context):
            return ValidationIssue(
                path: JSONPath.render(context.codingPath), message: "expected \(describe(type)), found null")
        case .dataCorrupted(let context):
            return ValidationIssue(path: JSONPath.render(context.codingPath), message: context.debugDescription)
        @unknown default:
            return ValidationIssue(path: "", message: "\(error)")
        }
    }

    /// "a string", "an integer", …: the JSON words for what a Swift type decodes from.
    static func describe(_ type: Any.Type) -> String {
        switch type {
        case is String.Type: return "a string"
        case is Int.Type, is Int64.Type, is Int32.Type, is UInt.Type, is UInt64.Type: return "an integer"
        case is Double.Type, is Float.Type: return "a number"
        case is Bool.Type: return "true or false"
        case is [Any].Type: return "an array"
        case is [String: Any].Type: return "an object"
        default:
            let name = String(describing: type)
            if name.hasPrefix("Array<") { return "an array" }
            if name.hasPrefix("Dictionary<") { return "an object" }
            return "a value of type \(name)"
        }
    }
}

/// Levenshtein distance, for "did you mean" suggestions on unknown fields.
func editDistance(_ a: String, _ b: String) -> Int {
    let a = Array(a.unicodeScalars)
    let b = Array(b.unicodeScalars)
    if a.isEmpty { return b.count }
    if b.isEmpty { return a.count }
    var previous = Array(0...b.count)
    for i in 1...a.count {
        var row = [i] + Array(repeating: 0, count: b.count)
        for j in 1...b.count {
            row[j] = min(previous[j] + 1, row[j - 1] + 1, previous[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1))
        }
        previous = row
    }
    return previous[b.count]
}
