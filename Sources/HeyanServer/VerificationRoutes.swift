import HeyanCrypto
import HeyanDomain
import HeyanHTTP

/// `POST /v1/verifications` and `GET /v1/verifications/{id}`: requests are validated against the
/// catalog, answered at once from shared data or queued for the owner, and stored with their audit
/// entries before the response leaves.
struct VerificationRoutes {
    let context: ServiceContext
    init(_ context: ServiceContext) { self.context = context }

    func register(in router: inout Router<HeyanService.Handler>) {
        router.add("POST", "/v1/verifications") { call in submit(call) }
        router.add("GET", "/v1/verifications/{id}") { call in get(call) }
    }

    // MARK: submit

    func submit(_ call: ServiceCall) {
        let store = context.store
        var idempotency: (key: String, hash: [UInt8])?
        if let key = call.request.headers["Idempotency-Key"] {
            guard (1...200).contains(key.utf8.count), key.utf8.allSatisfy({ $0 >= 0x21 && $0 <= 0x7E }) else {
                return call.fail(.badRequest(detail: "Idempotency-Key must be 1 to 200 visible ASCII characters."))
            }
            let hash = Digest.sha256(call.request.body)
            idempotency = (key, hash)
            do {
                if let previous = try store.idempotencyRecord(requester: call.code, key: key) {
                    return replay(previous, hash: hash, call)
                }
            } catch {
                return call.fail(error, log: context.log)
            }
        }

        let now = context.now()
        // One catalog for the whole decision: the version recorded is the version that decided.
        let catalog = context.catalogs.active(at: now).catalog
        let draft: VerificationDraft
        switch VerificationRequestRules.evaluate(
            body: call.request.body, requester: call.department, catalog: catalog, today: context.today(now),
            commitmentUnavailable: { [context] id in context.subjectIsCreditListed(id) })
        {
        case .failure(let refusal):
            return call.respond(refusal)
        case .success(let value):
            draft = value
        }
        let type = draft.certificateType
        guard let owner = type.owner else { return call.fail(.internalError()) }
        // A commitment type gets here only when a commitment is not possible: the owner verifies.
        let method: VerificationMethod = type.method == .commitment ? .departmentVerification : type.method
        var verification = Verification(
            id: context.newIdentifier("ver_", now), certificateType: type.code, method: method,
            requester: call.code, owner: owner, matterCode: draft.matterCode, purpose: draft.purpose,
            subject: draft.subject, claims: draft.claims, createdAt: now,
            catalogVersion: catalog.version)
        // One audit entry per state change: the submission, with how it was routed and, when
        // answered at once, the outcome and the attestation (docs/audit.md).
        var submitted = AuditEvent(
            action: .verificationSubmitted, actor: call.code, requester: call.code, owner: owner,
            certificateType: type.code, subjectID: draft.subject.id, verificationID: verification.id,
            detail: ["matterCode": draft.matterCode, "purpose": draft.purpose, "method": method.rawValue])
        var attestation: Attestation?
        var queueItem: QueueItem?
        var dueBeyondCalendar = false

        // Data sharing answers from the owner's record; without one, `fallback` decides.
        var record: SharedRecord?
        if type.method == .dataSharing {
            do {
                record = try store.record(certificateType: type.code, subjectID: draft.subject.id)
            } catch {
                return call.fail(error, log: context.log)
            }
        }
        if type.method == .dataSharing && (record != nil || type.fallback != .queue) {
            let decision = DataSharingDecision.decide(requested: draft.claims, record: record, grant: draft.grant)
            verification = verification.answering(
                outcome: decision.outcome, disclosed: decision.disclosed, note: nil, at: now)
            let issued: Attestation
            do {
                issued = try issueAttestation(for: verification, type: type, now: now)
            } catch {
                return call.fail(error, log: context.log)
            }
            verification = verification.attested(by: issued.id)
            attestation = issued
            submitted.attestationID = issued.id
            submitted.detail["routedTo"] = "data-sharing"
            submitted.detail["outcome"] = decision.outcome.rawValue
            submitted.detail["expiresAt"] = Timestamp.rfc3339(issued.expiresAt)
        } else {
            let calendar = context.calendar
            let dueAt = DueDate.dueAt(for: type, submittedAt: now, calendar: calendar)
            dueBeyondCalendar = DueDate.isBeyondCalendar(dueAt: dueAt, calendar: calendar)
            verification.dueAt = dueAt
            let item = QueueItem(
                id: context.newIdentifier("qi_", now), kind: .verification, verificationID: verification.id,
                owner: owner, createdAt: now, dueAt: dueAt)
            queueItem = item
            submitted.queueItemID = item.id
            submitted.detail["routedTo"] = "queue"
            submitted.detail["dueAt"] = Timestamp.rfc3339(dueAt)
            if dueBeyondCalendar { submitted.detail["dueBeyondCalendar"] = "true" }
        }
        let audit = [submitted]

        let status = verification.status == .answered ? 201 : 202
        let body = APIView.verification(verification, attestation: attestation).jsonBytes()
        var new = NewVerification(
            verification: verification, attestation: attestation, queueItem: queueItem,
            idempotency: idempotency.map {
                IdempotencyRecord(requester: call.code, key: $0.key, requestHash: $0.hash, status: status, body: body, createdAt: now)
            },
            audit: audit)
        new.dueBeyondCalendar = dueBeyondCalendar
        let log = context.log
        let metrics = context.metrics
        let location = "/v1/verifications/\(verification.id)"
        store.submit(new) { [verification] result in
            switch result {
            case .success(.stored):
                metrics.countVerification(
                    certificateType: verification.certificateType, method: verification.method,
                    outcome: verification.outcome?.rawValue ?? "queued")
                var response = HTTPResponse.json(status, body)
                response.headers.add("Location", location)
                call.respond(response)
            case .success(.replayed(let status, let body)):
                call.respond(Self.replayed(status: status, body: body))
            case .success(.keyReused):
                call.fail(Self.keyReused)
            case .failure(let error):
                call.fail(error, log: log)
            }
        }
    }

