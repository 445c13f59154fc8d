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
        let issuedSeconds = numericDate(issuedAt)
        // Written member by member, already in byte order (the test `payloadBytesAreCanonical` keeps it
        // so), without first building a `JSONValue` tree to allocate, walk and release on the event loop
        // (docs/performance.md, issue 16).
        var buffer: [UInt8] = []
        buffer.reserveCapacity(640)
        var object = JSONObjectWriter(into: &buffer)
        object.string("certificateType", verification.certificateType, into: &buffer)
        object.claims("claims", verification.claims, into: &buffer)
        object.claims("disclosed", verification.disclosed, into: &buffer)
        object.int("exp", numericDate(expiresAt), into: &buffer)
        object.int("iat", issuedSeconds, into: &buffer)
        object.string("iss", issuer, into: &buffer)
        object.string("issuer", verification.owner, into: &buffer)
        object.string("jti", attestationID, into: &buffer)
        object.string("legalBasis", legalBasis, into: &buffer)
        object.string("matterCode", verification.matterCode, into: &buffer)
        object.string("method", verification.method.rawValue, into: &buffer)
        object.int("nbf", issuedSeconds, into: &buffer)
        object.value("outcome", verification.outcome.map { .string($0.rawValue) } ?? .null, into: &buffer)
        object.string("requester", verification.requester, into: &buffer)
        object.key("subject", into: &buffer)
        var subject = JSONObjectWriter(into: &buffer)
        subject.string("id", verification.subject.id, into: &buffer)
        subject.string("idType", verification.subject.idType.rawValue, into: &buffer)
        subject.string("name", verification.subject.name, into: &buffer)
        subject.end(into: &buffer)
        object.string("verification", verification.id, into: &buffer)
        object.end(into: &buffer)
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
