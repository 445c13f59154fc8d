/// The transitions of a spot check (事后核查) and the consequences of its finding, the same for
/// every store engine (docs/commitments.md): a store reads the spot check and its commitment, asks
/// these functions, and writes what they return.
public enum SpotCheckRules {
    /// The credit entry's reason, and the receipt's revocation reason after `false-commitment: `,
    /// when the owner gives no note with a false finding.
    public static let defaultFalseCommitmentReason = "虚假承诺：事后核查与承诺内容不符"

    /// Leases a spot check (``QueueTransitions/leasing(_:token:now:duration:)``) and writes the
    /// `queue.leased` event, which names the commitment in its detail.
    public static func lease(
        _ item: SpotCheck, of commitment: Commitment, token: String, now: Millis, duration: Millis
    ) -> QueueStep<SpotCheck>? {
        guard let leased = QueueTransitions.leasing(item, token: token, now: now, duration: duration) else { return nil }
        var detail = QueueTransitions.leaseDetail(leased)
        detail["commitment"] = commitment.id
        return QueueStep(
            work: leased,
            audit: AuditEvent(
                action: .queueLeased, actor: item.owner, requester: commitment.requester, owner: item.owner,
                certificateType: commitment.certificateType, subjectID: commitment.subject.id, queueItemID: item.id,
                detail: detail))
    }

    /// Marks a spot check overdue (``QueueTransitions/markingOverdue(_:now:)``) with its
    /// `queue.overdue` event, which names the commitment in its detail.
    public static func overdue(_ item: SpotCheck, of commitment: Commitment, now: Millis) -> QueueStep<SpotCheck>? {
        guard let marked = QueueTransitions.markingOverdue(item, now: now) else { return nil }
        return QueueStep(
            work: marked,
            audit: AuditEvent(
                action: .queueOverdue, actor: "heyan", requester: commitment.requester, owner: item.owner,
                certificateType: commitment.certificateType, subjectID: commitment.subject.id, queueItemID: item.id,
                detail: ["commitment": commitment.id, "dueAt": Timestamp.rfc3339(item.dueAt)]))
    }

    /// What an owner's finding on `item` (about `commitment`) does.
    ///
    /// Another owner's spot check is not found. The same finding under the token that recorded it
    /// is a retry; a different one, or any finding without the current unexpired lease, is stale.
    /// Otherwise the finding is recorded: `consistent` closes the commitment; `false-commitment`
    /// also revokes its receipt and puts the subject on the credit list (``SpotCheckFindingRecord``).
    public static func answer(_ answer: SpotCheckAnswer, item: SpotCheck, commitment: Commitment) -> SpotCheckAnswerDecision {
        guard item.owner == answer.owner else { return .notFound }
        switch QueueTransitions.admit(token: answer.leaseToken, at: answer.answeredAt, to: item.state) {
        case .stale:
            return .staleLease
        case .answeredBefore:
            guard let finding = commitment.finding, finding.outcome == answer.outcome, finding.note == answer.note,
                finding.evidence == answer.evidence
            else { return .staleLease }
            return .repeated(commitment)
        case .current:
            return .record(record(answer, item: item, commitment: commitment))
        }
    }

    /// The finding recorded: the spot check done, the commitment with its finding and
    /// consequences, the credit entry of a false one, and the audit events in order
    /// (`spot-check.answered`, then for a false finding `attestation.revoked` and `credit.listed`).
    static func record(_ answer: SpotCheckAnswer, item: SpotCheck, commitment: Commitment) -> SpotCheckFindingRecord {
        let at = answer.answeredAt
        var done = item
        done.state = .done(answeredToken: answer.leaseToken)
        var checked = commitment
        checked.finding = SpotCheckFinding(
            outcome: answer.outcome, note: answer.note, evidence: answer.evidence, checkedBy: answer.owner, checkedAt: at)
        func event(_ action: AuditAction, attestation: String? = nil, _ detail: [String: String]) -> AuditEvent {
            AuditEvent(
                action: action, actor: answer.owner, requester: commitment.requester, owner: commitment.owner,
                certificateType: commitment.certificateType, subjectID: commitment.subject.id,
                attestationID: attestation, queueItemID: item.id, clerk: answer.clerk,
                detail: detail.merging(["commitment": commitment.id]) { own, _ in own })
        }
        var detail = ["outcome": answer.outcome.rawValue]
        if let note = answer.note { detail["note"] = note }
        if let evidence = answer.evidence { detail["evidence"] = evidence }
        var events = [event(.spotCheckAnswered, detail)]
        var creditEntry: CreditEntry?
        switch answer.outcome {
        case .consistent:
            checked.status = .consistent
        case .falseCommitment:
            checked.status = .falseCommitment
            let reason = answer.note ?? defaultFalseCommitmentReason
            let revocationReason = "false-commitment: " + reason
            checked.receipt.revokedAt = at
            checked.receipt.revocationReason = revocationReason
            checked.receipt.revokedBy = answer.owner
            checked.creditEntryID = answer.creditEntryID
            creditEntry = CreditEntry(
                id: answer.creditEntryID, subjectIDType: commitment.subject.idType, subjectID: commitment.subject.id,
                certificateType: commitment.certificateType, commitmentID: commitment.id, reason: reason,
                evidence: answer.evidence, recordedBy: answer.owner, recordedAt: at)
            events.append(event(.attestationRevoked, attestation: commitment.receipt.id, ["reason": revocationReason]))
            var listed = ["entry": answer.creditEntryID, "reason": reason]
            if let evidence = answer.evidence { listed["evidence"] = evidence }
            events.append(event(.creditListed, listed))
        }
        return SpotCheckFindingRecord(spotCheck: done, commitment: checked, creditEntry: creditEntry, audit: events)
    }
}

/// The outcome of ``SpotCheckRules/answer(_:item:commitment:)``.
public enum SpotCheckAnswerDecision: Sendable, Equatable {
    /// No such spot check in the answering owner's queue.
    case notFound
    case staleLease
    /// The same finding was recorded under this token: answer with the stored commitment; write nothing.
    case repeated(Commitment)
    /// Write the record, all in one transaction.
    case record(SpotCheckFindingRecord)
}

/// What a recorded finding writes: the spot check (done), the commitment (status, finding, and for
/// a false one the revoked receipt and the credit entry's ID), the credit entry of a false finding,
/// and the audit events, all at the finding's time.
public struct SpotCheckFindingRecord: Sendable, Equatable {
    public var spotCheck: SpotCheck
    public var commitment: Commitment
    public var creditEntry: CreditEntry?
    public var audit: [AuditEvent]

    public init(spotCheck: SpotCheck, commitment: Commitment, creditEntry: CreditEntry?, audit: [AuditEvent]) {
        self.spotCheck = spotCheck
        self.commitment = commitment
        self.creditEntry = creditEntry
        self.audit = audit
    }
}
