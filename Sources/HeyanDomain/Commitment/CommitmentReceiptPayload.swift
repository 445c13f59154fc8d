/// The JWS payload of a commitment receipt: the attestation format of ``AttestationPayload`` with
/// `method: "commitment"`, `outcome: "committed"`, `commitment` (its ID) in place of
/// `verification`, `disclosed: {}`, and what identifies the signed text:
///
/// ```
/// {"certificateType","claims","commitment","commitmentTextSha256","disclosed","exp","iat","iss",
///  "issuer","jti","legalBasis","matterCode","method","nbf","outcome","requester","signedAt",
///  "signedVia","subject":{"id","idType","name"}}
/// ```
///
/// `issuer` is the owning department (who checks a sample), `signedAt` a NumericDate. A receipt
/// says the applicant committed, not that the fact is true; a false finding revokes it.
public enum CommitmentReceiptPayload {
    public static func make(commitment c: Commitment, receiptID: String, issuer: String, legalBasis: String,
        issuedAt: Millis, expiresAt: Millis) -> [UInt8]
    {
        let issued = JSONValue.int(AttestationPayload.numericDate(issuedAt))
        var members: [(String, JSONValue)] = [
            ("certificateType", .string(c.certificateType)),
            ("claims", c.claims.canonicalJSON),
            ("commitment", .string(c.id)),
            ("commitmentTextSha256", .string(hex(c.textSHA256))),
            ("disclosed", .object([])),
            ("exp", .int(AttestationPayload.numericDate(expiresAt))),
            ("iat", issued),
            ("iss", .string(issuer)),
            ("issuer", .string(c.owner)),
            ("jti", .string(receiptID)),
            ("legalBasis", .string(legalBasis)),
            ("matterCode", .string(c.matterCode)),
            ("method", .string(VerificationMethod.commitment.rawValue)),
            ("nbf", issued),
            ("outcome", .string("committed")),
            ("requester", .string(c.requester)),
            ("signedAt", .int(AttestationPayload.numericDate(c.signedAt))),
            ("signedVia", .string(c.signedVia.rawValue)),
            ("subject", c.subject.jsonSorted),
        ]
        members.sort { $0.0.utf8.lexicographicallyPrecedes($1.0.utf8) }
        return JSONValue.object(members).jsonBytes()
    }
}

extension Subject {
    /// `{"id", "idType", "name"}`, keys in byte order (for signed payloads).
    var jsonSorted: JSONValue {
        .object([("id", .string(id)), ("idType", .string(idType.rawValue)), ("name", .string(name))])
    }
}
