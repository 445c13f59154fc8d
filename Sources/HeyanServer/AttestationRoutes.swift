import HeyanDomain
import HeyanHTTP

/// Attestations: fetch, status, and revocation by the issuing owner or the operator.
struct AttestationRoutes {
    let context: ServiceContext
    init(_ context: ServiceContext) { self.context = context }

    func register(in router: inout Router<HeyanService.Handler>) {
        router.add("GET", "/v1/attestations/{id}") { [context] call in
            switch try visible(call) {
            case .attestation(let attestation):
                .response(.json(200, APIView.attestationBytes(attestation, now: context.now())))
            case .receipt(let commitment): .json(200, APIView.receipt(of: commitment, now: context.now()))
            }
        }
        router.add("GET", "/v1/attestations/{id}/status") { [context] call in
            switch try visible(call) {
            case .attestation(let attestation): .json(200, APIView.attestationStatus(attestation, now: context.now()))
            case .receipt(let commitment): .json(200, APIView.receiptStatus(of: commitment, now: context.now()))
            }
        }
        router.add("POST", "/v1/attestations/{id}/revoke") { call in try revoke(call) }
    }

    /// What an attestation ID names: an attestation, or a commitment's receipt (docs/commitments.md).
    enum Visible {
        case attestation(Attestation)
        case receipt(Commitment)
    }

    /// The attestation or receipt if the caller may see it: its requester, its issuing owner, an
    /// auditor or the operator. Anyone else gets 404, as if it did not exist.
    private func visible(_ call: ServiceCall) throws -> Visible {
        let id = call.parameter("id")
        let mayRead = { (requester: String, issuer: String) in
            requester == call.code || issuer == call.code || call.department.has(.auditor)
                || call.department.has(.operator)
        }
        if let attestation = try context.store.attestation(id: id) {
            if mayRead(attestation.requester, attestation.issuer) { return .attestation(attestation) }
        } else if let commitment = try context.store.commitment(receiptID: id), mayRead(commitment.requester, commitment.owner) {
            return .receipt(commitment)
        }
        throw Problem.notFound(detail: "No attestation '\(id)' for \(call.code).")
    }

    /// Revokes an attestation; a receipt is revoked by a false spot-check finding instead (409).
    func revoke(_ call: ServiceCall) throws -> Reply {
        let attestation: Attestation
        switch try visible(call) {
        case .attestation(let visible): attestation = visible
        case .receipt:
            throw Problem.conflict(detail: "'\(call.parameter("id"))' is a commitment receipt: it is revoked by a false-commitment finding on its spot check, not by this route.")
        }
        guard attestation.issuer == call.code || call.department.has(.operator) else {
            throw Problem.forbidden(detail: "Only the issuing department (\(attestation.issuer)) or the operator may revoke this attestation.")
        }
        let reason = try RevocationRules.evaluate(body: call.request.body).get()
        let now = context.now()
        return .awaiting({ [context] in
            context.store.revoke(
                attestationID: attestation.id, actor: call.code, clerk: call.clerk, reason: reason, now: now, completion: $0)
        }) { result in
            result.reply { revoked in
                switch revoked {
                case .revoked(let revoked), .alreadyRevoked(let revoked):
                    return .response(.json(200, APIView.attestationBytes(revoked, now: now)))
                case .notFound:
                    return .problem(.notFound(detail: "No attestation '\(attestation.id)'."))
                }
            }
        }
    }
}
