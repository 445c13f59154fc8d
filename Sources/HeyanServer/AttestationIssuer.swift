import HeyanCrypto
import HeyanDomain

/// Issues heyan's signed statements: the attestation of an answered verification and the receipt
/// of a commitment. Owns their ID, expiry, payload and signature, and counts each signature.
struct AttestationIssuer: Sendable {
    /// The JWS `iss`.
    let issuerURI: String
    /// The attestation signer in use (replaced whole by a key reload; taken once per issuer).
    let signer: JWSSigner
    let metrics: ServiceMetrics
    /// A new identifier with a prefix, for `now`.
    let newIdentifier: @Sendable (_ prefix: String, _ now: Millis) -> String

    /// Signs the attestation of `verification`, answered at `now`.
    func attest(_ verification: Verification, type: CertificateType, at now: Millis) throws -> Attestation {
        let id = newIdentifier(Attestation.idPrefix, now)
        let expiresAt = AttestationPayload.expiry(for: type, issuedAt: now)
        let payload = AttestationPayload.make(
            verification: verification, attestationID: id, issuer: issuerURI, legalBasis: type.legalBasis,
            issuedAt: now, expiresAt: expiresAt)
        let jws = try signer.sign(payload: payload)
        metrics.countSignature(signer.algorithm, .attestation)
        return Attestation(
            id: id, verificationID: verification.id, issuer: verification.owner, requester: verification.requester,
            certificateType: verification.certificateType, subjectID: verification.subject.id,
            outcome: verification.outcome ?? .cannotDetermine, jws: jws, issuedAt: now, expiresAt: expiresAt)
    }

    /// Signs the receipt of `commitment` (whose own receipt is not yet filled in), issued at `now`.
    func receipt(for commitment: Commitment, type: CertificateType, at now: Millis) throws -> CommitmentReceipt {
        let id = newIdentifier(Attestation.idPrefix, now)
        let expiresAt = AttestationPayload.expiry(for: type, issuedAt: now)
        let payload = CommitmentReceiptPayload.make(
            commitment: commitment, receiptID: id, issuer: issuerURI, legalBasis: type.legalBasis, issuedAt: now,
            expiresAt: expiresAt)
        let receipt = CommitmentReceipt(id: id, jws: try signer.sign(payload: payload), issuedAt: now, expiresAt: expiresAt)
        metrics.countSignature(signer.algorithm, .commitmentReceipt)
        return receipt
    }
}

extension ServiceContext {
    /// The issuer with the signing key in use now.
    var attestationIssuer: AttestationIssuer {
        AttestationIssuer(issuerURI: issuerURI, signer: signer, metrics: metrics) { [self] prefix, now in
            newIdentifier(prefix, now)
        }
    }
}
