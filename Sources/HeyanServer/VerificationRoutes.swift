import HeyanDomain
import HeyanHTTP

/// `POST /v1/verifications` and `GET /v1/verifications/{id}`: requests are validated against the
/// catalog, answered at once from shared data or queued for the owner (``VerificationService``),
/// and stored with their audit entries before the response leaves.
struct VerificationRoutes {
    let context: ServiceContext
    init(_ context: ServiceContext) { self.context = context }

    func register(in router: inout Router<HeyanService.Handler>) {
        let service = VerificationService(context: context)
        router.add("POST", "/v1/verifications") { call in try service.create(call) }
        router.add("GET", "/v1/verifications/{id}") { call in try get(call) }
    }

    /// The verification, for its requester or owner; with `wait=S` while it is pending, when it
    /// is answered or after S seconds.
    func get(_ call: ServiceCall) throws -> Reply {
        let id = call.parameter("id")
        return try context.longPoll(call, on: .verification(id: id)) {
            // Never reveal that an id exists to someone who may not see it.
            guard let verification = try context.store.verification(id: id),
                verification.requester == call.code || verification.owner == call.code
            else { return .final(.problem(.notFound(detail: "No verification '\(id)' for \(call.code)."))) }
            let attestation = try verification.attestationID.flatMap { try context.store.attestation(id: $0) }
            return .current(
                .response(.json(200, APIView.verificationBytes(verification, attestation: attestation))),
                settled: verification.status != .pending)
        }
    }
}
