/// Work in an owner's queue that a worker leases and answers: a verification's ``QueueItem`` or a
/// commitment's ``SpotCheck``. Both move through ``QueueItemState`` by the same rules
/// (``QueueTransitions``).
public protocol LeasableWork: Sendable, Equatable {
    var id: String { get }
    var owner: String { get }
    var state: QueueItemState { get set }
    /// How many times the work was leased.
    var leaseCount: Int { get set }
    var createdAt: Millis { get }
    /// When the owner must have answered.
    var dueAt: Millis { get }
    /// Set once `dueAt` passed while the work was not done.
    var overdue: Bool { get set }
}

extension LeasableWork {
    /// The current lease's token, while leased (expired or not).
    public var leaseToken: String? {
        guard case .leased(let token, _) = state else { return nil }
        return token
    }

    /// When the current lease ends, while leased.
    public var leaseExpiresAt: Millis? {
        guard case .leased(_, let expiresAt) = state else { return nil }
        return expiresAt
    }
}

extension LeasableWork {
    /// What a lease takes from an owner's queue, given its two candidate reads (each at most `limit`,
    /// as the engines read them): the `limit` due first of the pending work and the work whose
    /// lease expired together — by due date, then creation, then ID. Both engines read the two
    /// apart, each from its own index, rather than with one query over both (docs/storage.md,
    /// "Migration 18").
    public static func leaseOrder(pending: [Self], expired: [Self], limit: Int) -> [Self] {
        Array((pending + expired).sorted { ($0.dueAt, $0.createdAt, $0.id) < ($1.dueAt, $1.createdAt, $1.id) }.prefix(limit))
    }
}

/// One step of queued work (leased, overdue): the work in its new state and the audit event that
/// records the step.
public struct QueueStep<Work: LeasableWork>: Sendable, Equatable {
    public var work: Work
    public var audit: AuditEvent

    public init(work: Work, audit: AuditEvent) {
        self.work = work
        self.audit = audit
    }
}

/// How an answer's lease token stands against the state of the work it answers.
public enum AnswerAdmission: Sendable, Equatable {
    /// The token is the current, unexpired lease: the answer may be recorded.
    case current
    /// The work was answered under this very token: a retry, which stands if the answer is the same.
    case answeredBefore
    /// Any other token, an expired lease, or work never leased.
    case stale
}

/// The queue's state transitions, the same for every store engine: a store reads the current row,
/// asks these functions, and writes what they return (docs/storage.md).
public enum QueueTransitions {
    /// Whether a worker may lease work at `now`: it is pending, or its lease ended at or before `now`.
    public static func isLeasable(_ state: QueueItemState, at now: Millis) -> Bool {
        switch state {
        case .pending: true
        case .leased(_, let expiresAt): expiresAt <= now
        case .done: false
        }
    }

    /// `work` leased anew under `token` until `now + duration`, with its lease counted; `nil` when it
    /// cannot be leased at `now` (held by a live lease, or done).
    public static func leasing<Work: LeasableWork>(_ work: Work, token: String, now: Millis, duration: Millis) -> Work? {
        guard isLeasable(work.state, at: now) else { return nil }
        var leased = work
        leased.state = .leased(token: token, expiresAt: now + duration)
        leased.leaseCount += 1
        return leased
    }

    /// The lease-validity rule: may an answer given at `time` under `token` be recorded?
    public static func admit(token: String, at time: Millis, to state: QueueItemState) -> AnswerAdmission {
        switch state {
        case .done(let answeredToken):
            answeredToken == token ? .answeredBefore : .stale
        case .leased(let current, let expiresAt):
            current == token && expiresAt > time ? .current : .stale
        case .pending:
            .stale
        }
    }

    /// `work` marked overdue at `now`: not done, not marked before, and due at or before `now`;
    /// otherwise `nil`.
    public static func markingOverdue<Work: LeasableWork>(_ work: Work, now: Millis) -> Work? {
        guard !work.overdue, work.dueAt <= now else { return nil }
        if case .done = work.state { return nil }
        var marked = work
        marked.overdue = true
        return marked
    }

    /// `queue.leased`'s detail: when the lease ends and how many leases the work has had.
    public static func leaseDetail<Work: LeasableWork>(_ leased: Work) -> [String: String] {
        var detail = ["leaseCount": String(leased.leaseCount)]
        if let expiresAt = leased.leaseExpiresAt { detail["leaseExpiresAt"] = Timestamp.rfc3339(expiresAt) }
        return detail
    }

    // MARK: verification queue items

