/// The parsed body of an API request: a JSON object read field by field, every problem collected
/// as a ``ValidationIssue`` so that one 422 names them all.
///
/// The rules walk the ``JSONSyntaxValue`` tree directly (no `JSONDecoder`): request bodies are on
/// the hot path, and the messages should name the field the way a client wrote it.
struct RequestObject {
    let fields: [(String, JSONSyntaxValue)]
    /// JSON path of this object, empty for the body itself.
    let path: String

    /// Parses a request body with the request limits (``JSONSyntax/Limits/request``) and requires a
    /// JSON object. Every failure is a 400 `malformed-request`.
    static func parse(_ body: [UInt8]) -> Result<RequestObject, Refusal> {
        guard !body.isEmpty else { return .failure(.malformedRequest("The request body is empty; expected a JSON object.")) }
        let document: JSONSyntaxValue
        do {
            document = try JSONSyntax.parse(body, limits: .request)
        } catch {
            if error.path.isEmpty { return .failure(.malformedRequest(sentence(error.message))) }
            return .failure(.malformedRequest(sentence(error.description), errors: [error]))
        }
        guard case .object(let fields) = document else {
            return .failure(
                .malformedRequest("The request body must be a JSON object, found \(document.kindDescription)."))
        }
        return .success(RequestObject(fields: fields, path: ""))
    }

    private static func sentence(_ text: String) -> String {
        guard let first = text.first else { return text }
        return first.uppercased() + text.dropFirst() + (text.hasSuffix(".") ? "" : ".")
    }

    func pathOf(_ name: String) -> String { JSONPath.appending(name, to: path) }

    subscript(name: String) -> JSONSyntaxValue? {
        for field in fields where field.0 == name { return field.1 }
        return nil
    }

    /// Adds an issue for each field not in `known`, suggesting the closest known name for a typo.
    func refuseUnknownFields(known: [String], into issues: inout [ValidationIssue]) {
        for (name, _) in fields where !known.contains(name) {
            issues.append(Self.unknownNameIssue(name, path: pathOf(name), known: known, what: "unknown field"))
        }
    }

    /// `unknown field, did you mean 'purpose'?` when a known name is within two edits, otherwise
    /// `unknown field; expected one of: a, b`.
    static func unknownNameIssue(_ name: String, path: String, known: [String], what: String) -> ValidationIssue {
        if name.unicodeScalars.count <= 64,
            let guess = known.min(by: { editDistance($0, name) < editDistance($1, name) }),
            editDistance(guess, name) <= 2
        {
            return ValidationIssue(path: path, message: "\(what), did you mean '\(guess)'?")
        }
        return ValidationIssue(path: path, message: "\(what); expected one of: \(known.joined(separator: ", "))")
    }

    /// A string field; `nil` (with an issue) when missing or not a string.
    func string(_ name: String, required: Bool = true, into issues: inout [ValidationIssue]) -> String? {
        guard let value = self[name] else {
            if required { issues.append(ValidationIssue(path: pathOf(name), message: "missing field")) }
            return nil
        }
        guard case .string(let text) = value else {
            issues.append(ValidationIssue(path: pathOf(name), message: "expected a string, found \(value.foundDescription)"))
            return nil
        }
        return text
    }

    /// An object field; `nil` (with an issue) when missing or not an object.
    func object(_ name: String, required: Bool = true, into issues: inout [ValidationIssue]) -> RequestObject? {
        guard let value = self[name] else {
            if required { issues.append(ValidationIssue(path: pathOf(name), message: "missing field")) }
            return nil
        }
        guard case .object(let fields) = value else {
            issues.append(
                ValidationIssue(path: pathOf(name), message: "expected an object, found \(value.foundDescription)"))
            return nil
        }
        return RequestObject(fields: fields, path: pathOf(name))
    }
}

extension JSONSyntaxValue {
    /// "an object", "an array", "a string", "a number", "true", "null": what a body was instead.
    var kindDescription: String {
        switch self {
        case .null: return "null"
        case .bool(let value): return value ? "true" : "false"
        case .number: return "a number"
        case .string: return "a string"
        case .array: return "an array"
        case .object: return "an object"
        }
    }
}

/// Checks on free text fields (purpose, names, notes, reasons). Lengths count Unicode scalar
/// values (code points, as JSON Schema's `maxLength` does), not bytes: 200 Chinese characters are
/// 200, not 600.
enum TextRules {
    static func check(
        _ text: String, at path: String, maximum: Int, allowsLineBreaks: Bool = false,
        into issues: inout [ValidationIssue]
    ) {
        var count = 0
        var blank = true
        var control = false
        for scalar in text.unicodeScalars {
            count += 1
            let value = scalar.value
            if blank {
                let whitespace =
                    value < 0x80 ? (value == 0x20 || (0x09...0x0D).contains(value)) : scalar.properties.isWhitespace
                if !whitespace { blank = false }
            }
            switch value {
            case 0x0A, 0x09, 0x0D:
                if !allowsLineBreaks { control = true }
            case 0x00..<0x20, 0x7F:
                control = true
            default:
                break
            }
        }
        if blank {
            issues.append(ValidationIssue(path: path, message: "must not be empty"))
        } else if count > maximum {
            issues.append(ValidationIssue(path: path, message: "too long: \(count) characters, at most \(maximum)"))
        } else if control {
            issues.append(
                ValidationIssue(
                    path: path,
                    message: allowsLineBreaks
                        ? "must not contain control characters other than line breaks and tabs"
                        : "must not contain control characters or line breaks"))
        }
    }
}
