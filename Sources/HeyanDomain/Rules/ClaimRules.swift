/// Checks claim values against a certificate type's claim schema (``ClaimSchema``): the same
/// rules for the claims a requester states, the values an owner discloses and the records an
/// owner shares.
enum ClaimRules {
    /// A `string` claim holds at most this many characters (Unicode scalar values).
    static let maximumStringCharacters = 1000

    /// The value of one claim, or `nil` with an issue at `path`.
    ///
    /// - `boolean`: `true` or `false`.
    /// - `string`: a string of at most ``maximumStringCharacters``, one of `allowedValues` when set.
    /// - `integer`: an integer literal (no fraction, no exponent) that fits 64 bits.
    /// - `date`: a string `yyyy-mm-dd` naming a real day; kept as ``ClaimValue/string(_:)``.
    static func value(
        _ json: JSONSyntaxValue, schema: ClaimSchema, at path: @autoclosure () -> String,
        into issues: inout [ValidationIssue]
    ) -> ClaimValue? {
        switch schema.type {
        case .boolean:
            if case .bool(let flag) = json { return .bool(flag) }
            issues.append(ValidationIssue(path: path(), message: "expected true or false, found \(json.foundDescription)"))
        case .integer:
            if case .number(let literal) = json, let number = Int64(literal) { return .integer(number) }
            issues.append(ValidationIssue(path: path(), message: "expected an integer, found \(json.foundDescription)"))
        case .string:
            guard case .string(let text) = json else {
                issues.append(ValidationIssue(path: path(), message: "expected a string, found \(json.foundDescription)"))
                return nil
            }
            if let allowed = schema.allowedValues {
                if allowed.contains(text) { return .string(text) }
                let list = allowed.map { "'\($0)'" }.joined(separator: ", ")
                issues.append(
                    ValidationIssue(path: path(), message: "unknown value \(json.foundDescription); expected one of: \(list)"))
                return nil
            }
            let count = text.unicodeScalars.count
            guard count <= maximumStringCharacters else {
                issues.append(
                    ValidationIssue(
                        path: path(), message: "too long: \(count) characters, at most \(maximumStringCharacters)"))
                return nil
            }
            return .string(text)
        case .date:
            guard case .string(let text) = json else {
                issues.append(
                    ValidationIssue(path: path(), message: "expected a date as yyyy-mm-dd, found \(json.foundDescription)"))
                return nil
            }
            if CalendarDate(iso8601: text) != nil { return .string(text) }
            issues.append(
                ValidationIssue(path: path(), message: "expected a real date as yyyy-mm-dd, found \(json.foundDescription)"))
        }
        return nil
    }

    /// `claims.X`: not a claim of this type, naming the valid ones.
    static func unknownClaim(_ name: String, of type: CertificateType, at path: String) -> ValidationIssue {
        let names = type.claims.keys.sorted()
        return RequestObject.unknownNameIssue(
            name, path: path, known: names, what: "not a claim of '\(type.code)'")
    }

    /// Reads a claims object against the type's schema. With `requireAll`, every claim of the
    /// schema must be present (a shared record is complete); otherwise at least one must be.
    static func claims(
        _ object: RequestObject, of type: CertificateType, requireAll: Bool, into issues: inout [ValidationIssue]
    ) -> ClaimSet {
        var claims: ClaimSet = [:]
        claims.reserveCapacity(object.fields.count)
        if object.fields.isEmpty && !requireAll {
            issues.append(ValidationIssue(path: object.path, message: "must state at least one claim"))
        }
        for (name, json) in object.fields {
            guard let schema = type.claims[name] else {
                issues.append(unknownClaim(name, of: type, at: object.pathOf(name)))
                continue
            }
            if let value = value(json, schema: schema, at: object.pathOf(name), into: &issues) { claims[name] = value }
        }
        if requireAll {
            for name in type.claims.keys.sorted() where object[name] == nil {
                issues.append(ValidationIssue(path: object.pathOf(name), message: "missing claim"))
            }
        }
        return claims
    }
}
