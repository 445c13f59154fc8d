/// What an audit entry records. A string-backed struct rather than an enum so that adding an
/// action never breaks a reader of old entries.
public struct AuditAction: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
    public let rawValue: String
    public init(rawValue: String) { self.rawValue = rawValue }
    public var description: String { rawValue }

    /// A requester submitted a verification and heyan routed it (detail: matterCode, purpose,
    /// method, routedTo; `queue`: dueAt, with the queue item; `data-sharing`: outcome, expiresAt,
    /// with the attestation signed at once).
    public static let verificationSubmitted = AuditAction(rawValue: "verification.submitted")
    /// The owner answered a queued verification and heyan signed the attestation (detail:
    /// outcome, answeredBy, expiresAt).
    public static let verificationAnswered = AuditAction(rawValue: "verification.answered")
    /// Not written since one entry records one state change (a submission and its routing, an
    /// answer and its attestation); kept so that earlier logs still read and filter.
    public static let verificationQueued = AuditAction(rawValue: "verification.queued")
    /// Not written any more; see ``verificationQueued``.
    public static let attestationIssued = AuditAction(rawValue: "attestation.issued")
    /// An attestation was revoked (detail: reason).
    public static let attestationRevoked = AuditAction(rawValue: "attestation.revoked")
    /// An owner's worker leased a queue item (detail: leaseExpiresAt, leaseCount).
    public static let queueLeased = AuditAction(rawValue: "queue.leased")
    /// A queue item passed its due time unanswered.
    public static let queueOverdue = AuditAction(rawValue: "queue.overdue")
    /// An owner shared or changed a record.
    public static let recordPut = AuditAction(rawValue: "record.put")
    /// An owner withdrew a record.
    public static let recordDeleted = AuditAction(rawValue: "record.deleted")
    /// A request was refused (detail: method, route, status, problem).
    public static let requestRefused = AuditAction(rawValue: "request.refused")
    /// A department's refused requests beyond its individual-entry rate, counted over an interval
    /// (detail: count, from, to, byProblem, byStatus; docs/audit.md).
    public static let requestRefusedAggregate = AuditAction(rawValue: "request.refused.aggregate")
}

/// One thing that happened, as the service reports it to the audit log. The log adds the
/// sequence number, the time and the hash chain (``AuditEntry``).
public struct AuditEvent: Sendable, Equatable {
    public var action: AuditAction
    /// The department whose request caused it, or `heyan` for the service itself.
    public var actor: String
    public var requester: String?
    public var owner: String?
    public var certificateType: String?
    public var subjectID: String?
    public var verificationID: String?
    public var attestationID: String?
    public var queueItemID: String?
    /// The clerk (经办人) of the actor department who did it, when known: from a clerk's client
    /// certificate, or a department system's `Heyan-Clerk` header (docs/console.md, "Clerks").
    /// Covered by the entry's hash and leaf when present; an entry without one encodes as before.
    public var clerk: String?
    /// Further facts, all strings (numbers written in decimal, instants in RFC 3339).
    public var detail: [String: String]

    public init(
        action: AuditAction, actor: String, requester: String? = nil, owner: String? = nil,
        certificateType: String? = nil, subjectID: String? = nil, verificationID: String? = nil,
        attestationID: String? = nil, queueItemID: String? = nil, clerk: String? = nil, detail: [String: String] = [:]
    ) {
        self.action = action
        self.actor = actor
        self.requester = requester
        self.owner = owner
        self.certificateType = certificateType
        self.subjectID = subjectID
        self.verificationID = verificationID
        self.attestationID = attestationID
        self.queueItemID = queueItemID
        self.clerk = clerk
        self.detail = detail
    }

    /// This event attributed to `clerk` (unchanged when `clerk` is nil).
    public func by(clerk: String?) -> AuditEvent {
        guard let clerk else { return self }
        var event = self
        event.clerk = clerk
        return event
    }
}

/// An entry of the tamper-evident audit log: an event with its place in the chain.
///
/// `hash = SHA-256(previousHash ‖ canonicalBytes)`, where ``canonicalBytes(sequence:time:event:)``
/// is the entry as JSON with keys in byte order, no whitespace and absent fields left out (so an
/// entry without a `clerk` encodes exactly as entries did before the field existed). The first
/// entry's `previousHash` is 32 zero bytes. Editing any stored field changes the hash of that
/// entry and breaks every later link.
public struct AuditEntry: Sendable, Equatable {
    /// 1, 2, 3, … without gaps.
    public var sequence: Int64
    public var time: Millis
    public var event: AuditEvent
    public var previousHash: [UInt8]
    public var hash: [UInt8]

