/// An owner's answer body that passed every rule; ``answer(queueItemID:owner:answeredAt:clerk:)`` makes
/// the ``OwnerAnswer`` the store takes.
public struct OwnerAnswerDraft: Sendable, Equatable {
    public var leaseToken: String
    public var outcome: Outcome
    public var note: String?
    /// Checked against the requester's grant, the stated claims and the claim schema.
    public var disclosed: ClaimSet

    public init(leaseToken: String, outcome: Outcome, note: String?, disclosed: ClaimSet) {
        self.leaseToken = leaseToken
        self.outcome = outcome
        self.note = note
        self.disclosed = disclosed
    }

    public func answer(queueItemID: String, owner: String, answeredAt: Millis, clerk: String? = nil) -> OwnerAnswer {
        OwnerAnswer(
            queueItemID: queueItemID, owner: owner, leaseToken: leaseToken, outcome: outcome, note: note,
            disclosed: disclosed, answeredAt: answeredAt, clerk: clerk)
    }
}

/// The rules of `POST /v1/queue/{id}/answer`: `{"leaseToken", "outcome", "note"?, "disclosed"?}`.
///
/// 1. not JSON within the request limits, or not an object → 400 `malformed-request`;
/// 2. wrong shape or values → 422 `validation-failed`, all of them:
///    - `leaseToken` a non-empty string of at most 256 characters;
///    - `outcome` one of `confirmed`, `denied`, `cannot-determine`;
///    - `note` at most 500 characters, line breaks allowed;
///    - `disclosed` an object; each field a claim the requester **stated**, listed in its grant's
///      `disclose`, with a value valid for the claim schema (`disclosed.X`); nothing may be
///      disclosed with `cannot-determine`.
///
/// Whether the lease is current (409) and the item exists in this owner's queue (404) is the
/// store's to say.
public enum OwnerAnswerRules {
    static let fieldNames = ["leaseToken", "outcome", "note", "disclosed"]
    public static let maximumNoteCharacters = 500
    public static let maximumLeaseTokenCharacters = 256

    /// - Parameters:
    ///   - verification: the verification the queue item is about (its requester, matter code
    ///     and stated claims).
    ///   - certificateType: its type in the current catalog. When the catalog no longer grants
    ///     the requester this matter, nothing may be disclosed.
    public static func evaluate(body: [UInt8], verification: Verification, certificateType: CertificateType)
        -> Result<OwnerAnswerDraft, Refusal>
    {
        let root: RequestObject
        switch RequestObject.parse(body) {
        case .success(let object): root = object
        case .failure(let refusal): return .failure(refusal)
        }
        var issues: [ValidationIssue] = []
        root.refuseUnknownFields(known: fieldNames, into: &issues)

        let leaseToken = root.string("leaseToken", into: &issues)
        if let leaseToken {
            if leaseToken.isEmpty {
                issues.append(ValidationIssue(path: "leaseToken", message: "must not be empty"))
            } else if leaseToken.unicodeScalars.count > maximumLeaseTokenCharacters {
                issues.append(
                    ValidationIssue(
                        path: "leaseToken", message: "too long: at most \(maximumLeaseTokenCharacters) characters"))
            }
        }

        var outcome: Outcome?
        if let text = root.string("outcome", into: &issues) {
            outcome = Outcome(rawValue: text)
            if outcome == nil {
                let allowed = Outcome.allCases.map { "'\($0.rawValue)'" }.joined(separator: ", ")
                issues.append(
                    ValidationIssue(
                        path: "outcome",
                        message: "unknown value \(JSONSyntaxValue.string(text).foundDescription); expected one of: \(allowed)"
                    ))
            }
        }

        var note: String?
        if root["note"] != nil {
            note = root.string("note", into: &issues)
            if let note {
                TextRules.check(
                    note, at: "note", maximum: maximumNoteCharacters, allowsLineBreaks: true, into: &issues)
            }
        }

        var disclosed: ClaimSet = [:]
        if let object = root.object("disclosed", required: false, into: &issues) {
            let grant = certificateType.grant(for: verification.requester, matterCode: verification.matterCode)
            for (name, json) in object.fields {
                let path = object.pathOf(name)
                guard let schema = certificateType.claims[name] else {
                    issues.append(ClaimRules.unknownClaim(name, of: certificateType, at: path))
                    continue
                }
                guard verification.claims[name] != nil else {
                    issues.append(
                        ValidationIssue(
                            path: path,
                            message: "the requester did not state this claim; only stated claims may be disclosed"))
                    continue
                }
                guard let grant, grant.disclose.contains(name) else {
                    issues.append(
                        ValidationIssue(
                            path: path,
                            message:
                                "the catalog does not let '\(verification.requester)' see '\(name)' for matter '\(verification.matterCode)'"
                        ))
                    continue
                }
                if let value = ClaimRules.value(json, schema: schema, at: path, into: &issues) {
                    disclosed[name] = value
                }
            }
            if outcome == .cannotDetermine && !object.fields.isEmpty {
                issues.append(
                    ValidationIssue(path: "disclosed", message: "must be empty when the outcome is 'cannot-determine'"))
            }
        }

        guard issues.isEmpty, let leaseToken, let outcome else { return .failure(.validationFailed(issues)) }
        return .success(OwnerAnswerDraft(leaseToken: leaseToken, outcome: outcome, note: note, disclosed: disclosed))
    }
}
