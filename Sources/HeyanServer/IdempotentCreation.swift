import HeyanDomain

/// A service behind a create route with an `Idempotency-Key` (``VerificationService``,
/// ``CommitmentService``): it plans a request into a value, then stores the plan.
protocol IdempotentCreation: Sendable {
    associatedtype Plan: Sendable
    var context: ServiceContext { get }
    /// Decides the request; throws its ``Refusal`` or a store or signing error.
    func plan(body: [UInt8], requester: Department, idempotency: IdempotencyKey?) throws -> Plan
    /// The plan with every audit entry naming `clerk` (unchanged when nil).
    func attributing(_ plan: Plan, to clerk: String?) -> Plan
    /// Stores the plan and answers once it is durable.
    func submit(_ plan: Plan) -> Reply
}

extension IdempotentCreation {
    /// The whole handler of a create route: a malformed key is a 400; a key used before answers
    /// as it did (or 409); otherwise the request is planned and stored.
    func create(_ call: ServiceCall) throws -> Reply {
        let key = try IdempotencyKey.parse(call.request)
        if let earlier = try key?.earlierReply(requester: call.code, in: context.store) { return earlier }
        return submit(
            attributing(try plan(body: call.request.body, requester: call.department, idempotency: key), to: call.clerk))
    }
}
