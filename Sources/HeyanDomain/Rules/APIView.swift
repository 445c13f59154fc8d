/// The JSON bodies of heyan's responses, built in one place so that every route shows a
/// verification, an attestation or an audit entry the same way. Instants are RFC 3339 in UTC with
/// milliseconds (``Timestamp/rfc3339(_:)``); hashes are lowercase hex; members that do not apply
/// yet (an unanswered verification's `outcome`) are left out rather than `null`.
public enum APIView {
    /// `{"id", "status", "certificateType", "method", "requester", "owner", "matterCode", "purpose",
    /// "subject", "claims", "createdAt", "dueAt"?, "outcome"?, "disclosed"?, "note"?, "answeredAt"?,
    /// "attestation": {"id", "jws", "expiresAt"}?, "catalogVersion"}`. `disclosed` is present
    /// (possibly `{}`) once there is an outcome. Written member by member, without a `JSONValue` tree
    /// (the body of `POST /v1/verifications`, of `GET /v1/verifications/{id}` and of an answer, made
    /// on the event loop; docs/performance.md, issue 16). `reservingCapacity`: the expected size (by
    /// default 1 KiB and the JWS). `RulesAPIViewTests.verificationBytesMatchTheView` holds it to a
    /// tree-built reference.
    public static func verificationBytes(
        _ v: Verification, attestation: Attestation?, reservingCapacity capacity: Int = 0
    ) -> [UInt8] {
        var buffer: [UInt8] = []
        buffer.reserveCapacity(capacity > 0 ? capacity : 1024 + (attestation?.jws.utf8.count ?? 0))
        writeVerification(v, attestation: attestation, into: &buffer)
        return buffer
    }

    /// Appends ``verificationBytes(_:attestation:reservingCapacity:)``'s JSON to `buffer`.
    static func writeVerification(_ v: Verification, attestation: Attestation?, into buffer: inout [UInt8]) {
        var object = JSONObjectWriter(into: &buffer)
        object.string("id", v.id, into: &buffer)
        object.string("status", v.status.rawValue, into: &buffer)
        object.string("certificateType", v.certificateType, into: &buffer)
        object.string("method", v.method.rawValue, into: &buffer)
        object.string("requester", v.requester, into: &buffer)
        object.string("owner", v.owner, into: &buffer)
        object.string("matterCode", v.matterCode, into: &buffer)
        object.string("purpose", v.purpose, into: &buffer)
        object.key("subject", into: &buffer)
        var subject = JSONObjectWriter(into: &buffer)
        subject.string("idType", v.subject.idType.rawValue, into: &buffer)
        subject.string("id", v.subject.id, into: &buffer)
        subject.string("name", v.subject.name, into: &buffer)
        subject.end(into: &buffer)
        object.claims("claims", v.claims, into: &buffer)
        object.string("createdAt", Timestamp.rfc3339(v.createdAt), into: &buffer)
        if let dueAt = v.dueAt { object.string("dueAt", Timestamp.rfc3339(dueAt), into: &buffer) }
        if let outcome = v.outcome {
            object.string("outcome", outcome.rawValue, into: &buffer)
            object.claims("disclosed", v.disclosed, into: &buffer)
        }
        if let note = v.note { object.string("note", note, into: &buffer) }
        if let answeredAt = v.answeredAt { object.string("answeredAt", Timestamp.rfc3339(answeredAt), into: &buffer) }
        if let attestation {
            object.key("attestation", into: &buffer)
            var inner = JSONObjectWriter(into: &buffer)
            inner.string("id", attestation.id, into: &buffer)
            inner.string("jws", attestation.jws, into: &buffer)
            inner.string("expiresAt", Timestamp.rfc3339(attestation.expiresAt), into: &buffer)
            inner.end(into: &buffer)
        }
        object.int("catalogVersion", Int64(v.catalogVersion), into: &buffer)
        object.end(into: &buffer)
    }

    /// `{"id", "kind", "verification": {…}, "leaseToken", "leaseExpiresAt", "dueAt", "overdue",
    /// "leaseCount"}`, one element of `GET /v1/queue`'s `items`, appended to `buffer` member by
    /// member (no tree: a lease's response is made on the event loop, docs/performance.md).
    public static func writeQueueItem(_ leased: LeasedItem, into buffer: inout [UInt8]) {
        let item = leased.item
        var object = JSONObjectWriter(into: &buffer)
        object.string("id", item.id, into: &buffer)
        object.string("kind", item.kind.rawValue, into: &buffer)
        object.key("verification", into: &buffer)
        writeVerification(leased.verification, attestation: nil, into: &buffer)
        if let token = item.leaseToken { object.string("leaseToken", token, into: &buffer) }
        if let expires = item.leaseExpiresAt { object.string("leaseExpiresAt", Timestamp.rfc3339(expires), into: &buffer) }
        object.string("dueAt", Timestamp.rfc3339(item.dueAt), into: &buffer)
        object.bool("overdue", item.overdue, into: &buffer)
        object.int("leaseCount", Int64(item.leaseCount), into: &buffer)
        object.end(into: &buffer)
    }

