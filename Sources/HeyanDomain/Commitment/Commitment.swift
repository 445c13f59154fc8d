/// Why commitments are not accepted for a certificate type (不适用告知承诺制), such as a matter
/// that directly concerns public safety. Set in the catalog: `commitment.excluded`.
public struct CommitmentExclusion: Codable, Hashable, Sendable {
    public var reason: String

    public init(reason: String) { self.reason = reason }

    enum CodingKeys: String, CodingKey, CaseIterable { case reason }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.strictContainer(keyedBy: CodingKeys.self)
        reason = try container.decode(String.self, forKey: .reason)
    }
}

/// How the applicant signed the commitment text.
public enum CommitmentSignature: String, Sendable, Codable, CaseIterable {
    /// On paper at the requester's counter; the requester keeps the sheet.
    case paper
    /// Online, in the requester's service portal.
    case online
}

/// Where a commitment stands (docs/commitments.md).
public enum CommitmentStatus: String, Sendable, Codable, CaseIterable {
    /// Accepted and not sampled for a check: final.
    case committed
    /// Sampled: a spot check waits in the owner's queue.
    case underCheck = "under-check"
    /// The owner checked it and found it true.
    case consistent
    /// The owner found it false: the receipt is revoked and the subject is on the credit list.
    case falseCommitment = "false-commitment"
}

/// The owner's finding on a spot check (事后核查).
public enum SpotCheckOutcome: String, Sendable, Codable, CaseIterable {
    case consistent
    case falseCommitment = "false-commitment"
}

/// The recorded sampling decision of one commitment: everything needed to recompute it
/// (``SpotCheckSampling``).
public struct SpotCheckSample: Sendable, Equatable {
    /// ``SpotCheckSampling/rule``.
    public var rule: String
    /// The installation's sampling key, lowercase hex.
    public var seed: String
    /// The first 8 bytes of the HMAC as a big-endian integer, 16 lowercase hex digits.
    public var value: String
    /// The type's `spotCheckRate` at the time.
    public var rate: Double
    public var sampled: Bool

    public init(rule: String, seed: String, value: String, rate: Double, sampled: Bool) {
        self.rule = rule
        self.seed = seed
        self.value = value
        self.rate = rate
        self.sampled = sampled
    }
}

/// The signed receipt of a commitment: a heyan attestation with `outcome: "committed"`.
public struct CommitmentReceipt: Sendable, Equatable {
    /// `att_` + 26 characters, the JWS `jti`: `GET /v1/attestations/{id}/status` knows it.
    public var id: String
    public var jws: String
    public var issuedAt: Millis
    public var expiresAt: Millis
    public var revokedAt: Millis?
    public var revocationReason: String?
    public var revokedBy: String?

    public init(
        id: String, jws: String, issuedAt: Millis, expiresAt: Millis, revokedAt: Millis? = nil,
        revocationReason: String? = nil, revokedBy: String? = nil
    ) {
        self.id = id
        self.jws = jws
        self.issuedAt = issuedAt
        self.expiresAt = expiresAt
        self.revokedAt = revokedAt
        self.revocationReason = revocationReason
        self.revokedBy = revokedBy
    }

    public func status(at now: Millis) -> AttestationStatus {
        if revokedAt != nil { return .revoked }
        return now >= expiresAt ? .expired : .active
    }
}

/// The owner's finding, once a sampled commitment was checked.
public struct SpotCheckFinding: Sendable, Equatable {
    public var outcome: SpotCheckOutcome
    public var note: String?
    /// Reference to the evidence the owner holds (a file number, a tax record reference).
    public var evidence: String?
    public var checkedBy: String
    public var checkedAt: Millis

    public init(outcome: SpotCheckOutcome, note: String?, evidence: String?, checkedBy: String, checkedAt: Millis) {
        self.outcome = outcome
        self.note = note
        self.evidence = evidence
        self.checkedBy = checkedBy
        self.checkedAt = checkedAt
    }
}

/// An applicant's written commitment (告知承诺书) that replaces a certificate, as stored.
public struct Commitment: Sendable, Equatable {
    /// `com_` + 26 characters (``Identifiers``).
    public var id: String
    public var certificateType: String
    public var requester: String
    /// The department that owns the fact and checks a sample.
    public var owner: String
    public var matterCode: String
    public var purpose: String
    public var subject: Subject
    /// Claims the applicant commits to (may be empty: the text is what counts).
    public var claims: ClaimSet
    /// SHA-256 of the UTF-8 text the applicant signed.
    public var textSHA256: [UInt8]
    /// The text itself, when the requester sent it.
    public var text: String?
    public var signedAt: Millis
    public var signedVia: CommitmentSignature
    public var createdAt: Millis
    public var status: CommitmentStatus
    public var sample: SpotCheckSample
    /// The spot-check queue item, when sampled.
    public var spotCheckID: String?
    public var spotCheckDueAt: Millis?
    public var finding: SpotCheckFinding?
    public var receipt: CommitmentReceipt
    /// Credit-list entry made by a false finding.
    public var creditEntryID: String?
    public var catalogVersion: Int

