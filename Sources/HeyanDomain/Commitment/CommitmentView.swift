/// Response bodies of the commitment routes, beside ``APIView`` (same conventions: RFC 3339
/// instants, lowercase hex, members that do not apply left out).
extension APIView {
    /// `GET /v1/commitments/{id}` and the 201 of `POST /v1/commitments`:
    /// `{"id", "status", "certificateType", "method", "requester", "owner", "matterCode", "purpose",
    /// "subject", "claims", "commitment": {"textSha256", "signedAt", "signedVia", "text"?},
    /// "createdAt", "receipt": {"id", "jws", "status", "expiresAt", "revokedAt"?, "revocationReason"?},
    /// "spotCheck": {"sampled", "rule", "seed", "value", "rate", "id"?, "dueAt"?, "outcome"?,
    /// "note"?, "evidence"?, "checkedAt"?, "checkedBy"?}, "creditEntry"?, "catalogVersion"}`.
    public static func commitment(_ c: Commitment, now: Millis) -> JSONValue {
        var statement: [(String, JSONValue)] = [
            ("textSha256", .string(hex(c.textSHA256))),
            ("signedAt", time(c.signedAt)),
            ("signedVia", .string(c.signedVia.rawValue)),
        ]
        if let text = c.text { statement.append(("text", .string(text))) }
        var receipt: [(String, JSONValue)] = [
            ("id", .string(c.receipt.id)),
            ("jws", .string(c.receipt.jws)),
            ("status", .string(c.receipt.status(at: now).rawValue)),
            ("expiresAt", time(c.receipt.expiresAt)),
        ]
        appendRevocation(c.receipt, to: &receipt)
        var check: [(String, JSONValue)] = [
            ("sampled", .bool(c.sample.sampled)),
            ("rule", .string(c.sample.rule)),
            ("seed", .string(c.sample.seed)),
            ("value", .string(c.sample.value)),
            ("rate", .number(c.sample.rate)),
        ]
        if let id = c.spotCheckID { check.append(("id", .string(id))) }
        if let dueAt = c.spotCheckDueAt { check.append(("dueAt", time(dueAt))) }
        if let finding = c.finding {
            check.append(("outcome", .string(finding.outcome.rawValue)))
            if let note = finding.note { check.append(("note", .string(note))) }
            if let evidence = finding.evidence { check.append(("evidence", .string(evidence))) }
            check.append(("checkedAt", time(finding.checkedAt)))
            check.append(("checkedBy", .string(finding.checkedBy)))
        }
        var members: [(String, JSONValue)] = [
            ("id", .string(c.id)),
            ("status", .string(c.status.rawValue)),
            ("certificateType", .string(c.certificateType)),
            ("method", .string(VerificationMethod.commitment.rawValue)),
            ("requester", .string(c.requester)),
            ("owner", .string(c.owner)),
            ("matterCode", .string(c.matterCode)),
            ("purpose", .string(c.purpose)),
            ("subject", c.subject.json),
            ("claims", c.claims.canonicalJSON),
            ("commitment", .object(statement)),
            ("createdAt", time(c.createdAt)),
            ("receipt", .object(receipt)),
            ("spotCheck", .object(check)),
        ]
        if let entry = c.creditEntryID { members.append(("creditEntry", .string(entry))) }
        members.append(("catalogVersion", .int(Int64(c.catalogVersion))))
        return .object(members)
    }

    /// One `spot-check` element of `GET /v1/queue`'s `items`: `{"id", "kind": "spot-check",
    /// "commitment": {…}, "leaseToken", "leaseExpiresAt", "dueAt", "overdue", "leaseCount"}`.
    public static func spotCheckItem(_ leased: LeasedSpotCheck, now: Millis) -> JSONValue {
        let item = leased.item
        var members: [(String, JSONValue)] = [
            ("id", .string(item.id)),
            ("kind", .string(QueueItemKind.spotCheck.rawValue)),
            ("commitment", commitment(leased.commitment, now: now)),
        ]
        if let token = item.leaseToken { members.append(("leaseToken", .string(token))) }
        if let expires = item.leaseExpiresAt { members.append(("leaseExpiresAt", time(expires))) }
        members.append(("dueAt", time(item.dueAt)))
        members.append(("overdue", .bool(item.overdue)))
        members.append(("leaseCount", .int(Int64(item.leaseCount))))
        return .object(members)
    }

