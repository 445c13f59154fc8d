import HeyanDomain
import HeyanHTTP

/// Submitting a verification request, without HTTP: the rules decide against the catalog, the
/// request is routed to data sharing (answered and attested at once) or to the owner's queue, and
/// the whole decision — rows, audit entry, response — is one value the store persists.
struct VerificationService: IdempotentCreation {
    let context: ServiceContext

    /// A verification decided and ready to store, with the response it is answered with.
    struct Plan: Sendable, Equatable {
        var new: NewVerification
        /// 201 when answered at once, 202 when queued.
        var status: Int
        var body: [UInt8]
        var location: String
    }

    /// Decides the request `body` of `requester` (and of its `clerk`, when named) and stores the
    /// decision. The rules decide now; a data-sharing type then needs the owner's record, which the
    /// store reads now (SQLite) or later (PostgreSQL's record reader, so that the event loop does
    /// not wait for a round trip): the plan is made and submitted once it is there, on the
    /// connection's thread. Throws (or answers with) the rules' ``Refusal``, or a store or signing
    /// error.
    func decideAndStore(
        body: [UInt8], requester: Department, clerk: String?, idempotency: IdempotencyKey?
    ) throws -> Reply {
        let now = context.now()
        // One catalog for the whole decision: the version recorded is the version that decided.
        let catalog = context.catalogs.active(at: now).catalog
        let draft = try VerificationRequestRules.evaluate(
            body: body, requester: requester, catalog: catalog, today: context.today(now),
            commitmentUnavailable: { [context] id in context.subjectIsCreditListed(id) }
        ).get()
        let decision = Decision(
            service: self, draft: draft, requester: requester.code, clerk: clerk, catalogVersion: catalog.version,
            now: now, idempotency: idempotency)
        let type = draft.certificateType
        // Data sharing answers from the owner's record; without one, the type's `fallback` decides.
        guard type.method == .dataSharing else { return try decision.submit(record: nil) }
        return try .reading(context.store.lookUpRecord(certificateType: type.code, subjectID: draft.subject.id)) {
            try decision.submit(record: $0)
        }
    }

    /// A request the rules accepted, waiting for the owner's record (if its type shares data).
    private struct Decision: Sendable {
        let service: VerificationService
        let draft: VerificationDraft
        let requester: String
        let clerk: String?
        let catalogVersion: Int
        let now: Millis
        let idempotency: IdempotencyKey?

        /// Plans the verification with `record` and stores it.
        func submit(record: SharedRecord?) throws -> Reply {
            let context = service.context
            var plan = try VerificationService.plan(
                draft, requester: requester, clerk: clerk, catalogVersion: catalogVersion, now: now, record: record,
                calendar: context.calendar, issuer: context.attestationIssuer)
            plan.new.idempotency = idempotency?.record(
                requester: requester, status: plan.status, body: plan.body, at: now)
            return service.submit(plan)
        }
    }

    /// The decision from its inputs: the verification, how it is routed, its attestation or queue
    /// item, and its one audit entry (docs/audit.md). Deterministic but for the issuer's IDs and
    /// signature.
    static func plan(
        _ draft: VerificationDraft, requester: String, clerk: String? = nil, catalogVersion: Int, now: Millis,
        record: SharedRecord?, calendar: WorkingCalendar, issuer: AttestationIssuer
    ) throws -> Plan {
        let type = draft.certificateType
        guard let owner = type.owner else { throw Problem.internalError() }
        // A commitment type gets here only when a commitment is not possible: the owner verifies.
        let method: VerificationMethod = type.method == .commitment ? .departmentVerification : type.method
        var verification = Verification(
            id: issuer.newIdentifier(Verification.idPrefix, now), certificateType: type.code, method: method,
            requester: requester, owner: owner, matterCode: draft.matterCode, purpose: draft.purpose,
            subject: draft.subject, claims: draft.claims, createdAt: now, catalogVersion: catalogVersion)
        // One audit entry per state change: the submission, with how it was routed and, when
        // answered at once, the outcome and the attestation (docs/audit.md).
        var submitted = AuditEvent(
            action: .verificationSubmitted, actor: requester, requester: requester, owner: owner,
            certificateType: type.code, subjectID: draft.subject.id, verificationID: verification.id, clerk: clerk,
            detail: ["matterCode": draft.matterCode, "purpose": draft.purpose, "method": method.rawValue])
        var attestation: Attestation?
        var queueItem: QueueItem?
        var dueBeyondCalendar = false
        if type.method == .dataSharing && (record != nil || type.fallback != .queue) {
            let decision = DataSharingDecision.decide(requested: draft.claims, record: record, grant: draft.grant)
            verification.answer(outcome: decision.outcome, disclosed: decision.disclosed, note: nil, at: now)
            let issued = try issuer.attest(verification, type: type, at: now)
            verification.attest(by: issued.id)
            attestation = issued
            submitted.attestationID = issued.id
            submitted.detail["routedTo"] = "data-sharing"
            submitted.detail["outcome"] = decision.outcome.rawValue
            submitted.detail["expiresAt"] = Timestamp.rfc3339(issued.expiresAt)
        } else {
            let dueAt = DueDate.dueAt(for: type, submittedAt: now, calendar: calendar)
            dueBeyondCalendar = DueDate.isBeyondCalendar(dueAt: dueAt, calendar: calendar)
            verification.dueAt = dueAt
            let item = QueueItem(
                id: issuer.newIdentifier(QueueItem.idPrefix, now), kind: .verification, verificationID: verification.id,
                owner: owner, createdAt: now, dueAt: dueAt)
            queueItem = item
            submitted.queueItemID = item.id
            submitted.detail["routedTo"] = "queue"
            submitted.detail["dueAt"] = Timestamp.rfc3339(dueAt)
            if dueBeyondCalendar { submitted.detail["dueBeyondCalendar"] = "true" }
        }
        var new = NewVerification(
            verification: verification, attestation: attestation, queueItem: queueItem, idempotency: nil,
            audit: [submitted])
        new.dueBeyondCalendar = dueBeyondCalendar
        return Plan(
            new: new, status: verification.status == .answered ? 201 : 202,
            body: APIView.verificationBytes(verification, attestation: attestation),
            location: "/v1/verifications/\(verification.id)")
    }

    /// Stores `plan` and answers once it is durable: the planned response, the stored response of
    /// an idempotency key used before, or 409 for a key reused with another body.
    func submit(_ plan: Plan) -> Reply {
        let metrics = context.metrics
        // Each closure captures only what it uses, not the plan: a copy of the verification, its
        // attestation and audit event is a reference-count operation per string field.
        let new = plan.new
        let (status, body, location) = (plan.status, plan.body, plan.location)
        let (certificateType, method) = (new.verification.certificateType, new.verification.method)
        let outcome = new.verification.outcome?.rawValue ?? "queued"
        return .awaiting({ [context] in context.store.submit(new, completion: $0) }) { result in
            result.reply { stored in
                switch stored {
                case .stored:
                    metrics.countVerification(certificateType: certificateType, method: method, outcome: outcome)
                    return .response(HTTPResponse.created(status: status, body: body, location: location))
                case .replayed(let status, let body):
                    return .response(IdempotencyKey.replayed(status: status, body: body))
                case .keyReused:
                    return .problem(IdempotencyKey.keyReused)
                }
            }
        }
    }
}