    public init(sequence: Int64, time: Millis, event: AuditEvent, previousHash: [UInt8], hash: [UInt8]) {
        self.sequence = sequence
        self.time = time
        self.event = event
        self.previousHash = previousHash
        self.hash = hash
    }

    /// The previous hash of the first entry.
    public static let genesisHash = [UInt8](repeating: 0, count: 32)

    /// The bytes hashed after the previous hash, as ``EncodedAuditEvent`` writes them.
    public static func canonicalBytes(sequence: Int64, time: Millis, event: AuditEvent) -> [UInt8] {
        var bytes: [UInt8] = []
        EncodedAuditEvent(event, at: time).appendCanonicalBytes(sequence: sequence, to: &bytes)
        return bytes
    }

    /// This entry's canonical encoding: what its chain hash covers after the previous hash, and its
    /// Merkle leaf after the salt.
    public var canonicalBytes: [UInt8] { Self.canonicalBytes(sequence: sequence, time: time, event: event) }

    /// The bytes to hash for this entry: previous hash, then the canonical encoding.
    public var hashInput: [UInt8] { hashInput(canonical: canonicalBytes) }

    /// ``hashInput`` from this entry's ``canonicalBytes`` that the caller has already encoded (the
    /// verifier needs them for the leaf too).
    public func hashInput(canonical: [UInt8]) -> [UInt8] { previousHash + canonical }
}

/// An audit event encoded for the log before it has a place there, so that a store can do it on
/// the request's thread instead of its single writer: the canonical bytes
/// (``AuditEntry/canonicalBytes(sequence:time:event:)``) on either side of the sequence number, and
/// the stored detail text (``AuditDetailText``). What depends on the place — the sequence, the
/// chain hash, the leaf — is left to the writer.
///
/// This is the one writer of the canonical encoding (``AuditEntry/canonicalBytes(sequence:time:event:)``
/// is built on it): the members written one by one in the byte order of their keys, without a
/// sorted `JSONValue` tree.
public struct EncodedAuditEvent: Sendable {
    public let event: AuditEvent
    public let time: Millis
    /// The canonical bytes up to and including `"seq":`.
    public let beforeSequence: [UInt8]
    /// The canonical bytes after the sequence number's digits, to the closing brace.
    public let afterSequence: [UInt8]
    /// `detail` as every engine stores it (``AuditDetailText/encode(_:)``).
    public let detailText: String?

    public init(_ event: AuditEvent, at time: Millis) {
        self.event = event
        self.time = time
        // Members in the byte order of their keys: action, actor, attestation, certificateType,
        // clerk, detail, owner, queueItem, requester | seq | subjectId, time, verification.
        var before: [UInt8] = []
        before.reserveCapacity(512)
        var object = JSONObjectWriter(into: &before)
        object.string("action", event.action.rawValue, into: &before)
        object.string("actor", event.actor, into: &before)
        if let value = event.attestationID { object.string("attestation", value, into: &before) }
        if let value = event.certificateType { object.string("certificateType", value, into: &before) }
        if let value = event.clerk { object.string("clerk", value, into: &before) }
        var detailText: String?
        if !event.detail.isEmpty {
            object.key("detail", into: &before)
            let start = before.count
            AuditDetailText.append(event.detail, to: &before)
            detailText = String(decoding: before[start...], as: UTF8.self)
        }
        if let value = event.owner { object.string("owner", value, into: &before) }
        if let value = event.queueItemID { object.string("queueItem", value, into: &before) }
        if let value = event.requester { object.string("requester", value, into: &before) }
        object.key("seq", into: &before)
        // The same object goes on in a second buffer: the sequence's digits come in between.
        var after: [UInt8] = []
        after.reserveCapacity(128)
        if let value = event.subjectID { object.string("subjectId", value, into: &after) }
        object.int("time", time, into: &after)
        if let value = event.verificationID { object.string("verification", value, into: &after) }
        object.end(into: &after)
        self.beforeSequence = before
        self.afterSequence = after
        self.detailText = detailText
    }

    /// ``AuditEntry/canonicalBytes(sequence:time:event:)`` of this event as entry `sequence`,
    /// appended to `buffer`.
    public func appendCanonicalBytes(sequence: Int64, to buffer: inout [UInt8]) {
        buffer.append(contentsOf: beforeSequence)
        JSONText.appendInt(sequence, to: &buffer)
        buffer.append(contentsOf: afterSequence)
    }
}

/// What an auditor asks the log for. Every set field must match.
public struct AuditFilter: Sendable, Equatable {
    /// Subject ID.
    public var subjectID: String?
    /// Matches the department as actor, requester or owner.
    public var department: String?
    public var certificateType: String?
    public var action: AuditAction?
    /// Inclusive.
    public var from: Millis?
    /// Exclusive.
    public var to: Millis?

