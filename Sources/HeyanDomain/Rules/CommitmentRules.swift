/// A `POST /v1/commitments` body that passed every rule.
public struct CommitmentDraft: Sendable, Equatable {
    public var certificateType: CertificateType
    public var policy: CommitmentPolicy
    public var matterCode: String
    public var purpose: String
    public var subject: Subject
    /// Claims the applicant commits to; may be empty.
    public var claims: ClaimSet
    /// The signed text, when sent (the server hashes it).
    public var text: String?
    /// The SHA-256 sent instead of the text.
    public var textSHA256: [UInt8]?
    public var signedAt: Millis
    public var signedVia: CommitmentSignature
}

/// The rules of `POST /v1/commitments` (docs/commitments.md), in this order:
///
/// 1. not JSON within the request limits, or not an object → 400 `malformed-request`;
/// 2. wrong shape → 422 `validation-failed`, every problem: `certificateType`, `matterCode`,
///    `purpose` strings, `subject` `{idType, id, name}`, `claims` an optional object,
///    `commitment` `{text | textSha256, signedAt, signedVia}` with exactly one of `text` and
///    `textSha256`;
/// 3. the department lacks the `requester` role → 403 `role-required`;
/// 4. `certificateType` not in the catalog → 422 at `certificateType`;
/// 5. the type is `cancelled` → 410 `certificate-cancelled`;
/// 6. the type's method is not `commitment` → 409 `not-commitment`;
/// 7. the catalog marks it `commitment.excluded` → 409 `commitment-excluded`;
/// 8. no grant for (requester, matter code) → 403 `not-granted`;
/// 9. values → 422, all of them: purpose and subject as for verifications; claims in the type's
///    schema; `commitment.text` 1–10,000 characters (line breaks allowed); `commitment.textSha256`
///    64 lowercase hex digits; `commitment.signedAt` an RFC 3339 instant at most 5 minutes after
///    `now` and at most 30 days before it; `commitment.signedVia` `paper` or `online`.
///
/// Whether the subject is on the credit list (409 `credit-listed`) is the store's to say.
public enum CommitmentRules {
    static let fieldNames = ["certificateType", "matterCode", "purpose", "subject", "claims", "commitment"]
    static let commitmentFieldNames = ["text", "textSha256", "signedAt", "signedVia"]
    public static let maximumTextCharacters = 10_000
    /// How far `signedAt` may lie after the server's clock (clock skew between departments).
    public static let signedAtFutureSkew: Millis = 5 * 60_000
    /// How old a signature may be when the commitment is submitted.
    public static let signedAtMaximumAge: Millis = 30 * 86_400_000