    static let keyReused = Problem.conflict(
        detail: "This Idempotency-Key was used before with a different request body.")

    static func replayed(status: Int, body: [UInt8]) -> HTTPResponse {
        var response = HTTPResponse.json(status, body)
        response.headers.add("Idempotent-Replayed", "true")
        return response
    }

    private func replay(_ previous: IdempotencyRecord, hash: [UInt8], _ call: ServiceCall) {
        guard previous.requestHash == hash else { return call.fail(Self.keyReused) }
        call.respond(Self.replayed(status: previous.status, body: previous.body))
    }

    /// Signs the attestation of an answered verification.
    func issueAttestation(for verification: Verification, type: CertificateType, now: Millis) throws -> Attestation {
        let id = context.newIdentifier("att_", now)
        let expiresAt = AttestationPayload.expiry(for: type, issuedAt: now)
        let payload = AttestationPayload.make(
            verification: verification, attestationID: id, issuer: context.issuerURI, legalBasis: type.legalBasis,
            issuedAt: now, expiresAt: expiresAt)
        let jws = try context.signer.sign(payload: payload)
        context.metrics.countSignature(context.signer.algorithm, .attestation)
        return Attestation(
            id: id, verificationID: verification.id, issuer: verification.owner, requester: verification.requester,
            certificateType: verification.certificateType, subjectID: verification.subject.id,
            outcome: verification.outcome ?? .cannotDetermine, jws: jws, issuedAt: now, expiresAt: expiresAt)
    }

    // MARK: get (with long-poll)

    func get(_ call: ServiceCall) {
        guard let wait = context.longPollWait(call) else { return }
        let id = call.parameter("id")
        // Register before reading, so an answer committed in between still wakes us.
        let waiter = wait > 0 ? context.waiters.wait(for: .verification(id: id), seconds: Double(wait)) { _ in
            answer(call, id: id, waiter: nil)
        } : nil
        answer(call, id: id, waiter: waiter)
    }

    /// Answers with the verification, unless it is still pending and `waiter` will answer when it
    /// changes or times out.
    private func answer(_ call: ServiceCall, id: String, waiter: ChangeWaiters.Waiter?) {
        let respond: (() -> Void) -> Void = { send in
            if let waiter, !context.waiters.cancel(waiter) { return }  // the waiter answers instead
            send()
        }
        do {
            guard let verification = try context.store.verification(id: id),
                verification.requester == call.code || verification.owner == call.code
            else {
                // Never reveal that an id exists to someone who may not see it.
                return respond { call.fail(.notFound(detail: "No verification '\(id)' for \(call.code).")) }
            }
            if verification.status == .pending && waiter != nil { return }
            let attestation = try verification.attestationID.flatMap { try context.store.attestation(id: $0) }
            respond { call.respond(json: 200, APIView.verification(verification, attestation: attestation)) }
        } catch {
            respond { call.fail(error, log: context.log) }
        }
    }
}
