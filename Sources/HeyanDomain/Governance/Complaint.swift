/// A complaint (监督投诉) that a department demanded a certificate it should not have: one that
/// is cancelled, one answered without paper, or one that is not on the list at all
/// (清单之外无证明). Filed by a department, or by the operator on behalf of a citizen.
public struct Complaint: Sendable, Equatable {
    public enum Status: String, Sendable, CaseIterable { case open, handled }

    /// Where the demanded certificate stood in the catalog when the complaint was filed.
    public enum CatalogStanding: String, Sendable, CaseIterable {
        /// Listed and cancelled: nobody may ask for it.
        case cancelled
        /// Listed, obtained without the applicant (data sharing, verification, commitment).
        case listed
        /// Not in the catalog at all.
        case unlisted
    }

    public var id: String
    /// The department that filed it (the operator's code when on behalf of a citizen).
    public var filedBy: String
    public var onBehalfOfCitizen: Bool
    /// The department that demanded the certificate.
    public var againstDepartment: String
    /// A catalog code, or free text for a certificate that is not listed.
    public var certificateDemanded: String
    public var standing: CatalogStanding
    /// The catalog version `standing` was judged under.
    public var catalogVersion: Int
    public var matterCode: String?
    public var description: String
    public var status: Status
    public var createdAt: Millis
    public var handledAt: Millis?
    public var handledBy: String?
    public var reply: String?

    public init(
        id: String, filedBy: String, onBehalfOfCitizen: Bool, againstDepartment: String, certificateDemanded: String,
        standing: CatalogStanding, catalogVersion: Int, matterCode: String?, description: String,
        status: Status = .open, createdAt: Millis, handledAt: Millis? = nil, handledBy: String? = nil,
        reply: String? = nil
    ) {
        self.id = id
        self.filedBy = filedBy
        self.onBehalfOfCitizen = onBehalfOfCitizen
        self.againstDepartment = againstDepartment
        self.certificateDemanded = certificateDemanded
        self.standing = standing
        self.catalogVersion = catalogVersion
        self.matterCode = matterCode
        self.description = description
        self.status = status
        self.createdAt = createdAt
        self.handledAt = handledAt
        self.handledBy = handledBy
        self.reply = reply
    }

    /// The API form.
    public var json: JSONValue {
        var fields: [(String, JSONValue)] = [
            ("id", .string(id)),
            ("status", .string(status.rawValue)),
            ("filedBy", .string(filedBy)),
            ("onBehalfOfCitizen", .bool(onBehalfOfCitizen)),
            ("againstDepartment", .string(againstDepartment)),
            ("certificateDemanded", .string(certificateDemanded)),
            ("catalogStanding", .string(standing.rawValue)),
            ("catalogVersion", .int(Int64(catalogVersion))),
        ]
        if let matterCode { fields.append(("matterCode", .string(matterCode))) }
        fields.append(("description", .string(description)))
        fields.append(("createdAt", .string(Timestamp.rfc3339(createdAt))))
        if let handledAt { fields.append(("handledAt", .string(Timestamp.rfc3339(handledAt)))) }
        if let handledBy { fields.append(("handledBy", .string(handledBy))) }
        if let reply { fields.append(("reply", .string(reply))) }
        return .object(fields)
    }
}

/// The fields of a new complaint, checked.
public struct ComplaintDraft: Sendable, Equatable {
    public var againstDepartment: String
    public var certificateDemanded: String
    public var standing: Complaint.CatalogStanding
    public var matterCode: String?
    public var description: String
    public var onBehalfOfCitizen: Bool
}

/// The rules of `POST /v1/complaints` and `POST /v1/complaints/{id}/handle`.
///
/// Filing: `{"againstDepartment", "certificateDemanded", "matterCode"?, "description",
/// "onBehalfOfCitizen"?}`. `againstDepartment` must be a registered department; only the operator
/// may file on behalf of a citizen. Handling: `{"reply"}` (operator only, checked by the server).
public enum ComplaintRules {
    static let fieldNames = ["againstDepartment", "certificateDemanded", "matterCode", "description", "onBehalfOfCitizen"]
    public static let maximumCertificateCharacters = 200
    public static let maximumDescriptionCharacters = 2000
    public static let maximumReplyCharacters = 2000

