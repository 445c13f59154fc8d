import CSQLite
import HeyanDomain

/// The head of the audit hash chain as the writer keeps it in memory: the last entry's sequence
/// and hash (0 and ``AuditEntry/genesisHash`` for an empty log).
struct AuditHead: Sendable, Equatable {
    var sequence: Int64
    var hash: [UInt8]

    static let empty = AuditHead(sequence: 0, hash: AuditEntry.genesisHash)
}

/// Appends entries to `audit_log` on the writer connection, keeping the chain's head in memory so
/// an append costs one hash and one INSERT, never a read.
///
/// The head is loaded when the store opens. The ``GroupCommitWriter`` snapshots it before each
/// job and puts the snapshot back when the job's savepoint rolls back, and reloads it from the
/// database when a whole batch fails, so the in-memory head always equals the last committed (or
/// still-pending, same-transaction) entry. Used only by the writer thread.
final class AuditChain {
    /// The last appended entry; includes entries of the open transaction.
    var head: AuditHead
    private let hash: @Sendable ([UInt8]) -> [UInt8]

    init(connection: SQLiteConnection, hash: @escaping @Sendable ([UInt8]) -> [UInt8]) throws {
        self.hash = hash
        self.head = try AuditChain.loadHead(connection)
    }

    /// Reads the head from the database (after a failed COMMIT rolled back the entries the
    /// in-memory head already counted).
    func reload(_ connection: SQLiteConnection) throws {
        head = try AuditChain.loadHead(connection)
    }

    static func loadHead(_ connection: SQLiteConnection) throws -> AuditHead {
        let statement = try connection.cachedStatement(
            "SELECT sequence, hash FROM audit_log ORDER BY sequence DESC LIMIT 1")
        defer { try? statement.reset() }
        guard try statement.step() else { return .empty }
        return AuditHead(sequence: statement.int64(at: 0), hash: statement.blob(at: 1) ?? [])
    }

    /// Appends `event` at `time` as entry `head.sequence + 1`, chained to the head.
    @discardableResult
    func append(_ event: AuditEvent, at time: Millis, on connection: SQLiteConnection) throws -> AuditEntry {
        let sequence = head.sequence + 1
        let previous = head.hash
        var input = previous
        input.append(contentsOf: AuditEntry.canonicalBytes(sequence: sequence, time: time, event: event))
        let digest = hash(input)

        let statement = try connection.cachedStatement(AuditRow.insertSQL)
        try statement.bind(sequence, at: 1)
        try statement.bind(time, at: 2)
        try statement.bind(event.action.rawValue, at: 3)
        try statement.bind(event.actor, at: 4)
        try statement.bindText(event.requester, at: 5)
        try statement.bindText(event.owner, at: 6)
        try statement.bindText(event.certificateType, at: 7)
        try statement.bindText(event.subjectID, at: 8)
        try statement.bindText(event.verificationID, at: 9)
        try statement.bindText(event.attestationID, at: 10)
        try statement.bindText(event.queueItemID, at: 11)
        try statement.bindText(AuditRow.encodeDetail(event.detail), at: 12)
        try statement.bind(previous, at: 13)
        try statement.bind(digest, at: 14)
        try statement.run()

        head = AuditHead(sequence: sequence, hash: digest)
        return AuditEntry(sequence: sequence, time: time, event: event, previousHash: previous, hash: digest)
    }
}

@available(*, unavailable)
extension AuditChain: Sendable {}

/// How an ``AuditEntry`` is laid out in `audit_log`.
enum AuditRow {
    static let insertSQL = """
        INSERT INTO audit_log (sequence, time, action, actor, requester, owner, certificate_type, subject_id,
            verification_id, attestation_id, queue_item_id, detail, previous_hash, hash)
        VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)
        """

    /// The columns ``decode(_:)`` reads, in its order.
    static let columns = """
        sequence, time, action, actor, requester, owner, certificate_type, subject_id, verification_id, \
        attestation_id, queue_item_id, detail, previous_hash, hash
        """

    /// `detail` as stored: the canonical JSON object (keys sorted, values strings), or NULL when empty.
    static func encodeDetail(_ detail: [String: String]) -> String? {
        guard !detail.isEmpty else { return nil }
        let json = JSONValue.object(detail.keys.sorted().map { ($0, .string(detail[$0]!)) })
        return String(decoding: json.jsonBytes(), as: UTF8.self)
    }

    /// Reads back what ``encodeDetail(_:)`` wrote; `nil` when the text is not a JSON object of strings.
    static func decodeDetail(_ text: String?) -> [String: String]? {
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

    /// The entry in the current row of a statement selecting ``columns``.
    static func decode(_ statement: SQLiteStatement) throws -> AuditEntry {
        let sequence = statement.int64(at: 0)
        guard let detail = decodeDetail(statement.text(at: 11)) else {
            throw StoredRowError.invalid(table: "audit_log", key: String(sequence), column: "detail")
        }
        let event = AuditEvent(
            action: AuditAction(rawValue: statement.text(at: 2) ?? ""), actor: statement.text(at: 3) ?? "",
            requester: statement.text(at: 4), owner: statement.text(at: 5), certificateType: statement.text(at: 6),
            subjectID: statement.text(at: 7), verificationID: statement.text(at: 8),
            attestationID: statement.text(at: 9), queueItemID: statement.text(at: 10), detail: detail)
        return AuditEntry(
            sequence: sequence, time: statement.int64(at: 1), event: event, previousHash: statement.blob(at: 12) ?? [],
            hash: statement.blob(at: 13) ?? [])
    }
}
