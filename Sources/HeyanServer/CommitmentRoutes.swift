import HeyanCrypto
import HeyanDomain
import HeyanHTTP

extension ServiceContext {
    /// The commitment side of the store (the embedded store implements it).
    var commitments: (any CommitmentStore)? { store as? any CommitmentStore }

    /// Whether the subject has an active credit-list entry (so a commitment type is verified by
    /// its owner instead). A read failure counts as not listed: the commitment route then
    /// decides inside its transaction.
    func subjectIsCreditListed(_ subjectID: String) -> Bool {
        (try? commitments?.creditEntries(subjectID: subjectID).contains(where: \.isActive)) ?? false
    }
}

/// Notify-and-commit (告知承诺, docs/commitments.md): the template, `POST /v1/commitments` with its
/// receipt and sampling decision, and `GET /v1/commitments/{id}` (long-poll for the spot check).
struct CommitmentRoutes {
    let context: ServiceContext
    init(_ context: ServiceContext) { self.context = context }

    func register(in router: inout Router<HeyanService.Handler>) {
        router.add("GET", "/v1/catalog/{code}/commitment-template") { call in template(call) }
        router.add("POST", "/v1/commitments") { call in submit(call) }
        router.add("GET", "/v1/commitments/{id}") { call in get(call) }
    }

    static let unavailable = Problem.serviceUnavailable(detail: "This store keeps no commitments.")

    // MARK: template

    func template(_ call: ServiceCall) {
        let result = CommitmentTemplateRules.evaluate(
            code: call.parameter("code"), subjectID: call.request.queryValue("subjectId"),
            subjectName: call.request.queryValue("subjectName"), catalog: context.catalog,
            today: context.today(context.now()))
        switch result {
        case .failure(let refusal):
            call.respond(refusal)
        case .success(let filled):
            call.respond(json: 200, APIView.commitmentTemplate(filled, textSHA256: Digest.sha256(Array(filled.text.utf8))))
        }
    }

    // MARK: submit

