import HeyanDomain
import HeyanHTTP

/// Spot checks (事后核查) in the owner's queue: leased with the verification items by
/// `GET /v1/queue`, answered through `POST /v1/queue/{id}/answer` when the ID is a spot check's
/// (``OwnerQueueEntry``). docs/commitments.md.
struct SpotCheckRoutes {
    let context: ServiceContext
    init(_ context: ServiceContext) { self.context = context }

    /// Leases verification items first (oldest due first), then fills the rest of `limit` with
    /// spot checks (oldest due first); the `items` of `GET /v1/queue`, made into views by the
    /// caller (on the connection's thread: the completion runs on the store's writer).
    static func leaseOwnerQueue(
        _ context: ServiceContext, owner: String, clerk: String?, limit: Int, duration: Millis, now: Millis,
        completion: @escaping @Sendable (Result<LeasedOwnerQueue, any Error>) -> Void
    ) {
        context.store.lease(owner: owner, clerk: clerk, limit: limit, duration: duration, now: now) { result in
            switch result {
            case .failure(let error):
                completion(.failure(error))
            case .success(let items):
                guard items.count < limit else {
                    return completion(.success(LeasedOwnerQueue(items: items, spotChecks: [], now: now)))
                }
                context.store.leaseSpotChecks(
                    owner: owner, clerk: clerk, limit: limit - items.count, duration: duration, now: now
                ) { checks in
                    // Items leased above stay leased: report them even if this part failed.
                    let more = (try? checks.get()) ?? []
                    if case .failure(let error) = checks, items.isEmpty { return completion(.failure(error)) }
                    completion(.success(LeasedOwnerQueue(items: items, spotChecks: more, now: now)))
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

/// What one lease of an owner's queue took: verification items, then spot checks.
struct LeasedOwnerQueue: Sendable {
    let items: [LeasedItem]
    let spotChecks: [LeasedSpotCheck]
    /// When they were leased (a spot check's view shows its time left).
    let now: Millis

    var isEmpty: Bool { items.isEmpty && spotChecks.isEmpty }

    /// The body of `GET /v1/queue`, `{"items": […]}` in lease order: verification items written
    /// member by member, spot checks through their view.
    var body: [UInt8] {
        let start = #"{"items":["#.utf8
        var buffer: [UInt8] = []
        buffer.reserveCapacity(64 + 1_024 * (items.count + spotChecks.count))
        buffer.append(contentsOf: start)
        for leased in items {
            if buffer.count > start.count { buffer.append(UInt8(ascii: ",")) }
            APIView.writeQueueItem(leased, into: &buffer)
        }
        for leased in spotChecks {
            if buffer.count > start.count { buffer.append(UInt8(ascii: ",")) }
            APIView.spotCheckItem(leased, now: now).serialize(into: &buffer)
        }
        buffer.append(contentsOf: "]}".utf8)
        return buffer
    }
}
