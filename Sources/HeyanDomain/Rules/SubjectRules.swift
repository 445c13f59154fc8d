/// The checks on a subject (当事人) that `POST /v1/verifications` makes in its step 8, for the
/// routes that take a subject too (commitments, commitment templates).
enum SubjectRules {
    /// `idType` one of the type's `subjectTypes`, `id` valid for it (GB 11643 / GB 32100, birth date
    /// not after `today`), `name` (when given) not blank, at most 100 characters, no control
    /// characters. Problems are reported at `prefix` + `idType` / `id` / `name`.
    static func check(
        idType: String, id: String, name: String?, of type: CertificateType, today: CalendarDate, prefix: String,
        into issues: inout [ValidationIssue]
    ) -> SubjectIDType? {
        var subjectType: SubjectIDType?
        if let parsed = SubjectIDType(rawValue: idType), type.subjectTypes.contains(parsed) {
            subjectType = parsed
        } else {
            let allowed = type.subjectTypes.map { "'\($0.rawValue)'" }.joined(separator: ", ")
            let known = SubjectIDType(rawValue: idType) != nil
            issues.append(
                ValidationIssue(
                    path: prefix + "idType",
                    message: known
                        ? "'\(type.code)' is not about a subject of type '\(idType)'; expected \(allowed)"
                        : "unknown value \(JSONSyntaxValue.string(idType).foundDescription); expected one of: \(allowed)"
                ))
        }
        if let checkAs = subjectType ?? SubjectIDType(rawValue: idType) {
            do {
                _ = try SubjectIdentifier(validating: id, as: checkAs, today: today)
            } catch {
                issues.append(ValidationIssue(path: prefix + "id", message: error.message))
            }
        }
        if let name {
            TextRules.check(
                name, at: prefix + "name", maximum: VerificationRequestRules.maximumNameCharacters, into: &issues)
        }
        return subjectType
    }

    /// The first of the type's subject types for which `id` is valid (for an ID without its type).
    static func idType(of id: String, for type: CertificateType, today: CalendarDate) -> SubjectIDType? {
        type.subjectTypes.first { (try? SubjectIdentifier(validating: id, as: $0, today: today)) != nil }
    }
}
