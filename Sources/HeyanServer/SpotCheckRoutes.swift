import HeyanDomain
import HeyanHTTP

/// Spot checks (事后核查) in the owner's queue: leased with the verification items by
/// `GET /v1/queue`, answered through `POST /v1/queue/{id}/answer` when the ID is a spot check's
/// (``OwnerQueueEntry``). docs/commitments.md.
struct SpotCheckRoutes {
    let context: ServiceContext
    init(_ context: ServiceContext) { self.context = context }

    /// Leases verification items first (oldest due first), then fills the rest of `limit` with
    /// spot checks (oldest due first); the `items` of `GET /v1/queue`.
    static func leaseOwnerQueue(
        _ context: ServiceContext, owner: String, clerk: String?, limit: Int, duration: Millis, now: Millis,
        completion: @escaping @Sendable (Result<[JSONValue], any Error>) -> Void
    ) {
        context.store.lease(owner: owner, clerk: clerk, limit: limit, duration: duration, now: now) { result in
            switch result {
            case .failure(let error):
                completion(.failure(error))
            case .success(let items):
                let views = items.map(APIView.queueItem)
                guard views.count < limit else { return completion(.success(views)) }
                context.store.leaseSpotChecks(
                    owner: owner, clerk: clerk, limit: limit - views.count, duration: duration, now: now
                ) { checks in
                    // Items leased above stay leased: report them even if this part failed.
                    let more = (try? checks.get()) ?? []
                    if case .failure(let error) = checks, views.isEmpty { return completion(.failure(error)) }
                    completion(.success(views + more.map { APIView.spotCheckItem($0, now: now) }))
                }
            }
        }
    }

    /// Answers a spot check of the caller's queue: a false finding revokes the receipt and lists
    /// the subject (``SpotCheckRules``, applied by the store in the answer's transaction).
    func answer(_ call: ServiceCall, spotCheckID itemID: String) throws -> Reply {
        let store = context.store
        let notFound = QueueRoutes.notFound(itemID, call)
        guard let item = try store.spotCheck(id: itemID), item.owner == call.code else { throw notFound }
        let body = try SpotCheckAnswerRules.evaluate(body: call.request.body).get()
        let now = context.now()
        let answer = SpotCheckAnswer(
            spotCheckID: itemID, owner: call.code, leaseToken: body.leaseToken, outcome: body.outcome, note: body.note,
            evidence: body.evidence, answeredAt: now, creditEntryID: context.newIdentifier(CreditEntry.idPrefix, now),
            clerk: call.clerk)
        return .awaiting({ store.answerSpotCheck(answer, completion: $0) }) { result in
            result.reply { answered in
                switch answered {
                case .answered(let commitment), .repeated(let commitment):
                    return .json(200, APIView.commitment(commitment, now: now))
                case .staleLease:
                    return .problem(.conflict(detail: "The lease token is not the current lease of spot check '\(itemID)' (expired, replaced, or answered differently). Lease it again."))
                case .notFound:
                    return .problem(notFound)
                }
            }
        }
    }
}
