import HeyanDomain
import HeyanHTTP

/// Attestations: fetch, status, and revocation by the issuing owner or the operator.
struct AttestationRoutes {
    let context: ServiceContext
    init(_ context: ServiceContext) { self.context = context }

    func register(in router: inout Router<HeyanService.Handler>) {
        router.add("GET", "/v1/attestations/{id}") { call in
            guard let attestation = visible(call) else { return }
            call.respond(json: 200, APIView.attestation(attestation, now: context.now()))
        }
        router.add("GET", "/v1/attestations/{id}/status") { call in
            guard let attestation = visible(call) else { return }
            call.respond(json: 200, APIView.attestationStatus(attestation, now: context.now()))
        }
        router.add("POST", "/v1/attestations/{id}/revoke") { call in revoke(call) }
    }

    /// The attestation if the caller may see it: its requester, its issuing owner, an auditor or
    /// the operator. Anyone else gets 404, as if it did not exist.
    private func visible(_ call: ServiceCall) -> Attestation? {
        let id = call.parameter("id")
        do {
            if let attestation = try context.store.attestation(id: id),
                attestation.requester == call.code || attestation.issuer == call.code
                    || call.department.has(.auditor) || call.department.has(.operator)
            {
                return attestation
            }
            call.fail(.notFound(detail: "No attestation '\(id)' for \(call.code)."))
        } catch {
            call.fail(error, log: context.log)
        }
        return nil
    }

    func revoke(_ call: ServiceCall) {
        guard let attestation = visible(call) else { return }
        guard attestation.issuer == call.code || call.department.has(.operator) else {
            return call.fail(.forbidden(detail: "Only the issuing department (\(attestation.issuer)) or the operator may revoke this attestation."))
        }
        let reason: String
        switch RevocationRules.evaluate(body: call.request.body) {
        case .failure(let refusal): return call.respond(refusal)
        case .success(let value): reason = value
        }
        let now = context.now()
        let log = context.log
        context.store.revoke(attestationID: attestation.id, actor: call.code, reason: reason, now: now) { result in
            switch result {
            case .success(.revoked(let revoked)), .success(.alreadyRevoked(let revoked)):
                call.respond(json: 200, APIView.attestation(revoked, now: now))
            case .success(.notFound):
                call.fail(.notFound(detail: "No attestation '\(attestation.id)'."))
            case .failure(let error):
                call.fail(error, log: log)
            }
        }
    }
}