    public static func evaluate(body: [UInt8], requester: Department, catalog: Catalog, today: CalendarDate, now: Millis)
        -> Result<CommitmentDraft, Refusal>
    {
        // 1. Syntax.
        let root: RequestObject
        switch RequestObject.parse(body) {
        case .success(let object): root = object
        case .failure(let refusal): return .failure(refusal)
        }

        // 2. Shape.
        var issues: [ValidationIssue] = []
        root.refuseUnknownFields(known: fieldNames, into: &issues)
        let typeCode = root.string("certificateType", into: &issues)
        let matterCode = root.string("matterCode", into: &issues)
        let purpose = root.string("purpose", into: &issues)
        let subjectObject = root.object("subject", into: &issues)
        var idType: String?
        var id: String?
        var name: String?
        if let subjectObject {
            subjectObject.refuseUnknownFields(known: VerificationRequestRules.subjectFieldNames, into: &issues)
            idType = subjectObject.string("idType", into: &issues)
            id = subjectObject.string("id", into: &issues)
            name = subjectObject.string("name", into: &issues)
        }
        let claimsObject = root.object("claims", required: false, into: &issues)
        let commitmentObject = root.object("commitment", into: &issues)
        var text: String?
        var textHash: String?
        var signedAtText: String?
        var signedViaText: String?
        if let commitmentObject {
            commitmentObject.refuseUnknownFields(known: commitmentFieldNames, into: &issues)
            text = commitmentObject.string("text", required: false, into: &issues)
            textHash = commitmentObject.string("textSha256", required: false, into: &issues)
            signedAtText = commitmentObject.string("signedAt", into: &issues)
            signedViaText = commitmentObject.string("signedVia", into: &issues)
            let given = (commitmentObject["text"] != nil ? 1 : 0) + (commitmentObject["textSha256"] != nil ? 1 : 0)
            if given != 1 {
                issues.append(
                    ValidationIssue(
                        path: "commitment",
                        message: given == 0
                            ? "give the signed text in 'text' or its SHA-256 in 'textSha256'"
                            : "give either 'text' or 'textSha256', not both"))
            }
        }
        guard issues.isEmpty, let typeCode, let matterCode, let purpose, let idType, let id, let name,
            let signedAtText, let signedViaText
        else { return .failure(.validationFailed(issues)) }

        // 3. Role.
        guard requester.has(.requester) else { return .failure(.roleRequired(.requester, department: requester.code)) }

        // 4. Catalog.
        let type: CertificateType
        switch catalog.requestedType(typeCode) {
        case .success(let found): type = found
        case .failure(let refusal): return .failure(refusal)
        }

        // 5–7. Only a commitment type that is not excluded.
        switch type.method {
        case .cancelled: return .failure(.certificateCancelled(type))
        case .dataSharing, .departmentVerification: return .failure(.notCommitment(type))
        case .commitment: break
        }
        guard let policy = type.commitment else { return .failure(.notCommitment(type)) }
        if let excluded = policy.excluded { return .failure(.commitmentExcluded(type, reason: excluded.reason)) }

        // 8. Grant.
        guard type.grant(for: requester.code, matterCode: matterCode) != nil else {
            return .failure(.notGranted(department: requester.code, certificateType: type.code, matterCode: matterCode))
        }

        // 9. Values.
        TextRules.check(
            purpose, at: "purpose", maximum: VerificationRequestRules.maximumPurposeCharacters, into: &issues)
        let subjectType = SubjectRules.check(
            idType: idType, id: id, name: name, of: type, today: today, prefix: "subject.", into: &issues)
        var claims: ClaimSet = [:]
        if let claimsObject, !claimsObject.fields.isEmpty {
            claims = ClaimRules.claims(claimsObject, of: type, requireAll: false, into: &issues)
        }
        if let text {
            TextRules.check(
                text, at: "commitment.text", maximum: maximumTextCharacters, allowsLineBreaks: true, into: &issues)
        }
        var hash: [UInt8]?
        if let textHash {
            hash = bytes(fromLowercaseHex: textHash)
            if hash?.count != 32 {
                hash = nil
                issues.append(
                    ValidationIssue(path: "commitment.textSha256", message: "must be 64 lowercase hex digits (SHA-256)"))
            }
        }
        let signedAt = Timestamp.parse(signedAtText)
        if let signedAt {
            if signedAt > now + signedAtFutureSkew {
                issues.append(ValidationIssue(path: "commitment.signedAt", message: "is in the future"))
            } else if signedAt < now - signedAtMaximumAge {
                issues.append(
                    ValidationIssue(path: "commitment.signedAt", message: "is more than 30 days ago; sign again"))
            }
        } else {
            issues.append(
                ValidationIssue(path: "commitment.signedAt", message: "must be an RFC 3339 instant such as 2026-01-05T09:30:00Z"))
        }
        let signedVia = CommitmentSignature(rawValue: signedViaText)
        if signedVia == nil {
            issues.append(
                ValidationIssue(
                    path: "commitment.signedVia",
                    message: "unknown value \(JSONSyntaxValue.string(signedViaText).foundDescription); expected one of: paper, online"))
        }
        guard issues.isEmpty, let subjectType, let signedAt, let signedVia else {
            return .failure(.validationFailed(issues))
        }
        return .success(
            CommitmentDraft(
                certificateType: type, policy: policy, matterCode: matterCode, purpose: purpose,
                subject: Subject(idType: subjectType, id: id, name: name), claims: claims, text: text,
                textSHA256: hash, signedAt: signedAt, signedVia: signedVia))
    }
}
