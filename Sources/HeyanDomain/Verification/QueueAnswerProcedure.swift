/// What an engine provides to carry out an owner's answer inside its own write transaction: reads
/// of the rows involved and one write of what the answer decided. Everything between — the lease
/// rule, the repeated answer, signing, the audit event — is ``QueueTransitions/carryOut(_:issue:in:)``,
/// so a second engine writes SQL and nothing else.
public protocol QueueAnswerTransaction {
    /// The queue item, locked against a concurrent answer where the engine can lock rows.
    func queueItem(id: String) throws -> QueueItem?
    func verification(id: String) throws -> Verification?
    func attestation(id: String) throws -> Attestation?
    /// Stores the answered verification, its attestation, the item's new state and the audit event.
    func persistAnswer(
        _ verification: Verification, attestation: Attestation, item: QueueItem, event: AuditEvent, at time: Millis
    ) throws
}

extension QueueTransitions {
    /// An owner's answer from reading the item to persisting the decision, the same on every engine.
    public static func carryOut(
        _ answer: OwnerAnswer, issue: (Verification) throws -> Attestation, in transaction: some QueueAnswerTransaction
    ) throws -> AnswerResult {
        guard let item = try transaction.queueItem(id: answer.queueItemID) else { return .notFound }
        guard let verification = try transaction.verification(id: item.verificationID) else {
            throw StoreError(kind: .corruptRow, cause: "queue_items \(item.id): verification_id names no verification")
        }
        switch Self.answer(answer, item: item, verification: verification) {
        case .notFound:
            return .notFound
        case .staleLease:
            return .staleLease
        case .repeated(let attestationID):
            guard let attestation = try transaction.attestation(id: attestationID) else {
                throw StoreError(kind: .corruptRow, cause: "verifications \(verification.id): attestation_id names no attestation")
            }
            return .repeated(verification, attestation)
        case .answer(let transition):
            let attestation = try issue(transition.verification)
            let (answered, event) = transition.attested(by: attestation)
            try transaction.persistAnswer(answered, attestation: attestation, item: transition.item, event: event, at: answer.answeredAt)
            return .answered(answered, attestation)
        }
    }
}
