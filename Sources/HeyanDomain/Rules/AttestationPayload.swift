/// The JWS payload of an attestation (电子证明), as design.md defines it.
///
/// The bytes are canonical: compact JSON, keys of every object in byte order, absent values left
/// out, so the same verification always signs the same bytes and a verifier can recompute them.
public enum AttestationPayload {
    /// Lifetime of an attestation when the type sets no `validityDays`.
    public static let defaultValidityDays = 30

    /// `{"certificateType", "claims", "disclosed", "exp", "iat", "iss", "issuer", "jti", "legalBasis",
    /// "matterCode", "method", "nbf", "outcome", "requester", "subject": {"id", "idType", "name"},
    /// "verification"}`.
    ///
    /// - Parameters:
    ///   - verification: an answered verification (with an `outcome`).
    ///   - attestationID: the `jti`.
    ///   - issuer: the `iss` URI of the service, such as `urn:heyan:service`. The payload's
    ///     `issuer` member is the owning department, whose answer it carries.
    ///   - legalBasis: the type's 设定依据.
    ///   - issuedAt: `iat` and `nbf` (NumericDate: whole seconds, rounded down).
    ///   - expiresAt: `exp`, from ``expiry(for:issuedAt:)``.
    public static func make(
        verification: Verification, attestationID: String, issuer: String, legalBasis: String, issuedAt: Millis,
        expiresAt: Millis
    ) -> [UInt8] {
        assert(verification.outcome != nil, "an attestation carries an answer")
        let issuedSeconds = JSONValue.int(numericDate(issuedAt))
        // Already in byte order; the test `payloadKeysAreInByteOrder` keeps it so.
        let payload = JSONValue.object([
            ("certificateType", .string(verification.certificateType)),
            ("claims", verification.claims.canonicalJSON),
            ("disclosed", verification.disclosed.canonicalJSON),
            ("exp", .int(numericDate(expiresAt))),
            ("iat", issuedSeconds),
            ("iss", .string(issuer)),
            ("issuer", .string(verification.owner)),
            ("jti", .string(attestationID)),
            ("legalBasis", .string(legalBasis)),
            ("matterCode", .string(verification.matterCode)),
            ("method", .string(verification.method.rawValue)),
            ("nbf", issuedSeconds),
            ("outcome", verification.outcome.map { .string($0.rawValue) } ?? .null),
            ("requester", .string(verification.requester)),
            (
                "subject",
                .object([
                    ("id", .string(verification.subject.id)),
                    ("idType", .string(verification.subject.idType.rawValue)),
                    ("name", .string(verification.subject.name)),
                ])
            ),
            ("verification", .string(verification.id)),
        ])
        var buffer: [UInt8] = []
        buffer.reserveCapacity(640)
        payload.serialize(into: &buffer)
        return buffer
    }

    /// When an attestation issued at `issuedAt` expires: `validityDays` (default 30) later.
    public static func expiry(for type: CertificateType, issuedAt: Millis) -> Millis {
        issuedAt + Millis(type.validityDays ?? defaultValidityDays) * 86_400_000
    }

    /// RFC 7519 NumericDate: seconds since the epoch, rounded down.
    static func numericDate(_ millis: Millis) -> Int64 {
        millis >= 0 ? millis / 1000 : -((-millis + 999) / 1000)
    }
}