    public init(
        id: String, certificateType: String, requester: String, owner: String, matterCode: String, purpose: String,
        subject: Subject, claims: ClaimSet, textSHA256: [UInt8], text: String?, signedAt: Millis,
        signedVia: CommitmentSignature, createdAt: Millis, status: CommitmentStatus, sample: SpotCheckSample,
        spotCheckID: String? = nil, spotCheckDueAt: Millis? = nil, finding: SpotCheckFinding? = nil,
        receipt: CommitmentReceipt, creditEntryID: String? = nil, catalogVersion: Int
    ) {
        self.id = id
        self.certificateType = certificateType
        self.requester = requester
        self.owner = owner
        self.matterCode = matterCode
        self.purpose = purpose
        self.subject = subject
        self.claims = claims
        self.textSHA256 = textSHA256
        self.text = text
        self.signedAt = signedAt
        self.signedVia = signedVia
        self.createdAt = createdAt
        self.status = status
        self.sample = sample
        self.spotCheckID = spotCheckID
        self.spotCheckDueAt = spotCheckDueAt
        self.finding = finding
        self.receipt = receipt
        self.creditEntryID = creditEntryID
        self.catalogVersion = catalogVersion
    }
}

/// A spot check in the owner's queue: leased through `GET /v1/queue` (kind `spot-check`) and
/// answered through `POST /v1/queue/{id}/answer`, like a verification's queue item.
public struct SpotCheck: Sendable, Equatable {
    /// ``idPrefix`` + 26 characters.
    public var id: String
    public var commitmentID: String
    public var owner: String
    public var createdAt: Millis
    public var dueAt: Millis
    public var state: QueueItemState
    public var leaseCount: Int
    public var overdue: Bool

    /// Tells a spot check's ID from a verification's queue item (`qi_`).
    public static let idPrefix = "qsc_"

    public init(
        id: String, commitmentID: String, owner: String, createdAt: Millis, dueAt: Millis,
        state: QueueItemState = .pending, leaseCount: Int = 0, overdue: Bool = false
    ) {
        self.id = id
        self.commitmentID = commitmentID
        self.owner = owner
        self.createdAt = createdAt
        self.dueAt = dueAt
        self.state = state
        self.leaseCount = leaseCount
        self.overdue = overdue
    }
}

extension SpotCheck: LeasableWork {}

/// A spot check handed to the owner's worker, with the commitment it is about.
public struct LeasedSpotCheck: Sendable, Equatable {
    public var item: SpotCheck
    public var commitment: Commitment

    public init(item: SpotCheck, commitment: Commitment) {
        self.item = item
        self.commitment = commitment
    }
}

/// One entry of the credit list (信用记录): a recorded false commitment. While active, the
/// subject's commitments are refused; the operator removes it after credit repair (信用修复).
public struct CreditEntry: Sendable, Equatable {
    /// `crd_` + 26 characters.
    public var id: String
    public var subjectIDType: SubjectIDType
    public var subjectID: String
    public var certificateType: String
    public var commitmentID: String
    /// The owner's note, or a default sentence.
    public var reason: String
    public var evidence: String?
    /// The owner that found the commitment false.
    public var recordedBy: String
    public var recordedAt: Millis
    public var removedAt: Millis?
    public var removedBy: String?
    public var removalReason: String?

    public init(
        id: String, subjectIDType: SubjectIDType, subjectID: String, certificateType: String, commitmentID: String,
        reason: String, evidence: String?, recordedBy: String, recordedAt: Millis, removedAt: Millis? = nil,
        removedBy: String? = nil, removalReason: String? = nil
    ) {
        self.id = id
        self.subjectIDType = subjectIDType
        self.subjectID = subjectID
        self.certificateType = certificateType
        self.commitmentID = commitmentID
        self.reason = reason
        self.evidence = evidence
        self.recordedBy = recordedBy
        self.recordedAt = recordedAt
        self.removedAt = removedAt
        self.removedBy = removedBy
        self.removalReason = removalReason
    }

    public var isActive: Bool { removedAt == nil }
}

extension CreditEntry {
    /// Ending this (active) entry after credit repair: the entry as it becomes, and its
    /// `credit.removed` audit entry — the same on every engine.
    public func removed(reason: String, by actor: String, at now: Millis) -> (entry: CreditEntry, event: AuditEvent) {
        var removed = self
        removed.removedAt = now
        removed.removedBy = actor
        removed.removalReason = reason
        let event = AuditEvent(
            action: .creditRemoved, actor: actor, certificateType: certificateType, subjectID: subjectID,
            detail: ["entry": id, "commitment": commitmentID, "reason": reason])
        return (removed, event)
    }
}
