import HeyanDomain
import HeyanHTTP

/// Attestations: fetch, status, and revocation by the issuing owner or the operator.
struct AttestationRoutes {
    let context: ServiceContext
    init(_ context: ServiceContext) { self.context = context }

    func register(in router: inout Router<HeyanService.Handler>) {
        router.add("GET", "/v1/attestations/{id}") { call in
            guard let attestation = visible(call, receipt: { APIView.receipt(of: $0, now: context.now()) }) else { return }
            call.respond(json: 200, APIView.attestation(attestation, now: context.now()))
        }
        router.add("GET", "/v1/attestations/{id}/status") { call in
            guard let attestation = visible(call, receipt: { APIView.receiptStatus(of: $0, now: context.now()) }) else {
                return
            }
            call.respond(json: 200, APIView.attestationStatus(attestation, now: context.now()))
        }
        router.add("POST", "/v1/attestations/{id}/revoke") { call in revoke(call) }
    }

    /// The attestation if the caller may see it: its requester, its issuing owner, an auditor or
    /// the operator. Anyone else gets 404, as if it did not exist.
    ///
    /// A commitment receipt (docs/commitments.md) is answered here with `receipt`'s view; without
    /// one (revocation) it is a 409: a receipt is revoked by a false spot-check finding.
    private func visible(_ call: ServiceCall, receipt: ((Commitment) -> JSONValue)? = nil) -> Attestation? {
        let id = call.parameter("id")
        let mayRead = { (requester: String, issuer: String) in
            requester == call.code || issuer == call.code || call.department.has(.auditor)
                || call.department.has(.operator)
        }
        do {
            if let attestation = try context.store.attestation(id: id) {
                if mayRead(attestation.requester, attestation.issuer) { return attestation }
            } else if let commitment = try context.commitments?.commitment(receiptID: id),
                mayRead(commitment.requester, commitment.owner)
            {
                guard let receipt else {
                    call.fail(.conflict(detail: "'\(id)' is a commitment receipt: it is revoked by a false-commitment finding on its spot check, not by this route."))
                    return nil
                }
                call.respond(json: 200, receipt(commitment))
                return nil
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
