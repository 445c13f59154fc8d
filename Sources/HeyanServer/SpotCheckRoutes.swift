import HeyanDomain
import HeyanHTTP

/// Spot checks (事后核查) in the owner's queue: leased with the verification items by
/// `GET /v1/queue`, answered through `POST /v1/queue/{id}/answer` when the ID is a spot check's
/// (``SpotCheck/idPrefix``). docs/commitments.md.
struct SpotCheckRoutes {
    let context: ServiceContext
    init(_ context: ServiceContext) { self.context = context }

    /// Leases verification items first (oldest due first), then fills the rest of `limit` with
    /// spot checks (oldest due first); the `items` of `GET /v1/queue`.
    static func leaseOwnerQueue(
        _ context: ServiceContext, owner: String, limit: Int, duration: Millis, now: Millis,
        completion: @escaping @Sendable (Result<[JSONValue], any Error>) -> Void
    ) {
        context.store.lease(owner: owner, limit: limit, duration: duration, now: now) { result in
            switch result {
            case .failure(let error):
                completion(.failure(error))
            case .success(let items):
                let views = items.map(APIView.queueItem)
                guard views.count < limit, let store = context.commitments else { return completion(.success(views)) }
                store.leaseSpotChecks(owner: owner, limit: limit - views.count, duration: duration, now: now) { checks in
                    // Items leased above stay leased: report them even if this part failed.
                    let more = (try? checks.get()) ?? []
                    if case .failure(let error) = checks, views.isEmpty { return completion(.failure(error)) }
                    completion(.success(views + more.map { APIView.spotCheckItem($0, now: now) }))
                }
            }
        }
    }

    func answer(_ call: ServiceCall) {
        guard let store = context.commitments else { return call.fail(CommitmentRoutes.unavailable) }
        let itemID = call.parameter("id")
        let notFound = Problem.notFound(detail: "No queue item '\(itemID)' in the queue of \(call.code).")
        do {
            guard let item = try store.spotCheck(id: itemID), item.owner == call.code else { return call.fail(notFound) }
        } catch {
            return call.fail(error, log: context.log)
        }
        let body: (leaseToken: String, outcome: SpotCheckOutcome, note: String?, evidence: String?)
        switch SpotCheckAnswerRules.evaluate(body: call.request.body) {
        case .failure(let refusal): return call.respond(refusal)
        case .success(let value): body = value
        }
        let now = context.now()
        let answer = SpotCheckAnswer(
            spotCheckID: itemID, owner: call.code, leaseToken: body.leaseToken, outcome: body.outcome, note: body.note,
            evidence: body.evidence, answeredAt: now, creditEntryID: context.newIdentifier("crd_", now))
        let context = self.context
        store.answerSpotCheck(answer) { result in
            switch result {
            case .success(.answered(let commitment)), .success(.repeated(let commitment)):
                call.respond(json: 200, APIView.commitment(commitment, now: now))
            case .success(.staleLease):
                call.fail(.conflict(detail: "The lease token is not the current lease of spot check '\(itemID)' (expired, replaced, or answered differently). Lease it again."))
            case .success(.notFound):
                call.fail(notFound)
            case .failure(let error):
                call.fail(error, log: context.log)
            }
        }
    }
}

/// The credit list (信用记录): `GET /v1/credit/{subjectId}` for operator and auditor, and
/// `POST /v1/credit/{subjectId}/entries/{entryId}/remove` for the operator after credit repair.
struct CreditRoutes {
    let context: ServiceContext
    init(_ context: ServiceContext) { self.context = context }

    func register(in router: inout Router<HeyanService.Handler>) {
        router.add("GET", "/v1/credit/{subjectId}") { call in list(call) }
        router.add("POST", "/v1/credit/{subjectId}/entries/{entryId}/remove") { call in remove(call) }
    }

    func list(_ call: ServiceCall) {
        guard call.department.has(.operator) || call.department.has(.auditor) else {
            return call.fail(.forbidden(detail: "Only the operator and auditors read the credit list, not '\(call.code)'."))
        }
        guard let store = context.commitments else { return call.fail(CommitmentRoutes.unavailable) }
        let subjectID = call.parameter("subjectId")
        do {
            let entries = try store.creditEntries(subjectID: subjectID)
            call.respond(
                json: 200,
                .object([
                    ("subjectId", .string(subjectID)),
                    ("listed", .bool(entries.contains(where: \.isActive))),
                    ("entries", .array(entries.map(APIView.creditEntry))),
                ]))
        } catch {
            call.fail(error, log: context.log)
        }
    }

    func remove(_ call: ServiceCall) {
        guard call.department.has(.operator) else {
            return call.fail(.forbidden(detail: "Only the operator removes credit entries, not '\(call.code)'."))
        }
        guard let store = context.commitments else { return call.fail(CommitmentRoutes.unavailable) }
        let reason: String
        switch RevocationRules.evaluate(body: call.request.body) {
        case .failure(let refusal): return call.respond(refusal)
        case .success(let value): reason = value
        }
        let subjectID = call.parameter("subjectId")
        let entryID = call.parameter("entryId")
        let log = context.log
        store.removeCreditEntry(subjectID: subjectID, entryID: entryID, actor: call.code, reason: reason, now: context.now()) {
            result in
            switch result {
            case .success(.removed(let entry)), .success(.alreadyRemoved(let entry)):
                call.respond(json: 200, APIView.creditEntry(entry))
            case .success(.notFound):
                call.fail(.notFound(detail: "No credit entry '\(entryID)' about this subject."))
            case .failure(let error):
                call.fail(error, log: log)
            }
        }
    }
}
