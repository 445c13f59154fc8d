/// How a certificate is no longer demanded from the applicant (免提交方式).
public enum VerificationMethod: String, Codable, Sendable, CaseIterable {
    /// Answered at once from the records the owner shares (数据共享).
    case dataSharing = "data-sharing"
    /// Queued for the owner, who answers within a time limit (部门核验).
    case departmentVerification = "department-verification"
    /// Replaced by the applicant's written commitment, spot-checked afterwards (告知承诺).
    case commitment
    /// Abolished: nobody may ask for it any more (直接取消).
    case cancelled

    public init(from decoder: any Decoder) throws { self = try decoder.decodeKeyword(Self.self) }
}

/// The five kinds of certificate of the Ordos plan.
public enum CertificateCategory: String, Codable, Sendable, CaseIterable {
    /// 法定事实: birth, death, …
    case legalFact = "legal-fact"
    /// 法律关系: marriage, kinship, …
    case legalRelationship = "legal-relationship"
    /// 资格资质: licences, degrees, …
    case qualification
    /// 权属: ownership of property, …
    case ownership
    /// 其他状态: no criminal record, residence, being alive, …
    case otherStatus = "other-status"

    public init(from decoder: any Decoder) throws { self = try decoder.decodeKeyword(Self.self) }
}

/// The JSON type of a claim's value.
public enum ClaimType: String, Codable, Sendable, CaseIterable {
    case boolean, string, integer
    /// A string `yyyy-mm-dd`.
    case date

    public init(from decoder: any Decoder) throws { self = try decoder.decodeKeyword(Self.self) }
}

/// One fact a certificate type can confirm, such as `maritalStatus`.
public struct ClaimSchema: Codable, Hashable, Sendable {
    public var type: ClaimType
    /// For `string` claims only: the values the claim may take.
    public var allowedValues: [String]?
    public var description: String

    public init(type: ClaimType, allowedValues: [String]? = nil, description: String) {
        self.type = type
        self.allowedValues = allowedValues
        self.description = description
    }

    enum CodingKeys: String, CodingKey, CaseIterable {
        case type
        case allowedValues = "enum"
        case description
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.strictContainer(keyedBy: CodingKeys.self)
        type = try container.decode(ClaimType.self, forKey: .type)
        allowedValues = try container.decodeStrictIfPresent([String].self, forKey: .allowedValues)
        description = try container.decode(String.self, forKey: .description)
    }
}

/// Permission for one requester to ask about a certificate type for some matters.
public struct RequesterGrant: Codable, Hashable, Sendable {
    /// The requester's department code.
    public var department: String
    /// The public-service matters (事项实施编码) for which it may ask.
    public var matterCodes: [String]
    /// Claims whose real value it may see; for the others it learns only confirmed or denied.
    public var disclose: [String]

    public init(department: String, matterCodes: [String], disclose: [String] = []) {
        self.department = department
        self.matterCodes = matterCodes
        self.disclose = disclose
    }

    enum CodingKeys: String, CodingKey, CaseIterable { case department, matterCodes, disclose }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.strictContainer(keyedBy: CodingKeys.self)
        department = try container.decode(String.self, forKey: .department)
        matterCodes = try container.decode([String].self, forKey: .matterCodes)
        disclose = try container.decodeStrictIfPresent([String].self, forKey: .disclose) ?? []
    }
}

/// What a `data-sharing` type does when the owner has shared no record about the subject.
public enum DataSharingFallback: String, Codable, Sendable, CaseIterable {
    /// Put the question on the owner's queue, as for `department-verification`.
    case queue
    /// Answer `cannot-determine` at once.
    case cannotDetermine = "cannot-determine"

    public init(from decoder: any Decoder) throws { self = try decoder.decodeKeyword(Self.self) }
}

/// Why and since when a `cancelled` type may no longer be asked for.
public struct Cancellation: Codable, Hashable, Sendable {
    /// Shown in the 410 answer, such as 直接取消 or 通过部门间信息共享核查.
    public var reason: String
    public var effectiveDate: CalendarDate

    public init(reason: String, effectiveDate: CalendarDate) {
        self.reason = reason
        self.effectiveDate = effectiveDate
    }

    enum CodingKeys: String, CodingKey, CaseIterable { case reason, effectiveDate }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.strictContainer(keyedBy: CodingKeys.self)
        reason = try container.decode(String.self, forKey: .reason)
        effectiveDate = try container.decode(CalendarDate.self, forKey: .effectiveDate)
    }
}

/// The written commitment (告知承诺书) the applicant signs instead of bringing the certificate.
public struct CommitmentTemplate: Codable, Hashable, Sendable {
    /// 承诺事项: what the applicant states to be true.
    public var mustProve: String
    /// 设定依据.
    public var legalBasis: String
    /// 承诺人义务.
    public var obligation: String
    /// 虚假承诺的法律责任.
    public var liability: String

    public init(mustProve: String, legalBasis: String, obligation: String, liability: String) {
        self.mustProve = mustProve
        self.legalBasis = legalBasis
        self.obligation = obligation
        self.liability = liability
    }

    enum CodingKeys: String, CodingKey, CaseIterable { case mustProve, legalBasis, obligation, liability }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.strictContainer(keyedBy: CodingKeys.self)
        mustProve = try container.decode(String.self, forKey: .mustProve)
        legalBasis = try container.decode(String.self, forKey: .legalBasis)
        obligation = try container.decode(String.self, forKey: .obligation)
        liability = try container.decode(String.self, forKey: .liability)
    }
}

