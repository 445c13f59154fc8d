import HeyanCrypto
import HeyanDomain
import HeyanHTTP

/// Submitting a commitment (告知承诺, docs/commitments.md), without HTTP: the rules decide, the
/// sampling decides whether a spot check follows, the receipt is signed, and the whole decision —
/// rows, audit entries, response — is one value the store persists.
struct CommitmentService: IdempotentCreation {
    let context: ServiceContext

    /// A commitment decided and ready to store, with the response it is answered with (201).
    struct Plan: Sendable, Equatable {
        var new: NewCommitment
        var body: [UInt8]
    }

    func decideAndStore(
        body: [UInt8], requester: Department, clerk: String?, idempotency: IdempotencyKey?
    ) throws -> Reply {
        submit(try plan(body: body, requester: requester, clerk: clerk, idempotency: idempotency))
    }

    /// Decides the request `body` of `requester` (and of its `clerk`, when named) now. Throws the
    /// rules' ``Refusal`` (also when the subject is on the credit list), or a store or signing error.
    func plan(body: [UInt8], requester: Department, clerk: String?, idempotency: IdempotencyKey?) throws -> Plan {
        let now = context.now()
        let store = context.store
        // One catalog for the whole decision: the version recorded is the version that decided.
        let catalog = context.catalogs.active(at: now).catalog
        let draft = try CommitmentRules.evaluate(
            body: body, requester: requester, catalog: catalog, today: context.today(now), now: now
        ).get()
        let type = draft.certificateType
        guard let owner = type.owner else { throw Problem.internalError() }
        // Fast path; the store decides again inside the transaction.
        if let entry = try store.creditEntries(subjectID: draft.subject.id).first(where: \.isActive) {
            throw Refusal.creditListed(entry)
        }
        let issuer = context.attestationIssuer
        let id = issuer.newIdentifier(Commitment.idPrefix, now)
        let sample = SpotCheckSampling.decide(
            seed: try store.spotCheckSeed(), commitmentID: id, rate: draft.policy.spotCheckRate,
            hmac: { Digest.hmacSHA256(key: $0, data: $1) })
        let spotCheck = sample.sampled
            ? SpotCheck(
                id: issuer.newIdentifier(SpotCheck.idPrefix, now), commitmentID: id, owner: owner, createdAt: now,
                dueAt: SpotCheckSampling.dueAt(createdAt: now, withinDays: draft.policy.spotCheckWithinDays))
            : nil
        var commitment = Commitment(
            id: id, certificateType: type.code, requester: requester.code, owner: owner, matterCode: draft.matterCode,
            purpose: draft.purpose, subject: draft.subject, claims: draft.claims,
            textSHA256: draft.textSHA256 ?? Digest.sha256(Array((draft.text ?? "").utf8)), text: draft.text,
            signedAt: draft.signedAt, signedVia: draft.signedVia, createdAt: now,
            status: sample.sampled ? .underCheck : .committed, sample: sample, spotCheckID: spotCheck?.id,
            spotCheckDueAt: spotCheck?.dueAt,
            receipt: CommitmentReceipt(id: "", jws: "", issuedAt: now, expiresAt: now),
            catalogVersion: catalog.version)
        commitment.receipt = try issuer.receipt(for: commitment, type: type, at: now)
        let body = APIView.commitment(commitment, now: now).jsonBytes()
        let new = NewCommitment(
            commitment: commitment, spotCheck: spotCheck,
            idempotency: idempotency?.record(requester: requester.code, status: 201, body: body, at: now),
            audit: Self.audit(commitment, spotCheck: spotCheck, actor: requester.code, clerk: clerk))
        return Plan(new: new, body: body)
    }

    /// The audit entries of a submitted commitment: the submission with its sampling, the receipt,
    /// and the spot check when one was drawn (docs/audit.md).
    static func audit(_ c: Commitment, spotCheck: SpotCheck?, actor: String, clerk: String?) -> [AuditEvent] {
        func event(_ action: AuditAction, attestation: String? = nil, queueItem: String? = nil, _ detail: [String: String])
            -> AuditEvent
        {
            AuditEvent(
                action: action, actor: actor, requester: actor, owner: c.owner, certificateType: c.certificateType,
                subjectID: c.subject.id, attestationID: attestation, queueItemID: queueItem, clerk: clerk,
                detail: detail.merging(["commitment": c.id]) { a, _ in a })
        }
        var audit = [
            event(
                .commitmentSubmitted,
                [
                    "matterCode": c.matterCode, "purpose": c.purpose, "signedAt": Timestamp.rfc3339(c.signedAt),
                    "signedVia": c.signedVia.rawValue, "textSha256": hex(c.textSHA256), "sampleRule": c.sample.rule,
                    "sampleSeed": c.sample.seed, "sampleValue": c.sample.value,
                    "spotCheckRate": String(c.sample.rate), "sampled": String(c.sample.sampled),
                ]),
            event(.attestationIssued, attestation: c.receipt.id, ["expiresAt": Timestamp.rfc3339(c.receipt.expiresAt)]),
        ]
        if let spotCheck {
            audit.append(event(.spotCheckQueued, queueItem: spotCheck.id, ["dueAt": Timestamp.rfc3339(spotCheck.dueAt)]))
        }
        return audit
    }

    /// Stores `plan` and answers once it is durable (as ``VerificationService/submit(_:)``, plus
    /// the credit-list refusal the store decides inside its transaction).
    func submit(_ plan: Plan) -> Reply {
        let metrics = context.metrics
        let c = plan.new.commitment
        return .awaiting({ [context] in context.store.submitCommitment(plan.new, completion: $0) }) { result in
            result.reply { stored in
                switch stored {
                case .stored:
                    metrics.countVerification(certificateType: c.certificateType, method: .commitment, outcome: c.status.rawValue)
                    return .response(HTTPResponse.created(status: 201, body: plan.body, location: "/v1/commitments/\(c.id)"))
                case .replayed(let status, let body):
                    return .response(IdempotencyKey.replayed(status: status, body: body))
                case .keyReused:
                    return .problem(IdempotencyKey.keyReused)
                case .creditListed(let entry):
                    return .refusal(.creditListed(entry))
                }
            }
        }
    }
}