    /// `{"id", "subject": {"idType", "id"}, "certificateType", "commitment", "reason", "evidence"?,
    /// "recordedBy", "recordedAt", "active", "removedAt"?, "removedBy"?, "removalReason"?}`.
    public static func creditEntry(_ e: CreditEntry) -> JSONValue {
        var members: [(String, JSONValue)] = [
            ("id", .string(e.id)),
            ("subject", .object([("idType", .string(e.subjectIDType.rawValue)), ("id", .string(e.subjectID))])),
            ("certificateType", .string(e.certificateType)),
            ("commitment", .string(e.commitmentID)),
            ("reason", .string(e.reason)),
        ]
        if let evidence = e.evidence { members.append(("evidence", .string(evidence))) }
        members.append(("recordedBy", .string(e.recordedBy)))
        members.append(("recordedAt", time(e.recordedAt)))
        members.append(("active", .bool(e.isActive)))
        if let removedAt = e.removedAt { members.append(("removedAt", time(removedAt))) }
        if let by = e.removedBy { members.append(("removedBy", .string(by))) }
        if let reason = e.removalReason { members.append(("removalReason", .string(reason))) }
        return .object(members)
    }

    /// `GET /v1/catalog/{code}/commitment-template`: `{"certificateType", "name", "owner",
    /// "legalBasis", "spotCheckRate", "spotCheckWithinDays", "template": {"mustProve",
    /// "legalBasis", "obligation", "liability"}, "text", "textSha256", "unfilledPlaceholders"}`.
    public static func commitmentTemplate(_ t: FilledCommitmentTemplate, textSHA256: [UInt8]) -> JSONValue {
        let type = t.certificateType
        var name: [(String, JSONValue)] = [("zh", .string(type.name.zh))]
        name.append(("en", .string(type.name.en)))
        return .object([
            ("certificateType", .string(type.code)),
            ("name", .object(name)),
            ("owner", .string(type.owner ?? "")),
            ("legalBasis", .string(type.legalBasis)),
            ("spotCheckRate", .number(t.policy.spotCheckRate)),
            ("spotCheckWithinDays", .int(Int64(t.policy.spotCheckWithinDays))),
            (
                "template",
                .object([
                    ("mustProve", .string(t.template.mustProve)),
                    ("legalBasis", .string(t.template.legalBasis)),
                    ("obligation", .string(t.template.obligation)),
                    ("liability", .string(t.template.liability)),
                ])
            ),
            ("text", .string(t.text)),
            ("textSha256", .string(hex(textSHA256))),
            ("unfilledPlaceholders", .array(t.unfilled.map { .string($0) })),
        ])
    }

    /// A receipt as `GET /v1/attestations/{id}` shows it: `{"id", "commitment", "issuer",
    /// "requester", "certificateType", "outcome": "committed", "jws", "status", "issuedAt",
    /// "expiresAt", "revokedAt"?, "revocationReason"?}`.
    public static func receipt(of c: Commitment, now: Millis) -> JSONValue {
        var members: [(String, JSONValue)] = [
            ("id", .string(c.receipt.id)),
            ("commitment", .string(c.id)),
            ("issuer", .string(c.owner)),
            ("requester", .string(c.requester)),
            ("certificateType", .string(c.certificateType)),
            ("outcome", .string("committed")),
            ("jws", .string(c.receipt.jws)),
            ("status", .string(c.receipt.status(at: now).rawValue)),
            ("issuedAt", time(c.receipt.issuedAt)),
            ("expiresAt", time(c.receipt.expiresAt)),
        ]
        appendRevocation(c.receipt, to: &members)
        return .object(members)
    }

    /// A receipt as `GET /v1/attestations/{id}/status` shows it (same members as for an attestation).
    public static func receiptStatus(of c: Commitment, now: Millis) -> JSONValue {
        var members: [(String, JSONValue)] = [
            ("id", .string(c.receipt.id)),
            ("status", .string(c.receipt.status(at: now).rawValue)),
            ("checkedAt", time(now)),
            ("expiresAt", time(c.receipt.expiresAt)),
        ]
        appendRevocation(c.receipt, to: &members)
        return .object(members)
    }

    private static func appendRevocation(_ r: CommitmentReceipt, to members: inout [(String, JSONValue)]) {
        if let revokedAt = r.revokedAt { members.append(("revokedAt", time(revokedAt))) }
        if let reason = r.revocationReason { members.append(("revocationReason", .string(reason))) }
    }
}