    /// Leases a verification's queue item (``leasing(_:token:now:duration:)``) and writes the
    /// `queue.leased` event.
    public static func lease(
        _ item: QueueItem, of verification: Verification, token: String, now: Millis, duration: Millis,
        clerk: String? = nil
    ) -> QueueStep<QueueItem>? {
        guard let leased = leasing(item, token: token, now: now, duration: duration) else { return nil }
        return QueueStep(
            work: leased,
            audit: AuditEvent(
                action: .queueLeased, actor: item.owner, requester: verification.requester, owner: item.owner,
                certificateType: verification.certificateType, subjectID: verification.subject.id,
                verificationID: verification.id, queueItemID: item.id, clerk: clerk, detail: leaseDetail(leased)))
    }

    /// Marks a verification's queue item overdue (``markingOverdue(_:now:)``) with its
    /// `queue.overdue` event, written by heyan itself.
    public static func overdue(_ item: QueueItem, of verification: Verification, now: Millis) -> QueueStep<QueueItem>? {
        guard let marked = markingOverdue(item, now: now) else { return nil }
        return QueueStep(
            work: marked,
            audit: AuditEvent(
                action: .queueOverdue, actor: "heyan", requester: verification.requester, owner: item.owner,
                certificateType: verification.certificateType, subjectID: verification.subject.id,
                verificationID: verification.id, queueItemID: item.id,
                detail: ["dueAt": Timestamp.rfc3339(item.dueAt)]))
    }

    /// What an owner's answer to `item` (about `verification`) does.
    ///
    /// Another owner's item is not found. The same answer under the token that answered it is a
    /// retry; a different one, or any answer without the current unexpired lease, is stale.
    /// Otherwise the item is done and the verification answered, and the attestation is still to
    /// be signed (``OwnerAnswerTransition``).
    public static func answer(_ answer: OwnerAnswer, item: QueueItem, verification: Verification) -> OwnerAnswerDecision {
        guard item.owner == answer.owner else { return .notFound }
        switch admit(token: answer.leaseToken, at: answer.answeredAt, to: item.state) {
        case .stale:
            return .staleLease
        case .answeredBefore:
            guard let recorded = verification.answer, recorded.outcome == answer.outcome,
                recorded.note == answer.note, recorded.disclosed == answer.disclosed,
                let attestationID = recorded.attestationID
            else { return .staleLease }
            return .repeated(attestationID: attestationID)
        case .current:
            var done = item
            done.state = .done(answeredToken: answer.leaseToken)
            return .answer(
                OwnerAnswerTransition(
                    item: done,
                    verification: verification.answering(
                        outcome: answer.outcome, disclosed: answer.disclosed, note: answer.note, at: answer.answeredAt),
                    outcome: answer.outcome, answeredBy: answer.owner, clerk: answer.clerk))
        }
    }
}

/// The outcome of ``QueueTransitions/answer(_:item:verification:)``.
public enum OwnerAnswerDecision: Sendable, Equatable {
    /// No such item in the answering owner's queue.
    case notFound
    case staleLease
    /// The same answer was recorded under this token: answer with the stored verification and
    /// the attestation of this ID; write nothing.
    case repeated(attestationID: String)
    /// Record the answer: sign ``OwnerAnswerTransition/verification``, then persist
    /// ``OwnerAnswerTransition/attested(by:)``.
    case answer(OwnerAnswerTransition)
}

/// An owner's answer being recorded: the item done, the verification answered (its attestation not
/// yet signed), and, once the attestation exists, the verification that points to it and the one
/// audit event of the change.
public struct OwnerAnswerTransition: Sendable, Equatable {
    /// The queue item, done under the answering lease.
    public var item: QueueItem
    /// The answered verification without its attestation: what the attestation is signed over.
    public var verification: Verification
    public var outcome: Outcome
    /// The answering owner department.
    public var answeredBy: String
    /// The answering clerk (经办人), when known.
    public var clerk: String?

    public init(item: QueueItem, verification: Verification, outcome: Outcome, answeredBy: String, clerk: String? = nil) {
        self.clerk = clerk
        self.item = item
        self.verification = verification
        self.outcome = outcome
        self.answeredBy = answeredBy
    }

    /// The verification to store, pointing to `attestation`, and its `verification.answered` event.
    public func attested(by attestation: Attestation) -> (verification: Verification, audit: AuditEvent) {
        let answered = verification.attested(by: attestation.id)
        let event = AuditEvent(
            action: .verificationAnswered, actor: answeredBy, requester: answered.requester, owner: answered.owner,
            certificateType: answered.certificateType, subjectID: answered.subject.id, verificationID: answered.id,
            attestationID: attestation.id, queueItemID: item.id, clerk: clerk,
            detail: [
                "outcome": outcome.rawValue, "answeredBy": answeredBy,
                "expiresAt": Timestamp.rfc3339(attestation.expiresAt),
            ])
        return (answered, event)
    }
}

extension QueueStep {
    /// This step with its audit event attributed to `clerk` (unchanged when nil).
    public func by(clerk: String?) -> QueueStep {
        var step = self
        step.audit = audit.by(clerk: clerk)
        return step
    }
}