    func submit(_ call: ServiceCall) {
        guard let store = context.commitments else { return call.fail(Self.unavailable) }
        var idempotency: (key: String, hash: [UInt8])?
        if let key = call.request.headers["Idempotency-Key"] {
            guard (1...200).contains(key.utf8.count), key.utf8.allSatisfy({ $0 >= 0x21 && $0 <= 0x7E }) else {
                return call.fail(.badRequest(detail: "Idempotency-Key must be 1 to 200 visible ASCII characters."))
            }
            let hash = Digest.sha256(call.request.body)
            idempotency = (key, hash)
            do {
                if let previous = try context.store.idempotencyRecord(requester: call.code, key: key) {
                    guard previous.requestHash == hash else { return call.fail(VerificationRoutes.keyReused) }
                    return call.respond(VerificationRoutes.replayed(status: previous.status, body: previous.body))
                }
            } catch {
                return call.fail(error, log: context.log)
            }
        }

        let now = context.now()
        // One catalog for the whole decision: the version recorded is the version that decided.
        let catalog = context.catalogs.active(at: now).catalog
        let draft: CommitmentDraft
        switch CommitmentRules.evaluate(
            body: call.request.body, requester: call.department, catalog: catalog, today: context.today(now),
            now: now)
        {
        case .failure(let refusal): return call.respond(refusal)
        case .success(let value): draft = value
        }
        let type = draft.certificateType
        guard let owner = type.owner else { return call.fail(.internalError()) }

        let commitment: Commitment
        var spotCheck: SpotCheck?
        do {
            // Fast path; the store decides again inside the transaction.
            if let entry = try store.creditEntries(subjectID: draft.subject.id).first(where: \.isActive) {
                return call.respond(Refusal.creditListed(entry))
            }
            let id = context.newIdentifier("com_", now)
            let sample = SpotCheckSampling.decide(
                seed: try store.spotCheckSeed(), commitmentID: id, rate: draft.policy.spotCheckRate,
                hmac: { Digest.hmacSHA256(key: $0, data: $1) })
            if sample.sampled {
                spotCheck = SpotCheck(
                    id: context.newIdentifier(SpotCheck.idPrefix, now), commitmentID: id, owner: owner, createdAt: now,
                    dueAt: SpotCheckSampling.dueAt(createdAt: now, withinDays: draft.policy.spotCheckWithinDays))
            }
            var draftCommitment = Commitment(
                id: id, certificateType: type.code, requester: call.code, owner: owner, matterCode: draft.matterCode,
                purpose: draft.purpose, subject: draft.subject, claims: draft.claims,
                textSHA256: draft.textSHA256 ?? Digest.sha256(Array((draft.text ?? "").utf8)), text: draft.text,
                signedAt: draft.signedAt, signedVia: draft.signedVia, createdAt: now,
                status: sample.sampled ? .underCheck : .committed, sample: sample, spotCheckID: spotCheck?.id,
                spotCheckDueAt: spotCheck?.dueAt,
                receipt: CommitmentReceipt(id: "", jws: "", issuedAt: now, expiresAt: now),
                catalogVersion: catalog.version)
            let receiptID = context.newIdentifier("att_", now)
            let expiresAt = AttestationPayload.expiry(for: type, issuedAt: now)
            let payload = CommitmentReceiptPayload.make(
                commitment: draftCommitment, receiptID: receiptID, issuer: context.issuerURI,
                legalBasis: type.legalBasis, issuedAt: now, expiresAt: expiresAt)
            draftCommitment.receipt = CommitmentReceipt(
                id: receiptID, jws: try context.signer.sign(payload: payload), issuedAt: now, expiresAt: expiresAt)
            context.metrics.countSignature(context.signer.algorithm, .commitmentReceipt)
            commitment = draftCommitment
        } catch {
            return call.fail(error, log: context.log)
        }

        let c = commitment
        func event(_ action: AuditAction, attestation: String? = nil, queueItem: String? = nil, _ detail: [String: String])
            -> AuditEvent
        {
            AuditEvent(
                action: action, actor: call.code, requester: call.code, owner: owner, certificateType: type.code,
                subjectID: c.subject.id, attestationID: attestation, queueItemID: queueItem,
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
        let body = APIView.commitment(c, now: now).jsonBytes()
        let new = NewCommitment(
            commitment: c, spotCheck: spotCheck,
            idempotency: idempotency.map {
                IdempotencyRecord(requester: call.code, key: $0.key, requestHash: $0.hash, status: 201, body: body, createdAt: now)
            },
            audit: audit)
        let log = context.log
        let metrics = context.metrics
        store.submitCommitment(new) { result in
            switch result {
            case .success(.stored):
                metrics.countVerification(
                    certificateType: c.certificateType, method: .commitment, outcome: c.status.rawValue)
                var response = HTTPResponse.json(201, body)
                response.headers.add("Location", "/v1/commitments/\(c.id)")
                call.respond(response)
            case .success(.replayed(let status, let body)):
                call.respond(VerificationRoutes.replayed(status: status, body: body))
            case .success(.keyReused):
                call.fail(VerificationRoutes.keyReused)
            case .success(.creditListed(let entry)):
                call.respond(Refusal.creditListed(entry))
            case .failure(let error):
                call.fail(error, log: log)
            }
        }
    }

    // MARK: get (with long-poll)

    func get(_ call: ServiceCall) {
        guard context.commitments != nil else { return call.fail(Self.unavailable) }
        guard let wait = context.longPollWait(call) else { return }
        let id = call.parameter("id")
        // Register before reading, so a finding committed in between still wakes us.
        let waiter = wait > 0 ? context.waiters.wait(for: .commitment(id: id), seconds: Double(wait)) { _ in
            answer(call, id: id, waiter: nil)
        } : nil
        answer(call, id: id, waiter: waiter)
    }

    /// Answers with the commitment, unless its spot check is still open and `waiter` will answer
    /// when it changes or times out.
    private func answer(_ call: ServiceCall, id: String, waiter: ChangeWaiters.Waiter?) {
        let respond: (() -> Void) -> Void = { send in
            if let waiter, !context.waiters.cancel(waiter) { return }
            send()
        }
        do {
            guard let commitment = try context.commitments?.commitment(id: id),
                commitment.requester == call.code || commitment.owner == call.code
            else {
                return respond { call.fail(.notFound(detail: "No commitment '\(id)' for \(call.code).")) }
            }
            if commitment.status == .underCheck && waiter != nil { return }
            respond { call.respond(json: 200, APIView.commitment(commitment, now: context.now())) }
        } catch {
            respond { call.fail(error, log: context.log) }
        }
    }
}
