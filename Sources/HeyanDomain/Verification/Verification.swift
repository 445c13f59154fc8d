/// Whether a verification still waits for its owner.
public enum VerificationStatus: String, Sendable, Codable, CaseIterable {
    case pending, answered
}

/// The answer about the stated claims.
public enum Outcome: String, Sendable, Codable, CaseIterable {
    /// Every stated claim matches the owner's data.
    case confirmed
    /// At least one stated claim does not match.
    case denied
    /// The owner has no data to decide (e.g. no record for this subject).
    case cannotDetermine = "cannot-determine"
}

/// The person or organisation a verification is about (当事人).
public struct Subject: Sendable, Hashable {
    public var idType: SubjectIDType
    /// A resident ID (GB 11643) or unified social credit code (GB 32100), already validated.
    public var id: String
    public var name: String

    public init(idType: SubjectIDType, id: String, name: String) {
        self.idType = idType
        self.id = id
        self.name = name
    }

    public var json: JSONValue {
        .object([("idType", .string(idType.rawValue)), ("id", .string(id)), ("name", .string(name))])
    }
}

/// One request about one subject and one certificate type (核验请求), as stored.
public struct Verification: Sendable, Equatable {
    /// `ver_` + 26 characters (``Identifiers``).
    public var id: String
    public var certificateType: String
    public var method: VerificationMethod
    public var requester: String
    /// The owning department that answers.
    public var owner: String
    public var matterCode: String
    /// 用证事由, at most 200 characters.
    public var purpose: String
    public var subject: Subject
    /// The claims the requester asked to have confirmed.
    public var claims: ClaimSet
    public var status: VerificationStatus
    public var outcome: Outcome?
    /// Real values revealed to the requester (only fields its grant allows).
    public var disclosed: ClaimSet
    /// The owner's note with its answer.
    public var note: String?
    public var createdAt: Millis
    /// When the owner must have answered (department verification, or data sharing queued on
    /// fallback).
    public var dueAt: Millis?
    public var answeredAt: Millis?
    public var attestationID: String?
    /// The catalog version the request was decided under.
    public var catalogVersion: Int

    public init(
        id: String, certificateType: String, method: VerificationMethod, requester: String, owner: String,
        matterCode: String, purpose: String, subject: Subject, claims: ClaimSet, status: VerificationStatus,
        outcome: Outcome? = nil, disclosed: ClaimSet = [:], note: String? = nil, createdAt: Millis, dueAt: Millis? = nil,
        answeredAt: Millis? = nil, attestationID: String? = nil, catalogVersion: Int
    ) {
        self.id = id
        self.certificateType = certificateType
        self.method = method
        self.requester = requester
        self.owner = owner
        self.matterCode = matterCode
        self.purpose = purpose
        self.subject = subject
        self.claims = claims
        self.status = status
        self.outcome = outcome
        self.disclosed = disclosed
        self.note = note
        self.createdAt = createdAt
        self.dueAt = dueAt
        self.answeredAt = answeredAt
        self.attestationID = attestationID
        self.catalogVersion = catalogVersion
    }
}
