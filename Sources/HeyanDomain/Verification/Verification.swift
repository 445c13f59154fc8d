/// Whether a verification still waits for its owner: the API's `status` word and the stored
/// `status` column. ``VerificationState`` carries the answer that goes with `answered`.
public enum VerificationStatus: String, Sendable, Codable, CaseIterable {
    case pending, answered
}

/// What an owner answered (or data sharing decided) about a verification. It exists only once the
/// verification is answered, so an outcome without an answer time, or a pending verification with
/// an outcome, cannot be written down.
public struct VerificationAnswer: Sendable, Equatable {
    public var outcome: Outcome
    /// Real values revealed to the requester (only fields its grant allows).
    public var disclosed: ClaimSet
    /// The owner's note with its answer.
    public var note: String?
    public var answeredAt: Millis
    /// The attestation that carries this answer; `nil` only while that attestation is being
    /// signed (``Verification/answering(outcome:disclosed:note:at:)`` → ``Verification/attested(by:)``).
    public var attestationID: String?

    public init(outcome: Outcome, disclosed: ClaimSet, note: String?, answeredAt: Millis, attestationID: String?) {
        self.outcome = outcome
        self.disclosed = disclosed
        self.note = note
        self.answeredAt = answeredAt
        self.attestationID = attestationID
    }
}

/// Where a verification stands: waiting for its owner, or answered with its answer.
public enum VerificationState: Sendable, Equatable {
    case pending
    case answered(VerificationAnswer)

    /// The stored and shown word for this state.
    public var status: VerificationStatus {
        switch self {
        case .pending: .pending
        case .answered: .answered
        }
    }
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
    /// Pending, or answered with its ``VerificationAnswer`` (the service moves it with
    /// ``answering(outcome:disclosed:note:at:)`` and ``attested(by:)``).
    public var state: VerificationState
    public var createdAt: Millis
    /// When the owner must have answered (department verification, or data sharing queued on
    /// fallback).
    public var dueAt: Millis?
    /// The catalog version the request was decided under.
    public var catalogVersion: Int

    public var status: VerificationStatus { state.status }
    /// The answer, once answered.
    public var answer: VerificationAnswer? {
        guard case .answered(let answer) = state else { return nil }
        return answer
    }
    public var outcome: Outcome? { answer?.outcome }
    /// Real values revealed to the requester; empty until answered.
    public var disclosed: ClaimSet { answer?.disclosed ?? [:] }
    public var note: String? { answer?.note }
    public var answeredAt: Millis? { answer?.answeredAt }
    public var attestationID: String? { answer?.attestationID }

    public init(
        id: String, certificateType: String, method: VerificationMethod, requester: String, owner: String,
        matterCode: String, purpose: String, subject: Subject, claims: ClaimSet, state: VerificationState = .pending,
        createdAt: Millis, dueAt: Millis? = nil, catalogVersion: Int
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
        self.state = state
        self.createdAt = createdAt
        self.dueAt = dueAt
        self.catalogVersion = catalogVersion
    }

    /// The transition to answered, the same for data sharing (answered on submission) and for an
    /// owner's answer to its queue item: the answer without its attestation yet, which is signed
    /// over this value and then attached with ``attested(by:)``.
    public func answering(outcome: Outcome, disclosed: ClaimSet, note: String?, at time: Millis) -> Verification {
        var answered = self
        answered.answer(outcome: outcome, disclosed: disclosed, note: note, at: time)
        return answered
    }

    /// ``answering(outcome:disclosed:note:at:)`` in place, without copying the verification.
    public mutating func answer(outcome: Outcome, disclosed: ClaimSet, note: String?, at time: Millis) {
        state = .answered(
            VerificationAnswer(outcome: outcome, disclosed: disclosed, note: note, answeredAt: time, attestationID: nil))
    }

    /// This answered verification with the attestation that carries its answer; a pending one is
    /// returned unchanged (an attestation is only ever signed over an answer).
    public func attested(by attestationID: String) -> Verification {
        var attested = self
        attested.attest(by: attestationID)
        return attested
    }

    /// ``attested(by:)`` in place, without copying the verification.
    public mutating func attest(by attestationID: String) {
        guard case .answered(var answer) = state else { return }
        answer.attestationID = attestationID
        state = .answered(answer)
    }
}
