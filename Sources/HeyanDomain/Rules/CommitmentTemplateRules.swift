/// A commitment template (告知承诺书) as `GET /v1/catalog/{code}/commitment-template` shows it,
/// with the placeholders filled where the caller gave the values.
public struct FilledCommitmentTemplate: Sendable, Equatable {
    public var certificateType: CertificateType
    public var template: CommitmentTemplate
    public var policy: CommitmentPolicy
    /// Placeholder names still in the text (`subjectId`, `subjectName`).
    public var unfilled: [String]
    /// The whole text an applicant signs: title, item, then the four parts, one per line.
    public var text: String
}

/// `GET /v1/catalog/{code}/commitment-template?subjectId=&subjectName=`:
///
/// - `{code}` not in the catalog → 404 `not-found`;
/// - cancelled → 410 `certificate-cancelled`; another method, or a commitment type without a
///   template → 409 `not-commitment`; `commitment.excluded` → 409 `commitment-excluded`;
/// - `subjectId` not valid for one of the type's subject types, or `subjectName` blank, longer than
///   100 characters or with control characters → 422 at `subjectId` / `subjectName`.
///
/// Placeholders: `{subjectId}` and `{subjectName}`, replaced wherever they occur in the four parts.
public enum CommitmentTemplateRules {
    public static let placeholders = ["subjectId", "subjectName"]

    public static func evaluate(
        code: String, subjectID: String?, subjectName: String?, catalog: Catalog, today: CalendarDate
    ) -> Result<FilledCommitmentTemplate, Refusal> {
        guard let type = catalog[code] else { return .failure(.notFound("No certificate type '\(code)' in the catalog.")) }
        switch type.method {
        case .cancelled: return .failure(.certificateCancelled(type))
        case .dataSharing, .departmentVerification: return .failure(.notCommitment(type))
        case .commitment: break
        }
        guard let policy = type.commitment else { return .failure(.notCommitment(type)) }
        if let excluded = policy.excluded { return .failure(.commitmentExcluded(type, reason: excluded.reason)) }

        var issues: [ValidationIssue] = []
        if let subjectID, SubjectRules.idType(of: subjectID, for: type, today: today) == nil {
            let idType = type.subjectTypes.first ?? .residentID
            _ = SubjectRules.check(
                idType: idType.rawValue, id: subjectID, name: nil, of: type, today: today, prefix: "", into: &issues)
            if let last = issues.popLast() {
                issues.append(ValidationIssue(path: "subjectId", message: last.message))
            } else {
                issues.append(ValidationIssue(path: "subjectId", message: "not a valid subject identifier"))
            }
        }
        if let subjectName {
            TextRules.check(
                subjectName, at: "subjectName", maximum: VerificationRequestRules.maximumNameCharacters,
                into: &issues)
        }
        guard issues.isEmpty else { return .failure(.validationFailed(issues)) }

        func fill(_ text: String) -> String {
            var out = text
            if let subjectID { out = out.replacing("{subjectId}", with: subjectID) }
            if let subjectName { out = out.replacing("{subjectName}", with: subjectName) }
            return out
        }
        let raw = policy.template
        let template = CommitmentTemplate(
            mustProve: fill(raw.mustProve), legalBasis: fill(raw.legalBasis), obligation: fill(raw.obligation),
            liability: fill(raw.liability))
        let parts = [template.mustProve, template.legalBasis, template.obligation, template.liability]
        let unfilled = placeholders.filter { name in parts.contains { $0.contains("{\(name)}") } }
        let text = [
            "告知承诺书",
            "证明事项：\(type.name.zh)（\(type.code)）",
            "承诺事项：\(template.mustProve)",
            "设定依据：\(template.legalBasis)",
            "承诺人义务：\(template.obligation)",
            "虚假承诺的法律责任：\(template.liability)",
        ].joined(separator: "\n")
        return .success(
            FilledCommitmentTemplate(
                certificateType: type, template: template, policy: policy, unfilled: unfilled, text: text))
    }
}

/// The rules of `POST /v1/queue/{id}/answer` for a spot check: `{"leaseToken", "outcome", "note"?,
/// "evidence"?}`. 400 for syntax, then 422 listing every problem: `leaseToken` 1–256
/// characters; `outcome` `consistent` or `false-commitment`; `note` at most 500 characters (line
/// breaks allowed); `evidence` at most 200 characters, no line breaks, and **required** with
/// `false-commitment` (a credit entry names the evidence it rests on).
public enum SpotCheckAnswerRules {
    static let fieldNames = ["leaseToken", "outcome", "note", "evidence"]
    public static let maximumEvidenceCharacters = 200

    public static func evaluate(body: [UInt8]) -> Result<(leaseToken: String, outcome: SpotCheckOutcome, note: String?, evidence: String?), Refusal> {
        let root: RequestObject
        switch RequestObject.parse(body) {
        case .success(let object): root = object
        case .failure(let refusal): return .failure(refusal)
        }
        var issues: [ValidationIssue] = []
        root.refuseUnknownFields(known: fieldNames, into: &issues)
        let token = root.string("leaseToken", into: &issues)
        if let token, token.isEmpty || token.unicodeScalars.count > OwnerAnswerRules.maximumLeaseTokenCharacters {
            issues.append(
                ValidationIssue(
                    path: "leaseToken",
                    message: "must be 1 to \(OwnerAnswerRules.maximumLeaseTokenCharacters) characters"))
        }
        let outcomeText = root.string("outcome", into: &issues)
        var outcome: SpotCheckOutcome?
        if let outcomeText {
            outcome = SpotCheckOutcome(rawValue: outcomeText)
            if outcome == nil {
                issues.append(
                    ValidationIssue(
                        path: "outcome",
                        message: "unknown value \(JSONSyntaxValue.string(outcomeText).foundDescription); expected one of: consistent, false-commitment"))
            }
        }
        let note = root.string("note", required: false, into: &issues)
        if let note {
            TextRules.check(
                note, at: "note", maximum: OwnerAnswerRules.maximumNoteCharacters, allowsLineBreaks: true,
                into: &issues)
        }
        let evidence = root.string("evidence", required: false, into: &issues)
        if let evidence {
            TextRules.check(evidence, at: "evidence", maximum: maximumEvidenceCharacters, into: &issues)
        } else if outcome == .falseCommitment {
            issues.append(
                ValidationIssue(path: "evidence", message: "required with 'false-commitment': the evidence reference"))
        }
        guard issues.isEmpty, let token, let outcome else { return .failure(.validationFailed(issues)) }
        return .success((token, outcome, note, evidence))
    }
}
