/// Why heyan refuses a request, decided by the request rules (``VerificationRequestRules``,
/// ``OwnerAnswerRules``, ``RecordRules``, ``RevocationRules``) without any I/O.
///
/// The server turns it 1:1 into an RFC 9457 problem: `type` is `urn:heyan:problem:` + ``slug``,
/// and ``errors`` and ``extra`` become members of the problem. The slugs and statuses are listed
/// in docs/api-rules.md; a client may rely on them.
public struct Refusal: Error, Sendable, Equatable, CustomStringConvertible {
    /// 400, 403, 404, 409, 410 or 422.
    public var status: Int
    /// Stable problem type name: `malformed-request`, `validation-failed`, `not-granted`, …
    public var slug: String
    /// The same for every refusal with this slug.
    public var title: String
    /// This refusal, for a person.
    public var detail: String
    /// For 422 (and a 400 that can name a field): every problem found, with JSON paths such as
    /// `subject.id` or `claims.maritalStatus`.
    public var errors: [ValidationIssue]
    /// Extension members of the problem, in this order: `reason` and `effectiveDate` for 410,
    /// `commitmentEndpoint` for 409, …
    public var extra: [(String, JSONValue)]

    public init(
        status: Int, slug: String, title: String, detail: String, errors: [ValidationIssue] = [],
        extra: [(String, JSONValue)] = []
    ) {
        self.status = status
        self.slug = slug
        self.title = title
        self.detail = detail
        self.errors = errors
        self.extra = extra
    }

    public static func == (lhs: Refusal, rhs: Refusal) -> Bool {
        lhs.status == rhs.status && lhs.slug == rhs.slug && lhs.title == rhs.title && lhs.detail == rhs.detail
            && lhs.errors == rhs.errors
            && lhs.extra.elementsEqual(rhs.extra) { $0.0 == $1.0 && $0.1 == $1.1 }
    }

    /// The value of the extension member `name`, if present.
    public func extraValue(_ name: String) -> JSONValue? {
        extra.first { $0.0 == name }?.1
    }

    public var description: String {
        var text = "\(status) \(slug): \(detail)"
        if !errors.isEmpty { text += " [" + errors.map(\.description).joined(separator: "; ") + "]" }
        return text
    }
}

// MARK: - The refusals the rules make, one factory per slug

extension Refusal {
    /// 400 `malformed-request`: not JSON, not within the request limits, or not an object.
    public static func malformedRequest(_ detail: String, errors: [ValidationIssue] = []) -> Refusal {
        Refusal(status: 400, slug: "malformed-request", title: "Malformed request", detail: detail, errors: errors)
    }

    /// 422 `validation-failed`: well-formed JSON, but fields are missing, of the wrong type or
    /// invalid. `errors` lists every problem found at that stage.
    public static func validationFailed(_ errors: [ValidationIssue], detail: String? = nil) -> Refusal {
        Refusal(
            status: 422, slug: "validation-failed", title: "Validation failed",
            detail: detail
                ?? (errors.count == 1
                    ? "The request is well-formed but a field is invalid."
                    : "The request is well-formed but \(errors.count) fields are invalid."),
            errors: errors)
    }

    /// 403 `role-required`: the department does not hold the role the route needs.
    public static func roleRequired(_ role: Role, department: String) -> Refusal {
        Refusal(
            status: 403, slug: "role-required", title: "Role required",
            detail: "Department '\(department)' does not have the role '\(role.rawValue)'.",
            extra: [("role", .string(role.rawValue))])
    }

    /// 403 `not-granted`: the catalog does not let this requester ask about this type for this
    /// matter (清单之外无证明).
    public static func notGranted(department: String, certificateType: String, matterCode: String) -> Refusal {
        Refusal(
            status: 403, slug: "not-granted", title: "Not granted",
            detail:
                "The catalog does not let '\(department)' ask about '\(certificateType)' for matter '\(matterCode)'.",
            extra: [("certificateType", .string(certificateType)), ("matterCode", .string(matterCode))])
    }

    /// 403 `not-owner`: only the owning department may share records of a type.
    public static func notOwner(department: String, certificateType: String, owner: String?, at path: String? = nil)
        -> Refusal
    {
        let ownerText = owner.map { "its owner '\($0)'" } ?? "its owner"
        return Refusal(
            status: 403, slug: "not-owner", title: "Not the owner",
            detail:
                "Only \(ownerText) may share records of '\(certificateType)', not '\(department)'"
                + (path.map { " (\($0))" } ?? "") + ".",
            extra: [("certificateType", .string(certificateType))])
    }

    /// 404 `not-found`.
    public static func notFound(_ detail: String) -> Refusal {
        Refusal(status: 404, slug: "not-found", title: "Not found", detail: detail)
    }

    /// 409 `not-data-sharing`: records can be shared only for `data-sharing` types.
    public static func notDataSharing(_ type: CertificateType, at path: String? = nil) -> Refusal {
        Refusal(
            status: 409, slug: "not-data-sharing", title: "Not a data-sharing type",
            detail:
                "'\(type.code)' is answered by '\(type.method.rawValue)', not 'data-sharing': it takes no records"
                + (path.map { " (\($0))" } ?? "") + ".",
            extra: [("certificateType", .string(type.code)), ("method", .string(type.method.rawValue))])
    }

    /// 409 `commitment-required`: the applicant's written commitment replaces the verification
    /// (告知承诺); submit it to `POST /v1/commitments`.
    public static func commitmentRequired(_ type: CertificateType) -> Refusal {
        Refusal(
            status: 409, slug: "commitment-required", title: "Commitment required",
            detail:
                "'\(type.code)' is replaced by the applicant's written commitment (告知承诺): "
                + "submit it to POST /v1/commitments.",
            extra: [
                ("certificateType", .string(type.code)),
                ("commitmentEndpoint", .string("/v1/commitments")),
                ("commitmentTemplate", .string("/v1/catalog/\(type.code)/commitment-template")),
            ])
    }

    /// 410 `certificate-cancelled`: nobody may ask for this certificate any more.
    public static func certificateCancelled(_ type: CertificateType) -> Refusal {
        var extra: [(String, JSONValue)] = [("certificateType", .string(type.code))]
        if let cancellation = type.cancellation {
            extra.append(("reason", .string(cancellation.reason)))
            extra.append(("effectiveDate", .string(cancellation.effectiveDate.description)))
        }
        let since = type.cancellation.map { " since \($0.effectiveDate)" } ?? ""
        return Refusal(
            status: 410, slug: "certificate-cancelled", title: "Certificate cancelled",
            detail: "'\(type.code)' (\(type.name.zh)) was cancelled\(since): nobody may ask for it any more.",
            extra: extra)
    }
}
