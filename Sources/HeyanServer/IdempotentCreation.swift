import HeyanDomain

/// A service behind a create route with an `Idempotency-Key` (``VerificationService``,
/// ``CommitmentService``): it plans a request into a value, then stores the plan.
protocol IdempotentCreation: Sendable {
    var context: ServiceContext { get }
    /// Decides the request, every audit entry naming `clerk` (when the request names one), stores
    /// the decision and answers once it is durable — later when the decision waits for a read
    /// (a data-sharing record on PostgreSQL). Throws (or answers with) the request's ``Refusal``
    /// or a store or signing error.
    func decideAndStore(
        body: [UInt8], requester: Department, clerk: String?, idempotency: IdempotencyKey?
    ) throws -> Reply
}

extension IdempotentCreation {
    /// The whole handler of a create route: a malformed key is a 400; a key used before answers
    /// as it did (or 409); otherwise the request is planned and stored.
    ///
    /// The earlier use of a key is read as the store reads it for an event loop: at once on SQLite,
    /// later from PostgreSQL's idempotency reader (the decision is then made on the connection's thread).
    func create(_ call: ServiceCall) throws -> Reply {
        guard let key = try IdempotencyKey.parse(call.request) else {
            return try decideAndStore(body: call.request.body, requester: call.department, clerk: call.clerk, idempotency: nil)
        }
        return try .reading(context.store.lookUpIdempotencyRecord(requester: call.code, key: key.key)) { [self] previous in
            if let earlier = key.earlierReply(to: previous) { return earlier }
            return try decideAndStore(body: call.request.body, requester: call.department, clerk: call.clerk, idempotency: key)
        }
    }
}
