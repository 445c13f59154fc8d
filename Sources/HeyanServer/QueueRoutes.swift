import HeyanDomain
import HeyanHTTP
import Synchronization

/// The owner side: `GET /v1/queue` leases items of the caller's own queue (long-polling while it
/// is empty), `POST /v1/queue/{id}/answer` answers one — a verification's queue item here, with
/// its attestation (``AttestationIssuer``), a spot check in ``SpotCheckRoutes``.
struct QueueRoutes {
    let context: ServiceContext
    let spotChecks: SpotCheckRoutes
    init(_ context: ServiceContext) {
        self.context = context
        spotChecks = SpotCheckRoutes(context)
    }

    func register(in router: inout Router<HeyanService.Handler>) {
        router.add("GET", "/v1/queue") { call in try lease(call) }
        router.add("POST", "/v1/queue/{id}/answer") { call in try answer(call) }
    }

    /// 403 for a department without the owner role: it has no queue.
    static func requireOwner(_ call: ServiceCall) throws(Problem) {
        guard call.department.has(.owner) else {
            throw .forbidden(detail: "Department '\(call.code)' has no owner role: it has no queue.")
        }
    }

    static func notFound(_ itemID: String, _ call: ServiceCall) -> Problem {
        .notFound(detail: "No queue item '\(itemID)' in the queue of \(call.code).")
    }

    func lease(_ call: ServiceCall) throws -> Reply {
        try Self.requireOwner(call)
        let limit = try context.queryInteger(call, "limit", default: 10, range: 1...100)
        let seconds = try context.queryInteger(call, "lease", default: 300, range: 1...3600)
        let wait = try context.longPollWait(call)
        return .later(Later { [context] answer in
            QueuePoll(
                owner: call.code, clerk: call.clerk, context: context, limit: limit, duration: Millis(seconds) * 1000,
                deadline: context.clock.monotonicNanoseconds() + UInt64(wait) * 1_000_000_000, answer: answer
            ).attempt()
        })
    }

    func answer(_ call: ServiceCall) throws -> Reply {
        try Self.requireOwner(call)
        switch OwnerQueueEntry(id: call.parameter("id")) {
        case .spotCheck(let id): return try spotChecks.answer(call, spotCheckID: id)
        case .verificationItem(let id): return try answer(call, itemID: id)
        }
    }

    /// Answers a verification's queue item and issues its attestation.
    private func answer(_ call: ServiceCall, itemID: String) throws -> Reply {
        let now = context.now()
        // Another owner's item is "not found", as if it did not exist.
        guard let item = try context.store.queueItem(id: itemID), item.owner == call.code,
            let verification = try context.store.verification(id: item.verificationID)
        else { throw Self.notFound(itemID, call) }
        guard let type = context.catalog[verification.certificateType] else { throw Problem.internalError() }
        let draft = try OwnerAnswerRules.evaluate(body: call.request.body, verification: verification, certificateType: type)
            .get()
        let issuer = context.attestationIssuer
        let metrics = context.metrics
        let answer = draft.answer(queueItemID: itemID, owner: call.code, answeredAt: now, clerk: call.clerk)
        // The attestation is signed here, on the connection's loop, for the answer the rows as read
        // decide; the store's transaction reads them again and takes it when it answers the same
        // verification, and signs in the transaction only when they changed meanwhile (a concurrent
        // answer). A signature is ~300,000 instructions, and the transaction runs on the store's one
        // writer thread (docs/performance.md, "Issue 16").
        let presigned = try Presigned(answer, item: item, verification: verification) { verification in
            try issuer.attest(verification, type: type, at: now)
        }
        return .awaiting({ [context] completion in
            context.store.answer(
                answer,
                issue: { verification in
                    try presigned?.attestation(for: verification) ?? issuer.attest(verification, type: type, at: now)
                }, completion: completion)
        }) { result in
            result.reply { answered in
                switch answered {
                case .answered(let verification, let attestation):
                    metrics.countVerification(
                        certificateType: verification.certificateType, method: verification.method,
                        outcome: verification.outcome?.rawValue ?? "cannot-determine")
                    return .response(.json(200, APIView.verificationBytes(verification, attestation: attestation)))
                case .repeated(let verification, let attestation):
                    return .response(.json(200, APIView.verificationBytes(verification, attestation: attestation)))
                case .staleLease:
                    return .problem(.conflict(detail: "The lease token is not the current lease of queue item '\(itemID)' (expired, replaced, or the item was answered differently). Lease it again."))
                case .notFound:
                    return .problem(Self.notFound(itemID, call))
                }
            }
        }
    }
}

