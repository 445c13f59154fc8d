import HeyanDomain
import HeyanHTTP
import Synchronization

/// The owner side: `GET /v1/queue` leases items of the caller's own queue (long-polling while it
/// is empty), `POST /v1/queue/{id}/answer` answers one and issues the attestation.
struct QueueRoutes {
    let context: ServiceContext
    init(_ context: ServiceContext) { self.context = context }

    func register(in router: inout Router<HeyanService.Handler>) {
        router.add("GET", "/v1/queue") { call in lease(call) }
        router.add("POST", "/v1/queue/{id}/answer") { call in answer(call) }
    }

    static func notOwner(_ call: ServiceCall) -> Problem {
        .forbidden(detail: "Department '\(call.code)' has no owner role: it has no queue.")
    }

    // MARK: lease

    func lease(_ call: ServiceCall) {
        guard call.department.has(.owner) else { return call.fail(Self.notOwner(call)) }
        guard let limit = context.queryInteger(call, "limit", default: 10, range: 1...100),
            let seconds = context.queryInteger(call, "lease", default: 300, range: 1...3600),
            let wait = context.longPollWait(call)
        else { return }
        let poll = QueuePoll(
            call: call, context: context, limit: limit, duration: Millis(seconds) * 1000,
            deadline: context.clock.monotonicNanoseconds() + UInt64(wait) * 1_000_000_000)
        poll.attempt()
    }

    // MARK: answer

    func answer(_ call: ServiceCall) {
        guard call.department.has(.owner) else { return call.fail(Self.notOwner(call)) }
        let itemID = call.parameter("id")
        if itemID.hasPrefix(SpotCheck.idPrefix) { return SpotCheckRoutes(context).answer(call) }
        let now = context.now()
        let draft: OwnerAnswerDraft
        let type: CertificateType
        do {
            // Another owner's item is "not found", as if it did not exist.
            guard let item = try context.store.queueItem(id: itemID), item.owner == call.code,
                let verification = try context.store.verification(id: item.verificationID)
            else {
                return call.fail(.notFound(detail: "No queue item '\(itemID)' in the queue of \(call.code)."))
            }
            guard let current = context.catalog[verification.certificateType] else {
                return call.fail(.internalError())
            }
            type = current
            switch OwnerAnswerRules.evaluate(body: call.request.body, verification: verification, certificateType: type) {
            case .failure(let refusal): return call.respond(refusal)
            case .success(let value): draft = value
            }
        } catch {
            return call.fail(error, log: context.log)
        }
        let context = self.context
        let routes = VerificationRoutes(context)
        context.store.answer(
            draft.answer(queueItemID: itemID, owner: call.code, answeredAt: now),
            issue: { verification in try routes.issueAttestation(for: verification, type: type, now: now) }
        ) { result in
            if case .success(.answered(let verification, _)) = result {
                context.metrics.countVerification(
                    certificateType: verification.certificateType, method: verification.method,
                    outcome: verification.outcome?.rawValue ?? "cannot-determine")
            }
            switch result {
            case .success(.answered(let verification, let attestation)), .success(.repeated(let verification, let attestation)):
                call.respond(json: 200, APIView.verification(verification, attestation: attestation))
            case .success(.staleLease):
                call.fail(.conflict(detail: "The lease token is not the current lease of queue item '\(itemID)' (expired, replaced, or the item was answered differently). Lease it again."))
            case .success(.notFound):
                call.fail(.notFound(detail: "No queue item '\(itemID)' in the queue of \(call.code)."))
            case .failure(let error):
                call.fail(error, log: context.log)
            }
        }
    }
}

/// One `GET /v1/queue?wait=S`: lease; while nothing is there, wait for the owner's queue to change
/// and lease again, until the deadline. Exactly one response; never two lease attempts at once (so
/// no item is leased without being delivered).
final class QueuePoll: Sendable {
    private struct State {
        var responded = false
        var leasing = false
        var retryWhenDone = false
    }
    private let state = Mutex(State())
    let call: ServiceCall
    let context: ServiceContext
    let limit: Int
    let duration: Millis
    let deadline: UInt64

    init(call: ServiceCall, context: ServiceContext, limit: Int, duration: Millis, deadline: UInt64) {
        self.call = call
        self.context = context
        self.limit = limit
        self.duration = duration
        self.deadline = deadline
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
        let waiter = remaining > 0 ? context.waiters.wait(for: .queue(owner: call.code), seconds: remaining) { [self] timedOut in
            if timedOut { respond([]) } else { attempt() }
        } : nil
        SpotCheckRoutes.leaseOwnerQueue(context, owner: call.code, limit: limit, duration: duration, now: context.now()) {
            [self] result in
            let retry = state.withLock { state -> Bool in
                state.leasing = false
                defer { state.retryWhenDone = false }
                return state.retryWhenDone
            }
            switch result {
            case .success(let items) where !items.isEmpty || waiter == nil:
                if let waiter { _ = context.waiters.cancel(waiter) }
                respond(items)
            case .success:
                if retry { attempt() }  // the queue changed while we leased
            case .failure(let error):
                if let waiter { _ = context.waiters.cancel(waiter) }
                let first = state.withLock { state -> Bool in
                    defer { state.responded = true }
                    return !state.responded
                }
                if first { call.fail(error, log: context.log) }
            }
        }
    }

    private func respond(_ items: [JSONValue]) {
        let first = state.withLock { state -> Bool in
            defer { state.responded = true }
            return !state.responded
        }
        guard first else { return }
        call.respond(json: 200, .object([("items", .array(items))]))
    }
}
