/// Everything one accepted `POST /v1/commitments` writes, in one transaction.
public struct NewCommitment: Sendable, Equatable {
    /// With its receipt and sampling decision.
    public var commitment: Commitment
    /// Present when sampled.
    public var spotCheck: SpotCheck?
    public var idempotency: IdempotencyRecord?
    public var audit: [AuditEvent]

    public init(commitment: Commitment, spotCheck: SpotCheck?, idempotency: IdempotencyRecord?, audit: [AuditEvent]) {
        self.commitment = commitment
        self.spotCheck = spotCheck
        self.idempotency = idempotency
        self.audit = audit
    }
}

extension NewCommitment {
    /// Whether this submission is decided without storing it, the same on every engine: by its
    /// idempotency key used `earlier` (a replay with the same request hash, else `keyReused`),
    /// then by an active credit-list entry about the subject (read inside the write transaction,
    /// so a false finding committed a moment ago counts). Nil: store it.
    public func decidedWithoutStoring(earlier: IdempotencyRecord?, activeCreditEntry: CreditEntry?) -> CommitmentSubmitResult? {
        if let idempotency, let earlier {
            guard earlier.requestHash == idempotency.requestHash else { return .keyReused }
            return .replayed(status: earlier.status, body: earlier.body)
        }
        return activeCreditEntry.map(CommitmentSubmitResult.creditListed)
    }
}

public enum CommitmentSubmitResult: Sendable, Equatable {
    case stored
    case replayed(status: Int, body: [UInt8])
    case keyReused
    /// The subject has an active credit-list entry (checked inside the transaction).
    case creditListed(CreditEntry)
}

/// An owner's finding on a leased spot check.
public struct SpotCheckAnswer: Sendable, Equatable {
    public var spotCheckID: String
    public var owner: String
    public var leaseToken: String
    public var outcome: SpotCheckOutcome
    public var note: String?
    public var evidence: String?
    public var answeredAt: Millis
    /// For a false commitment: the new credit entry's ID.
    public var creditEntryID: String

    public init(
        spotCheckID: String, owner: String, leaseToken: String, outcome: SpotCheckOutcome, note: String?,
        evidence: String?, answeredAt: Millis, creditEntryID: String
    ) {
        self.spotCheckID = spotCheckID
        self.owner = owner
        self.leaseToken = leaseToken
        self.outcome = outcome
        self.note = note
        self.evidence = evidence
        self.answeredAt = answeredAt
        self.creditEntryID = creditEntryID
    }
}

public enum SpotCheckAnswerResult: Sendable, Equatable {
    case answered(Commitment)
    /// The same finding with the same lease token was given before.
    case repeated(Commitment)
    case staleLease
    case notFound
}

public enum CreditRemovalResult: Sendable, Equatable {
    case removed(CreditEntry)
    case alreadyRemoved(CreditEntry)
    case notFound
}

/// Where heyan keeps commitments, their spot checks and the credit list (docs/commitments.md).
/// Same contract as ``VerificationStore``: writes complete after the commit that holds the change
/// and its audit entries; reads never wait for the writer.
public protocol CommitmentStore: AnyObject, Sendable {
    /// Stores a commitment (with its spot check when sampled) unless the idempotency key was used
    /// before or the subject is on the credit list.
    func submitCommitment(_ new: NewCommitment, completion: @escaping StoreCompletion<CommitmentSubmitResult>)
    /// Leases up to `limit` of `owner`'s spot checks, oldest due first (as ``VerificationStore/lease``).
    func leaseSpotChecks(
        owner: String, limit: Int, duration: Millis, now: Millis, completion: @escaping StoreCompletion<[LeasedSpotCheck]>)
    /// Records the finding; a false commitment also revokes the receipt and adds a credit entry.
    func answerSpotCheck(_ answer: SpotCheckAnswer, completion: @escaping StoreCompletion<SpotCheckAnswerResult>)
    /// Marks spot checks past their due time as overdue (audited once each as `queue.overdue`);
    /// returns how many were newly marked.
    func markSpotChecksOverdue(now: Millis, completion: @escaping StoreCompletion<Int>)
    /// Ends a credit entry after credit repair.
    func removeCreditEntry(
        subjectID: String, entryID: String, actor: String, reason: String, now: Millis,
        completion: @escaping StoreCompletion<CreditRemovalResult>)

    func commitment(id: String) throws -> Commitment?
    /// The commitment whose receipt has this attestation ID.
    func commitment(receiptID: String) throws -> Commitment?
    func spotCheck(id: String) throws -> SpotCheck?
    /// Every entry about the subject, active or removed, oldest first.
    func creditEntries(subjectID: String) throws -> [CreditEntry]
    /// The installation's sampling key (32 bytes, made by the migration).
    func spotCheckSeed() throws -> [UInt8]
}