    /// `{"id", "verification", "issuer", "requester", "certificateType", "outcome", "jws", "status",
    /// "issuedAt", "expiresAt", "revokedAt"?, "revocationReason"?}` (`GET /v1/attestations/{id}`),
    /// written member by member into a buffer reserved for the ~4 KB JWS.
    public static func attestationBytes(_ a: Attestation, now: Millis) -> [UInt8] {
        var buffer: [UInt8] = []
        buffer.reserveCapacity(512 + a.jws.utf8.count)
        var object = JSONObjectWriter(into: &buffer)
        object.string("id", a.id, into: &buffer)
        object.string("verification", a.verificationID, into: &buffer)
        object.string("issuer", a.issuer, into: &buffer)
        object.string("requester", a.requester, into: &buffer)
        object.string("certificateType", a.certificateType, into: &buffer)
        object.string("outcome", a.outcome.rawValue, into: &buffer)
        object.string("jws", a.jws, into: &buffer)
        object.string("status", a.status(at: now).rawValue, into: &buffer)
        object.string("issuedAt", Timestamp.rfc3339(a.issuedAt), into: &buffer)
        object.string("expiresAt", Timestamp.rfc3339(a.expiresAt), into: &buffer)
        if let revokedAt = a.revokedAt { object.string("revokedAt", Timestamp.rfc3339(revokedAt), into: &buffer) }
        if let reason = a.revocationReason { object.string("revocationReason", reason, into: &buffer) }
        object.end(into: &buffer)
        return buffer
    }

    /// `{"id", "status", "checkedAt", "expiresAt", "revokedAt"?, "revocationReason"?}`
    /// (`GET /v1/attestations/{id}/status`): what a relying party needs to trust the JWS it holds.
    public static func attestationStatus(_ a: Attestation, now: Millis) -> JSONValue {
        var members: [(String, JSONValue)] = [
            ("id", .string(a.id)),
            ("status", .string(a.status(at: now).rawValue)),
            ("checkedAt", time(now)),
            ("expiresAt", time(a.expiresAt)),
        ]
        appendRevocation(of: a, to: &members)
        return .object(members)
    }

    /// `{"certificateType", "subjectId", "owner", "claims", "updatedAt"}`.
    public static func record(_ r: SharedRecord) -> JSONValue {
        .object([
            ("certificateType", .string(r.certificateType)),
            ("subjectId", .string(r.subjectID)),
            ("owner", .string(r.owner)),
            ("claims", r.claims.canonicalJSON),
            ("updatedAt", time(r.updatedAt)),
        ])
    }

    /// `{"seq", "time", "action", "actor", "requester"?, "owner"?, "certificateType"?, "subjectId"?,
    /// "verification"?, "attestation"?, "queueItem"?, "clerk"?, "detail"?, "previousHash", "hash"}`: the
    /// names of ``AuditEntry/canonicalBytes(sequence:time:event:)``, so an export can be checked.
    public static func auditEntry(_ e: AuditEntry) -> JSONValue {
        var members: [(String, JSONValue)] = [
            ("seq", .int(e.sequence)),
            ("time", time(e.time)),
            ("action", .string(e.event.action.rawValue)),
            ("actor", .string(e.event.actor)),
        ]
        func add(_ name: String, _ value: String?) {
            if let value { members.append((name, .string(value))) }
        }
        add("requester", e.event.requester)
        add("owner", e.event.owner)
        add("certificateType", e.event.certificateType)
        add("subjectId", e.event.subjectID)
        add("verification", e.event.verificationID)
        add("attestation", e.event.attestationID)
        add("queueItem", e.event.queueItemID)
        add("clerk", e.event.clerk)
        if !e.event.detail.isEmpty {
            members.append(("detail", .object(e.event.detail.keys.sorted().map { ($0, .string(e.event.detail[$0]!)) })))
        }
        members.append(("previousHash", .string(hex(e.previousHash))))
        members.append(("hash", .string(hex(e.hash))))
        return .object(members)
    }

    /// `{"size", "head", "time", "jws"}` and, once the log is a Merkle tree, `treeSize` and
    /// `treeRoot` (hex) (`GET /v1/audit/checkpoint`).
    public static func checkpoint(_ c: AuditCheckpoint) -> JSONValue {
        var members: [(String, JSONValue)] = [
            ("size", .int(c.size)),
            ("head", .string(hex(c.head))),
            ("time", time(c.time)),
            ("jws", .string(c.jws)),
        ]
        if let root = c.treeRoot {
            members.append(("treeSize", .int(c.size)))
            members.append(("treeRoot", .string(hex(root))))
        }
        return .object(members)
    }

    static func time(_ millis: Millis) -> JSONValue { .string(Timestamp.rfc3339(millis)) }

    private static func appendRevocation(of a: Attestation, to members: inout [(String, JSONValue)]) {
        if let revokedAt = a.revokedAt { members.append(("revokedAt", time(revokedAt))) }
        if let reason = a.revocationReason { members.append(("revocationReason", .string(reason))) }
    }
}