/// An owner's answer's attestation signed before the answer's transaction, for the verification
/// that answer makes of the rows as read outside it.
private struct Presigned: Sendable {
    let verification: Verification
    let attestation: Attestation

    /// Signs with `issue` when the rows as read let the answer through; nil (nothing signed) for a
    /// stale lease or a repeated answer, which the transaction decides without a signature.
    init?(
        _ answer: OwnerAnswer, item: QueueItem, verification: Verification,
        issue: (Verification) throws -> Attestation
    ) throws {
        guard case .answer(let transition) = QueueTransitions.answer(answer, item: item, verification: verification)
        else { return nil }
        self.verification = transition.verification
        attestation = try issue(transition.verification)
    }

    /// The attestation when `answered` is the verification it was signed for, else nil.
    func attestation(for answered: Verification) -> Attestation? {
        answered == verification ? attestation : nil
    }
}

/// One `GET /v1/queue?wait=S`: lease; while nothing is there, wait for the owner's queue to change
/// and lease again, until the deadline. Never two lease attempts at once (so no item is leased
/// without being delivered); it answers once, through `answer` (the first reply wins, ``Later``).
final class QueuePoll: Sendable {
    private struct State {
        var responded = false
        var leasing = false
        var retryWhenDone = false
    }
    private let state = Mutex(State())
    let owner: String
    /// Named in each `queue.leased` entry, when the request names a clerk.
    let clerk: String?
    let context: ServiceContext
    let limit: Int
    let duration: Millis
    let deadline: UInt64
    let answer: Later.Answer

    init(
        owner: String, clerk: String?, context: ServiceContext, limit: Int, duration: Millis, deadline: UInt64,
        answer: @escaping Later.Answer
    ) {
        self.owner = owner
        self.clerk = clerk
        self.context = context
        self.limit = limit
        self.duration = duration
        self.deadline = deadline
        self.answer = answer
    }

    func attempt() {
        let proceed = state.withLock { state -> Bool in
            if state.responded { return false }
            if state.leasing {
                state.retryWhenDone = true
                return false
            }
            state.leasing = true
            return true
        }
        guard proceed else { return }
        let remaining = Double(deadline &- min(deadline, context.clock.monotonicNanoseconds())) / 1e9
        // Registered before leasing, so an item queued while we lease still wakes us.
        let waiter = remaining > 0 ? context.waiters.wait(for: .queue(owner: owner), seconds: remaining) { [self] timedOut in
            if timedOut { respond { .json(200, .object([("items", .array([]))])) } } else { attempt() }
        } : nil
        SpotCheckRoutes.leaseOwnerQueue(
            context, owner: owner, clerk: clerk, limit: limit, duration: duration, now: context.now()
        ) {
            [self] result in
            let retry = state.withLock { state -> Bool in
                state.leasing = false
                defer { state.retryWhenDone = false }
                return state.retryWhenDone
            }
            switch result {
            case .success(let leased) where !leased.isEmpty || waiter == nil:
                if let waiter { _ = context.waiters.cancel(waiter) }
                respond { .response(.json(200, leased.body)) }
            case .success:
                if retry { attempt() }  // the queue changed while we leased
            case .failure(let error):
                if let waiter { _ = context.waiters.cancel(waiter) }
                respond { .failure(error) }
            }
        }
    }

    private func respond(_ make: @escaping @Sendable () -> Reply) {
        let first = state.withLock { state -> Bool in
            defer { state.responded = true }
            return !state.responded
        }
        if first { answer(make) }
    }
}