    public static func evaluate(body: [UInt8], filer: Department, departments: DepartmentDirectory, catalog: Catalog)
        -> Result<ComplaintDraft, Refusal>
    {
        let root: RequestObject
        switch RequestObject.parse(body) {
        case .success(let object): root = object
        case .failure(let refusal): return .failure(refusal)
        }
        var issues: [ValidationIssue] = []
        root.refuseUnknownFields(known: fieldNames, into: &issues)
        let against = root.string("againstDepartment", into: &issues)
        let certificate = root.string("certificateDemanded", into: &issues)
        let matterCode = root.string("matterCode", required: false, into: &issues)
        let description = root.string("description", into: &issues)
        var onBehalf = false
        switch root["onBehalfOfCitizen"] {
        case nil: break
        case .bool(let value)?: onBehalf = value
        case let other?:
            issues.append(ValidationIssue(path: "onBehalfOfCitizen", message: "expected true or false, found \(other.foundDescription)"))
        }
        if let against, departments[against] == nil {
            issues.append(
                RequestObject.unknownNameIssue(
                    against, path: "againstDepartment", known: departments.departments.map(\.code), what: "unknown department"))
        }
        if let certificate {
            TextRules.check(certificate, at: "certificateDemanded", maximum: maximumCertificateCharacters, into: &issues)
        }
        if let matterCode, !CodeSyntax.isMatterCode(matterCode) {
            issues.append(ValidationIssue(path: "matterCode", message: "'\(matterCode)' is not a matter code: \(CodeSyntax.matterCodeRule)"))
        }
        if let description {
            TextRules.check(description, at: "description", maximum: maximumDescriptionCharacters, allowsLineBreaks: true, into: &issues)
        }
        if onBehalf && !filer.has(.operator) {
            issues.append(ValidationIssue(path: "onBehalfOfCitizen", message: "only the operator files on behalf of a citizen"))
        }
        guard issues.isEmpty, let against, let certificate, let description else {
            return .failure(.validationFailed(issues))
        }
        let standing: Complaint.CatalogStanding =
            switch catalog[certificate]?.method {
            case nil: .unlisted
            case .cancelled?: .cancelled
            case _?: .listed
            }
        return .success(
            ComplaintDraft(
                againstDepartment: against, certificateDemanded: certificate, standing: standing, matterCode: matterCode,
                description: description, onBehalfOfCitizen: onBehalf))
    }

    /// The operator's reply.
    public static func evaluateHandling(body: [UInt8]) -> Result<String, Refusal> {
        let root: RequestObject
        switch RequestObject.parse(body) {
        case .success(let object): root = object
        case .failure(let refusal): return .failure(refusal)
        }
        var issues: [ValidationIssue] = []
        root.refuseUnknownFields(known: ["reply"], into: &issues)
        let reply = root.string("reply", into: &issues)
        if let reply {
            TextRules.check(reply, at: "reply", maximum: maximumReplyCharacters, allowsLineBreaks: true, into: &issues)
        }
        guard issues.isEmpty, let reply else { return .failure(.validationFailed(issues)) }
        return .success(reply)
    }
}

public enum ComplaintHandleResult: Sendable, Equatable {
    case handled(Complaint)
    case alreadyHandled(Complaint)
    case notFound
}

/// What a complaint list is filtered by.
public struct ComplaintFilter: Sendable, Equatable {
    public var status: Complaint.Status?
    /// Only complaints filed by this department (nil: all, for the operator).
    public var filedBy: String?

    public init(status: Complaint.Status? = nil, filedBy: String? = nil) {
        self.status = status
        self.filedBy = filedBy
    }
}

/// Where complaints live (the `complaints` table of the embedded store).
public protocol ComplaintStore: AnyObject, Sendable {
    /// Stores a new complaint with its audit entry.
    func fileComplaint(_ complaint: Complaint, completion: @escaping StoreCompletion<Void>)
    /// Marks an open complaint handled with the operator's reply, audited.
    func handleComplaint(
        id: String, reply: String, actor: String, now: Millis, completion: @escaping StoreCompletion<ComplaintHandleResult>)
    /// Complaints with id > `cursor` (ids sort by creation) matching `filter`, oldest first.
    func complaints(matching filter: ComplaintFilter, after cursor: String?, limit: Int) throws -> [Complaint]
}

extension Complaint {
    /// The audit entry of filing this complaint, the same for every engine. The demanded
    /// certificate names a catalog type only when it is listed.
    public var filedEvent: AuditEvent {
        var detail = [
            "complaint": id, "againstDepartment": againstDepartment, "certificateDemanded": certificateDemanded,
            "catalogStanding": standing.rawValue, "onBehalfOfCitizen": onBehalfOfCitizen ? "true" : "false",
        ]
        if let matterCode { detail["matterCode"] = matterCode }
        return AuditEvent(
            action: .complaintFiled, actor: filedBy, certificateType: standing == .unlisted ? nil : certificateDemanded,
            detail: detail)
    }

    /// The operator's handling of an open complaint: the complaint as it becomes, and its audit entry.
    public func handled(reply: String, by actor: String, at now: Millis) -> (complaint: Complaint, event: AuditEvent) {
        var complaint = self
        complaint.status = .handled
        complaint.handledAt = now
        complaint.handledBy = actor
        complaint.reply = reply
        let event = AuditEvent(
            action: .complaintHandled, actor: actor, detail: ["complaint": id, "againstDepartment": againstDepartment])
        return (complaint, event)
    }
}
