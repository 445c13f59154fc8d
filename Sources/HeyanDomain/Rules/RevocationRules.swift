/// The rules of `POST /v1/attestations/{id}/revoke`: `{"reason"}`, 1–500 characters, not blank,
/// line breaks allowed. Who may revoke (the attestation's issuer or an operator) is the server's
/// to check, since it needs the stored attestation.
public enum RevocationRules {
    public static let maximumReasonCharacters = 500

    /// The reason, as sent.
    public static func evaluate(body: [UInt8]) -> Result<String, Refusal> {
        let root: RequestObject
        switch RequestObject.parse(body) {
        case .success(let object): root = object
        case .failure(let refusal): return .failure(refusal)
        }
        var issues: [ValidationIssue] = []
        root.refuseUnknownFields(known: ["reason"], into: &issues)
        let reason = root.string("reason", into: &issues)
        if let reason {
            TextRules.check(
                reason, at: "reason", maximum: maximumReasonCharacters, allowsLineBreaks: true, into: &issues)
        }
        guard issues.isEmpty, let reason else { return .failure(.validationFailed(issues)) }
        return .success(reason)
    }
}
