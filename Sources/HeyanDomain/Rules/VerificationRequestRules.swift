/// A `POST /v1/verifications` body that passed every rule: what the server needs to decide it
/// (data sharing at once, or the owner's queue) and to store it.
public struct VerificationDraft: Sendable, Equatable {
    public var certificateType: CertificateType
    /// The grant that lets the requester ask for this matter: what it may see disclosed.
    public var grant: RequesterGrant
    public var matterCode: String
    /// 用证事由, as sent (checked non-blank, at most 200 characters).
    public var purpose: String
    /// With a validated identifier.
    public var subject: Subject
    /// The claims the requester states and wants confirmed; at least one, each in the schema.
    public var claims: ClaimSet

    public init(
        certificateType: CertificateType, grant: RequesterGrant, matterCode: String, purpose: String, subject: Subject,
        claims: ClaimSet
    ) {
        self.certificateType = certificateType
        self.grant = grant
        self.matterCode = matterCode
        self.purpose = purpose
        self.subject = subject
        self.claims = claims
    }
}

/// The rules of `POST /v1/verifications`, in the order docs/api-rules.md lists them:
///
/// 1. not JSON within the request limits, or not an object → 400 `malformed-request`;
/// 2. wrong shape (missing, mistyped or unknown fields) → 422 `validation-failed`, all of them;
/// 3. the department lacks the `requester` role → 403 `role-required`;
/// 4. `certificateType` not in the catalog → 422 at `certificateType`;
/// 5. the type is `cancelled` → 410 `certificate-cancelled` with `reason` and `effectiveDate`;
/// 6. the type is `commitment` → 409 `commitment-required` pointing to `POST /v1/commitments`,
///    unless commitments are unavailable (the type is `commitment.excluded`, or
///    `commitmentUnavailable` says so for the subject, e.g. it is on the credit list): then the
///    owner verifies it like a `department-verification` type (docs/commitments.md);
/// 7. no grant for (requester, matter code) → 403 `not-granted`;
/// 8. field values (purpose, subject, claims) → 422 `validation-failed`, all of them.
public enum VerificationRequestRules {
    /// The fields of the body, in the order a problem lists them.
    static let fieldNames = ["certificateType", "matterCode", "purpose", "subject", "claims"]
    static let subjectFieldNames = ["idType", "id", "name"]
    /// 用证事由: at most this many characters.
    public static let maximumPurposeCharacters = 200
    /// A subject's name: at most this many characters.
    public static let maximumNameCharacters = 100

    /// Checks a request body from `requester` against the catalog.
    ///
    /// - Parameters:
    ///   - today: the date in China Standard Time, for the birth date in a resident ID.
    ///   - commitmentUnavailable: for a `commitment` type, whether the subject (its `id` as sent)
    ///     may not commit (credit list), so the owner verifies instead.
    public static func evaluate(
        body: [UInt8], requester: Department, catalog: Catalog, today: CalendarDate,
        commitmentUnavailable: (String) -> Bool = { _ in false }
    ) -> Result<VerificationDraft, Refusal> {
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
            subjectObject.refuseUnknownFields(known: subjectFieldNames, into: &issues)
            idType = subjectObject.string("idType", into: &issues)
            id = subjectObject.string("id", into: &issues)
            name = subjectObject.string("name", into: &issues)
        }
        let claimsObject = root.object("claims", into: &issues)
        guard issues.isEmpty, let typeCode, let matterCode, let purpose, let idType, let id, let name,
            let claimsObject
        else { return .failure(.validationFailed(issues)) }

        // 3. Role.
        guard requester.has(.requester) else { return .failure(.roleRequired(.requester, department: requester.code)) }

        // 4. Catalog.
        let type: CertificateType
        switch catalog.requestedType(typeCode) {
        case .success(let found): type = found
        case .failure(let refusal): return .failure(refusal)
        }

        // 5, 6. Methods that take no verification.
        switch type.method {
        case .cancelled: return .failure(.certificateCancelled(type))
        case .commitment:
            if type.commitment?.excluded == nil && !commitmentUnavailable(id) {
                return .failure(.commitmentRequired(type))
            }
        case .dataSharing, .departmentVerification: break
        }

        // 7. Grant.
        guard let grant = type.grant(for: requester.code, matterCode: matterCode) else {
            return .failure(.notGranted(department: requester.code, certificateType: type.code, matterCode: matterCode))
        }

        // 8. Values.
        TextRules.check(purpose, at: "purpose", maximum: maximumPurposeCharacters, into: &issues)
        let subjectType = SubjectRules.check(
            idType: idType, id: id, name: name, of: type, today: today, prefix: "subject.", into: &issues)
        let claims = ClaimRules.claims(claimsObject, of: type, requireAll: false, into: &issues)
        guard issues.isEmpty, let subjectType else { return .failure(.validationFailed(issues)) }

        return .success(
            VerificationDraft(
                certificateType: type, grant: grant, matterCode: matterCode, purpose: purpose,
                subject: Subject(idType: subjectType, id: id, name: name), claims: claims))
    }
}

extension Catalog {
    /// The type a request names in `certificateType`, or 422 at that path suggesting a close code
    /// (listing the whole catalog helps nobody).
    func requestedType(_ code: String) -> Result<CertificateType, Refusal> {
        if let type = self[code] { return .success(type) }
        let issue = RequestObject.unknownNameIssue(
            code, path: "certificateType", known: items.map(\.code), what: "unknown certificate type")
        let message =
            issue.message.contains("did you mean") ? issue.message : "unknown certificate type; GET /v1/catalog lists them"
        return .failure(.validationFailed([ValidationIssue(path: "certificateType", message: message)]))
    }
}