/// How commitments for a `commitment` type are checked afterwards (事后核查).
public struct CommitmentPolicy: Codable, Hashable, Sendable {
    /// Share of commitments sent to the owner for checking, 0…1.
    public var spotCheckRate: Double
    /// Days the owner has to finish a spot check.
    public var spotCheckWithinDays: Int
    public var template: CommitmentTemplate
    /// Set while commitments are not accepted for this type (不适用告知承诺制): `POST
    /// /v1/commitments` answers 409 `commitment-excluded`, and the owner verifies instead.
    public var excluded: CommitmentExclusion?

    public init(
        spotCheckRate: Double, spotCheckWithinDays: Int, template: CommitmentTemplate,
        excluded: CommitmentExclusion? = nil
    ) {
        self.spotCheckRate = spotCheckRate
        self.spotCheckWithinDays = spotCheckWithinDays
        self.template = template
        self.excluded = excluded
    }

    enum CodingKeys: String, CodingKey, CaseIterable { case spotCheckRate, spotCheckWithinDays, template, excluded }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.strictContainer(keyedBy: CodingKeys.self)
        spotCheckRate = try container.decode(Double.self, forKey: .spotCheckRate)
        spotCheckWithinDays = try container.decodeInteger(forKey: .spotCheckWithinDays)
        template = try container.decode(CommitmentTemplate.self, forKey: .template)
        excluded = try container.decodeStrictIfPresent(CommitmentExclusion.self, forKey: .excluded)
    }
}

/// One entry of the catalog (证明事项清单): a kind of certificate, who owns the fact, how it is
/// obtained without the applicant, and who may ask for it.
public struct CertificateType: Codable, Hashable, Sendable {
    /// Uppercase letters, digits and single inner hyphens: `CIV-MARRIAGE`.
    public var code: String
    public var name: LocalizedName
    public var category: CertificateCategory
    /// The owning department's code; `nil` only for a `cancelled` type.
    public var owner: String?
    public var method: VerificationMethod
    /// 设定依据, in Chinese.
    public var legalBasis: String
    public var subjectTypes: [SubjectIDType]
    /// Claim name → schema. Empty only for a `cancelled` type.
    public var claims: [String: ClaimSchema]
    /// Empty for a `cancelled` type.
    public var requesters: [RequesterGrant]
    /// Owner's time limit in working days: `department-verification`, and `data-sharing` with
    /// fallback `queue`.
    public var timeLimitWorkingDays: Int?
    /// Lifetime of an attestation; absent only for `cancelled`.
    public var validityDays: Int?
    /// `data-sharing` only, where decoding fills in `cannot-determine` when the file omits it.
    public var fallback: DataSharingFallback?
    /// `cancelled` only.
    public var cancellation: Cancellation?
    /// `commitment` only, optional there.
    public var commitment: CommitmentPolicy?

    public init(
        code: String, name: LocalizedName, category: CertificateCategory, owner: String?,
        method: VerificationMethod, legalBasis: String, subjectTypes: [SubjectIDType],
        claims: [String: ClaimSchema] = [:], requesters: [RequesterGrant] = [],
        timeLimitWorkingDays: Int? = nil, validityDays: Int? = nil, fallback: DataSharingFallback? = nil,
        cancellation: Cancellation? = nil, commitment: CommitmentPolicy? = nil
    ) {
        self.code = code
        self.name = name
        self.category = category
        self.owner = owner
        self.method = method
        self.legalBasis = legalBasis
        self.subjectTypes = subjectTypes
        self.claims = claims
        self.requesters = requesters
        self.timeLimitWorkingDays = timeLimitWorkingDays
        self.validityDays = validityDays
        self.fallback = fallback
        self.cancellation = cancellation
        self.commitment = commitment
    }

    /// The grant that lets `department` ask about this type for `matterCode`, if any.
    public func grant(for department: String, matterCode: String) -> RequesterGrant? {
        requesters.first { $0.department == department && $0.matterCodes.contains(matterCode) }
    }

    enum CodingKeys: String, CodingKey, CaseIterable {
        case code, name, category, owner, method, legalBasis, subjectTypes, claims, requesters
        case timeLimitWorkingDays, validityDays, fallback, cancellation, commitment
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.strictContainer(keyedBy: CodingKeys.self)
        code = try container.decode(String.self, forKey: .code)
        name = try container.decode(LocalizedName.self, forKey: .name)
        category = try container.decode(CertificateCategory.self, forKey: .category)
        owner = try container.decodeStrictIfPresent(String.self, forKey: .owner)
        method = try container.decode(VerificationMethod.self, forKey: .method)
        legalBasis = try container.decode(String.self, forKey: .legalBasis)
        subjectTypes = try container.decode([SubjectIDType].self, forKey: .subjectTypes)
        claims = try container.decodeStrictIfPresent([String: ClaimSchema].self, forKey: .claims) ?? [:]
        requesters = try container.decodeStrictIfPresent([RequesterGrant].self, forKey: .requesters) ?? []
        timeLimitWorkingDays = try container.decodeIntegerIfPresent(forKey: .timeLimitWorkingDays)
        validityDays = try container.decodeIntegerIfPresent(forKey: .validityDays)
        fallback = try container.decodeStrictIfPresent(DataSharingFallback.self, forKey: .fallback)
        if method == .dataSharing && fallback == nil { fallback = .cannotDetermine }
        cancellation = try container.decodeStrictIfPresent(Cancellation.self, forKey: .cancellation)
        commitment = try container.decodeStrictIfPresent(CommitmentPolicy.self, forKey: .commitment)
    }

    /// Ranges accepted for the numeric fields; the JSON Schema states the same bounds.
    public static let timeLimitRange = 1...60
    public static let validityRange = 1...3650
    public static let spotCheckDaysRange = 1...365
}