    public init(
        subjectID: String? = nil, department: String? = nil, certificateType: String? = nil,
        action: AuditAction? = nil, from: Millis? = nil, to: Millis? = nil
    ) {
        self.subjectID = subjectID
        self.department = department
        self.certificateType = certificateType
        self.action = action
        self.from = from
        self.to = to
    }
}

/// A signed statement of the log's size and head hash at a time. The JWS payload is
/// ``payload(size:head:time:treeRoot:)``. Since the log is also a Merkle tree (schema 7,
/// docs/transparency-log.md), it names the tree's root at the same size (the tree size is the
/// entry count), so the department PKI binds the tree too; older checkpoints have none.
public struct AuditCheckpoint: Sendable, Equatable {
    public var size: Int64
    public var head: [UInt8]
    public var time: Millis
    public var jws: String
    /// The Merkle tree's root at `size` (32 bytes); `nil` in checkpoints signed before the tree.
    public var treeRoot: [UInt8]?

    public init(size: Int64, head: [UInt8], time: Millis, jws: String, treeRoot: [UInt8]? = nil) {
        self.size = size
        self.head = head
        self.time = time
        self.jws = jws
        self.treeRoot = treeRoot
    }

    /// `{"head":"<hex>","iss":"heyan","size":N,"time":"<RFC 3339>","treeRoot":"<hex>","treeSize":N,
    /// "typ":"audit-checkpoint"}`; without `treeRoot` and `treeSize` when `treeRoot` is nil.
    public static func payload(size: Int64, head: [UInt8], time: Millis, treeRoot: [UInt8]? = nil) -> [UInt8] {
        var members: [(String, JSONValue)] = [
            ("head", .string(hex(head))),
            ("iss", .string("heyan")),
            ("size", .int(size)),
            ("time", .string(Timestamp.rfc3339(time))),
        ]
        if let treeRoot {
            members.append(("treeRoot", .string(hex(treeRoot))))
            members.append(("treeSize", .int(size)))
        }
        members.append(("typ", .string("audit-checkpoint")))
        return JSONValue.object(members).jsonBytes()
    }
}

/// Lowercase hex.
public func hex(_ bytes: [UInt8]) -> String {
    let digits = Array("0123456789abcdef".utf8)
    var out: [UInt8] = []
    out.reserveCapacity(bytes.count * 2)
    for byte in bytes {
        out.append(digits[Int(byte >> 4)])
        out.append(digits[Int(byte & 0x0F)])
    }
    return String(decoding: out, as: UTF8.self)
}

/// The bytes of lowercase hex (the inverse of ``hex(_:)``); `nil` for an odd length or any other
/// character.
public func bytes(fromLowercaseHex text: String) -> [UInt8]? {
    let digits = Array(text.utf8)
    guard digits.count % 2 == 0 else { return nil }
    func nibble(_ c: UInt8) -> UInt8? {
        switch c {
        case 48...57: return c - 48
        case 97...102: return c - 87
        default: return nil
        }
    }
    var bytes: [UInt8] = []
    bytes.reserveCapacity(digits.count / 2)
    var index = 0
    while index < digits.count {
        guard let high = nibble(digits[index]), let low = nibble(digits[index + 1]) else { return nil }
        bytes.append(high << 4 | low)
        index += 2
    }
    return bytes
}

/// How an audit entry's `detail` is stored by every engine: the canonical JSON object (keys in
/// byte order, values strings), or NULL when empty. One definition, so both engines store and
/// hash the same bytes.
public enum AuditDetailText {
    public static func encode(_ detail: [String: String]) -> String? {
        guard !detail.isEmpty else { return nil }
        var bytes: [UInt8] = []
        append(detail, to: &bytes)
        return String(decoding: bytes, as: UTF8.self)
    }

    /// Appends the JSON object ``encode(_:)`` stores, which is also the `detail` member of the
    /// canonical bytes (``EncodedAuditEvent``).
    static func append(_ detail: [String: String], to buffer: inout [UInt8]) {
        var object = JSONObjectWriter(into: &buffer)
        // In key order, from the sorted pairs: no key is hashed again to find its value.
        for (key, value) in detail.sorted(by: { $0.key < $1.key }) {
            object.string(dynamicKey: key, value, into: &buffer)
        }
        object.end(into: &buffer)
    }

    /// Reads back what ``encode(_:)`` wrote; `nil` when the text is not a JSON object of strings.
    public static func decode(_ text: String?) -> [String: String]? {
        guard let text else { return [:] }
        guard let claims = try? ClaimSet.decode(canonical: Array(text.utf8)) else { return nil }
        var detail: [String: String] = [:]
        detail.reserveCapacity(claims.count)
        for (key, value) in claims {
            guard case .string(let string) = value else { return nil }
            detail[key] = string
        }
        return detail
    }
}
