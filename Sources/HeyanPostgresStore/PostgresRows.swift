import Glibc
import HeyanDomain
import HeyanPostgres

// How each domain value is laid out in its PostgreSQL table: the same columns as the SQLite store's
// StoredRows.swift (HeyanStorage), read back by column name.

enum PGVerificationRow {
    static let insertColumns = PGInsertColumns(
        table: "verifications",
        [
            "id": "text", "certificate_type": "text", "method": "text", "requester": "text", "owner": "text",
            "matter_code": "text", "purpose": "text", "subject_id_type": "text", "subject_id": "text",
            "subject_name": "text", "claims": "text", "status": "text", "outcome": "text", "disclosed": "text",
            "note": "text", "created_at": "bigint", "due_at": "bigint", "answered_at": "bigint",
            "attestation_id": "text", "catalog_version": "integer",
        ])

    static let columns = insertColumns.list

    /// The verification's row: one value per column of ``insertColumns``.
    static func row(_ v: Verification) -> PGRow {
        PGRow(
            table: .verifications,
            values: [
                .text(v.id), .text(v.certificateType), .text(v.method.rawValue), .text(v.requester), .text(v.owner),
                .text(v.matterCode), .text(v.purpose), .text(v.subject.idType.rawValue), .text(v.subject.id),
                .text(v.subject.name), .text(v.claims.canonicalJSONText), .text(v.status.rawValue),
                .text(v.answer?.outcome.rawValue), .text(v.disclosed.canonicalJSONText), .text(v.answer?.note),
                .int64(v.createdAt), optional(v.dueAt), optional(v.answer?.answeredAt), .text(v.answer?.attestationID),
                .int(v.catalogVersion),
            ])
    }

    static func insert(_ v: Verification) -> PostgresStatement { row(v).insertStatement }

    static func updateAnswer(_ v: Verification, on db: PostgresConnection) throws {
        try db.query(
            """
            UPDATE verifications SET status = $2, outcome = $3, disclosed = $4, note = $5, answered_at = $6,
                attestation_id = $7 WHERE id = $1
            """,
            [
                .text(v.id), .text(v.status.rawValue), .text(v.answer?.outcome.rawValue), .text(v.disclosed.canonicalJSONText),
                .text(v.answer?.note), optional(v.answer?.answeredAt), .text(v.answer?.attestationID),
            ])
    }

    static func fetch(id: String, on db: PostgresConnection, lock: Bool = false) throws -> Verification? {
        let result = try db.query(
            "SELECT \(columns) FROM verifications WHERE id = $1\(lock ? " FOR UPDATE" : "")", [.text(id)])
        return try result.rows.first.map(decode)
    }

    static func decode(_ row: PostgresRow) throws -> Verification {
        let id: String = try row.decode("id")
        func invalid(_ column: String) -> PostgresStoreError { .corrupt(table: "verifications", key: id, column: column) }
        func value<T: RawRepresentable>(_ column: String, as: T.Type = T.self) throws -> T where T.RawValue == String {
            guard let value = T(rawValue: try row.decode(column, as: String.self)) else { throw invalid(column) }
            return value
        }
        guard let claims = ClaimSet.decode(canonicalText: try row.decode("claims")) else { throw invalid("claims") }
        guard let disclosed = ClaimSet.decode(canonicalText: try row.decode("disclosed")) else { throw invalid("disclosed") }
        let state: VerificationState
        switch try value("status", as: VerificationStatus.self) {
        case .pending:
            state = .pending
        case .answered:
            guard let answeredAt = try row.decodeIfPresent("answered_at", as: Int64.self) else { throw invalid("answered_at") }
            guard let outcomeText = try row.decodeIfPresent("outcome", as: String.self),
                let outcome = Outcome(rawValue: outcomeText)
            else { throw invalid("outcome") }
            state = .answered(
                VerificationAnswer(
                    outcome: outcome, disclosed: disclosed, note: try row.decodeIfPresent("note"), answeredAt: answeredAt,
                    attestationID: try row.decodeIfPresent("attestation_id")))
        }
        return Verification(
            id: id, certificateType: try row.decode("certificate_type"), method: try value("method"),
            requester: try row.decode("requester"), owner: try row.decode("owner"),
            matterCode: try row.decode("matter_code"), purpose: try row.decode("purpose"),
            subject: Subject(
                idType: try value("subject_id_type"), id: try row.decode("subject_id"),
                name: try row.decode("subject_name")),
            claims: claims, state: state, createdAt: try row.decode("created_at"),
            dueAt: try row.decodeIfPresent("due_at"), catalogVersion: try row.decode("catalog_version"))
    }
}

enum PGQueueItemRow {
    static let columns = """
        id, kind, verification_id, owner, created_at, due_at, state, lease_token, lease_expires_at, lease_count, \
        overdue, answered_lease_token
        """

    static let insertColumns = PGInsertColumns(
        table: "queue_items",
        [
            "id": "text", "kind": "text", "verification_id": "text", "owner": "text", "created_at": "bigint",
            "due_at": "bigint", "state": "text", "lease_token": "text", "lease_expires_at": "bigint",
            "lease_count": "integer", "overdue": "boolean", "answered_lease_token": "text",
            "due_beyond_calendar": "boolean",
        ])

    /// The item's row: one value per column of ``insertColumns``.
    static func row(_ item: QueueItem, dueBeyondCalendar: Bool) -> PGRow {
        var answered: String?
        if case .done(let token) = item.state { answered = token }
        return PGRow(
            table: .queueItems,
            values: [
                .text(item.id), .text(item.kind.rawValue), .text(item.verificationID), .text(item.owner),
                .int64(item.createdAt), .int64(item.dueAt), .text(item.state.name.rawValue), .text(item.leaseToken),
                optional(item.leaseExpiresAt), .int(item.leaseCount), .bool(item.overdue), .text(answered),
                .bool(dueBeyondCalendar),
            ])
    }

    static func insert(_ item: QueueItem, dueBeyondCalendar: Bool) -> PostgresStatement {
        row(item, dueBeyondCalendar: dueBeyondCalendar).insertStatement
    }

    /// Writes the state a ``QueueTransitions`` step gave `item`.
    static func persistState(of item: QueueItem, on db: PostgresConnection) throws {
        try PGQueueTable.persistState(of: item, table: "queue_items", on: db)
    }

    static func fetch(id: String, on db: PostgresConnection, lock: Bool = false) throws -> QueueItem? {
        let result = try db.query("SELECT \(columns) FROM queue_items WHERE id = $1\(lock ? " FOR UPDATE" : "")", [.text(id)])
        return try result.rows.first.map(decode)
    }

    static func decode(_ row: PostgresRow) throws -> QueueItem {
        let id: String = try row.decode("id")
        func invalid(_ column: String) -> PostgresStoreError { .corrupt(table: "queue_items", key: id, column: column) }
        guard let kind = QueueItemKind(rawValue: try row.decode("kind")) else { throw invalid("kind") }
        return QueueItem(
            id: id, kind: kind, verificationID: try row.decode("verification_id"), owner: try row.decode("owner"),
            createdAt: try row.decode("created_at"), dueAt: try row.decode("due_at"),
            state: try PGQueueTable.state(of: row, table: "queue_items", key: id),
            leaseCount: try row.decode("lease_count"), overdue: try row.decode("overdue"))
    }
}

/// The state columns `queue_items` and `spot_checks` share (both hold ``LeasableWork``): what a
/// ``QueueTransitions`` or ``SpotCheckRules`` step decided is written, never decided, here.
enum PGQueueTable {
    static func persistState(of work: some LeasableWork, table: String, on db: PostgresConnection) throws {
        switch work.state {
        case .leased(let token, let expiresAt):
            try db.query(
                "UPDATE \(table) SET state = $2, lease_token = $3, lease_expires_at = $4, lease_count = $5 WHERE id = $1",
                [.text(work.id), .text(work.state.name.rawValue), .text(token), .int64(expiresAt), .int(work.leaseCount)])
        case .done(let answeredToken):
            try db.query(
                "UPDATE \(table) SET state = $2, answered_lease_token = $3 WHERE id = $1",
                [.text(work.id), .text(work.state.name.rawValue), .text(answeredToken)])
        case .pending:
            preconditionFailure("no transition returns work to pending")
        }
    }

    /// The ``QueueItemState`` of a row: a leased row must have its token and expiry, a done row the
    /// token that answered it.
    static func state(of row: PostgresRow, table: String, key: String) throws -> QueueItemState {
        func invalid(_ column: String) -> PostgresStoreError { .corrupt(table: table, key: key, column: column) }
        guard let name = QueueItemState.Name(rawValue: try row.decode("state")) else { throw invalid("state") }
        switch name {
        case .pending:
            return .pending
        case .leased:
            guard let token = try row.decodeIfPresent("lease_token", as: String.self),
                let expiresAt = try row.decodeIfPresent("lease_expires_at", as: Int64.self)
            else { throw invalid("lease_token") }
            return .leased(token: token, expiresAt: expiresAt)
        case .done:
            guard let token = try row.decodeIfPresent("answered_lease_token", as: String.self) else {
                throw invalid("answered_lease_token")
            }
            return .done(answeredToken: token)
        }
    }

    /// Depth per owner of `table` at `now`; a leased row whose lease expired counts as pending.
    static func depths(of table: String, now: Millis, on db: PostgresConnection) throws -> [QueueCount] {
        try db.query(
            """
            SELECT owner,
                count(*) FILTER (WHERE state = $2 OR lease_expires_at <= $1) AS pending,
                count(*) FILTER (WHERE state = $3 AND lease_expires_at > $1) AS leased,
                count(*) FILTER (WHERE overdue) AS overdue,
                min(created_at) AS oldest
            FROM \(table) WHERE state IN ($2, $3) GROUP BY owner ORDER BY owner
            """,
            [.int64(now), .text(QueueItemState.Name.pending.rawValue), .text(QueueItemState.Name.leased.rawValue)]
        ).rows.map { row in
            QueueCount(
                owner: try row.decode("owner"), pending: try row.decode("pending"), leased: try row.decode("leased"),
                overdue: try row.decode("overdue"), oldestCreatedAt: try row.decodeIfPresent("oldest"))
        }
    }

    /// The unanswered rows of `table` due by `now` and not yet marked overdue, locked; rows a lease
    /// or an answer on another node holds are skipped (marked on the next round). The done state is
    /// written into the SQL: a generic plan of `state <> $2` cannot use the overdue index and reads the
    /// whole table (docs/postgresql.md; `Tests/Scripts/bench/lease-read-plans.py --postgresql`).
    static func overdueCandidates(_ columns: String, of table: String, now: Millis, on db: PostgresConnection) throws
        -> [PostgresRow]
    {
        try db.query(
            """
            SELECT \(columns) FROM \(table)
            WHERE NOT overdue AND state <> '\(QueueItemState.Name.done.rawValue)' AND due_at <= $1
            ORDER BY due_at FOR UPDATE SKIP LOCKED
            """, [.int64(now)]
        ).rows
    }

    /// Writes what ``QueueTransitions/markingOverdue(_:now:)`` decided for `work`.
    static func markOverdue(_ work: some LeasableWork, table: String, on db: PostgresConnection) throws {
        try db.query("UPDATE \(table) SET overdue = true WHERE id = $1", [.text(work.id)])
    }

    /// Leases up to `limit` of `owner`'s leasable rows of `table` at `now` (pending, or leased with
    /// an expired lease), oldest due first: for each, reads what it is about (`about`), asks
    /// `transition` (a ``QueueTransitions`` or ``SpotCheckRules`` lease) with a fresh token, and
    /// persists the step with its audit event. Rows another node is leasing right now are skipped,
    /// never waited for or leased twice (`FOR UPDATE SKIP LOCKED`).
    static func lease<Work: LeasableWork, About>(
        _ columns: String, of table: String, owner: String, limit: Int, now: Millis, in tx: WriteTransaction,
        decode: (PostgresRow) throws -> Work, about: (Work) throws -> About,
        transition: (Work, About, _ token: String) -> QueueStep<Work>?
    ) throws -> [(work: Work, about: About)] {
        guard limit > 0 else { return [] }
        // Two reads merged here, as on SQLite, rather than one OR query, which PostgreSQL answers by
        // reading every pending and every leased row of the owner and sorting them
        // (`Tests/Scripts/bench/lease-read-plans.py --postgresql`): the pending rows in due order from (owner, state, due_at,
        // …), and the expired leases as a range of the leased rows by expiry (migration 9). The
        // states are written into the SQL: a plan for a bound state could not use that partial
        // index. Each read locks at most `limit` rows; the ones not taken stay locked, unleased,
        // until this transaction ends (other nodes skip them meanwhile).
        let (pending, leasedState) = (QueueItemState.Name.pending.rawValue, QueueItemState.Name.leased.rawValue)
        let candidates = Work.leaseOrder(
            pending: try tx.connection.query(
                """
                SELECT \(columns) FROM \(table) WHERE owner = $1 AND state = '\(pending)'
                ORDER BY due_at, created_at, id LIMIT $2 FOR UPDATE SKIP LOCKED
                """,
                [.text(owner), .int(limit)]
            ).rows.map(decode),
            expired: try tx.connection.query(
                """
                SELECT \(columns) FROM \(table) WHERE owner = $1 AND state = '\(leasedState)' AND lease_expires_at <= $3
                ORDER BY due_at, created_at, id LIMIT $2 FOR UPDATE SKIP LOCKED
                """,
                [.text(owner), .int(limit), .int64(now)]
            ).rows.map(decode),
            limit: limit)
        var leased: [(work: Work, about: About)] = []
        for candidate in candidates {
            let subject = try about(candidate)
            guard let step = transition(candidate, subject, SecureRandomToken.make()) else { continue }
            try persistState(of: step.work, table: table, on: tx.connection)
            try tx.appendAudit(step.audit, at: now)
            leased.append((step.work, subject))
        }
        return leased
    }
}

enum PGAttestationRow {
    /// The columns every attestation row has; `jws` is the whole compact JWS for a row with no
    /// `header_id` (written before migration 8), else its payload and signature segments.
    static let columns = """
        id, verification_id, issuer, requester, certificate_type, subject_id, outcome, jws, issued_at, expires_at, \
        revoked_at, revocation_reason, revoked_by
        """

    /// What ``decode(_:)`` reads, from `attestations` (unaliased): ``columns``, `header_id` and the
    /// header it names (a subquery rather than a join, so `FOR UPDATE` locks only the attestation).
    static let selectColumns = """
        \(columns), header_id, (SELECT h.header FROM jws_headers h WHERE h.id = attestations.header_id) AS jws_header
        """

    static let insertColumns = PGInsertColumns(
        table: "attestations",
        [
            "id": "text", "verification_id": "text", "issuer": "text", "requester": "text", "certificate_type": "text",
            "subject_id": "text", "outcome": "text", "jws": "text", "issued_at": "bigint", "expires_at": "bigint",
            "revoked_at": "bigint", "revocation_reason": "text", "revoked_by": "text", "header_id": "bigint",
        ])

    /// The attestation's row (migration 8): one value per column of ``insertColumns``. With
    /// `byReference` — the id of its JWS protected header's row in `jws_headers`, which this node saw
    /// committed, and the rest of the JWS after that header (``Attestation/jwsSplitAtHeader``) — the row
    /// names the header and `jws` holds only the payload and signature segments (~0.8 KB: the row stays
    /// under the TOAST threshold). Without it (the header not yet known committed: the first
    /// attestations under a header since this node started or reconnected), or for a JWS with no `.`,
    /// `jws` is the whole JWS and `header_id` NULL, as rows written before migration 8 are; both read
    /// back the same (``decode(_:)``).
    static func row(_ a: Attestation, byReference: (headerID: Int64, rest: Substring)?) -> PGRow {
        PGRow(
            table: .attestations,
            values: [
                .text(a.id), .text(a.verificationID), .text(a.issuer), .text(a.requester), .text(a.certificateType),
                .text(a.subjectID), .text(a.outcome.rawValue), .text(byReference.map { String($0.rest) } ?? a.jws),
                .int64(a.issuedAt), .int64(a.expiresAt), optional(a.revokedAt), .text(a.revocationReason),
                .text(a.revokedBy), byReference.map { .int64($0.headerID) } ?? .null,
            ])
    }

    /// The one-row INSERT of ``row(_:byReference:)``.
    static func insert(_ a: Attestation, byReference: (headerID: Int64, rest: Substring)?) -> PostgresStatement {
        row(a, byReference: byReference).insertStatement
    }

    /// Stores `header` once (a header never changes once stored).
    static func registerHeader(_ header: String) -> PostgresStatement {
        PostgresStatement(
            "INSERT INTO jws_headers (header) VALUES ($1) ON CONFLICT (header) DO NOTHING", [.text(header)])
    }

    static func fetch(id: String, on db: PostgresConnection) throws -> Attestation? {
        try db.query("SELECT \(selectColumns) FROM attestations WHERE id = $1", [.text(id)]).rows.first.map(decode)
    }

    /// An attestation from ``selectColumns``, its JWS rebuilt byte for byte: `header.rest` for a row
    /// stored with its header by reference, `jws` as stored for a row with none.
    static func decode(_ row: PostgresRow) throws -> Attestation {
        let id: String = try row.decode("id")
        guard let outcome = Outcome(rawValue: try row.decode("outcome")) else {
            throw PostgresStoreError.corrupt(table: "attestations", key: id, column: "outcome")
        }
        var jws: String = try row.decode("jws")
        if try row.decodeIfPresent("header_id", as: Int64.self) != nil {
            guard let header: String = try row.decodeIfPresent("jws_header") else {
                throw PostgresStoreError.corrupt(table: "attestations", key: id, column: "header_id")
            }
            jws = header + "." + jws
        }
        return Attestation(
            id: id, verificationID: try row.decode("verification_id"), issuer: try row.decode("issuer"),
            requester: try row.decode("requester"), certificateType: try row.decode("certificate_type"),
            subjectID: try row.decode("subject_id"), outcome: outcome, jws: jws,
            issuedAt: try row.decode("issued_at"), expiresAt: try row.decode("expires_at"),
            revokedAt: try row.decodeIfPresent("revoked_at"), revocationReason: try row.decodeIfPresent("revocation_reason"),
            revokedBy: try row.decodeIfPresent("revoked_by"))
    }
}

enum PGIdempotencyRow {
    static func fetch(requester: String, key: String, on db: PostgresConnection) throws -> IdempotencyRecord? {
        let result = try db.query(
            "SELECT requester, key, request_hash, status, body, created_at FROM idempotency_keys WHERE requester = $1 AND key = $2",
            [.text(requester), .text(key)])
        return try result.rows.first.map(decode)
    }

    static func decode(_ row: PostgresRow) throws -> IdempotencyRecord {
        IdempotencyRecord(
            requester: try row.decode("requester"), key: try row.decode("key"), requestHash: try row.decode("request_hash"),
            status: try row.decode("status"), body: try row.decode("body"), createdAt: try row.decode("created_at"))
    }

    static let insertColumns = PGInsertColumns(
        table: "idempotency_keys",
        [
            "requester": "text", "key": "text", "request_hash": "bytea", "status": "integer", "body": "bytea",
            "created_at": "bigint",
        ])

    /// The key's row: one value per column of ``insertColumns``. Inserted plainly it fails with
    /// `postgres.unique-violation` when its key exists: for a batch's single round trip, which then runs
    /// again the careful way (``insertIfNew(_:on:)``).
    static func row(_ record: IdempotencyRecord) -> PGRow {
        PGRow(
            table: .idempotencyKeys,
            values: [
                .text(record.requester), .text(record.key), .bytes(record.requestHash), .int(record.status),
                .bytes(record.body), .int64(record.createdAt),
            ])
    }

    /// Inserts `record` unless its key exists; false when it did (committed by another transaction,
    /// which PostgreSQL waits for before deciding the conflict).
    static func insertIfNew(_ record: IdempotencyRecord, on db: PostgresConnection) throws -> Bool {
        try db.query(insertIfNewSQL, row(record).values).affectedRows == 1
    }

    private static let insertIfNewSQL = insertColumns.valuesSQL + " ON CONFLICT (requester, key) DO NOTHING"
}

enum PGRecordRow {
    static func decode(_ row: PostgresRow) throws -> SharedRecord {
        let type: String = try row.decode("certificate_type")
        let subject: String = try row.decode("subject_id")
        guard let claims = ClaimSet.decode(canonicalText: try row.decode("claims")) else {
            throw PostgresStoreError.corrupt(table: "records", key: "\(type)/\(subject)", column: "claims")
        }
        return SharedRecord(
            certificateType: type, subjectID: subject, owner: try row.decode("owner"), claims: claims,
            updatedAt: try row.decode("updated_at"))
    }
}

enum PGCheckpointRow {
    static func decode(_ row: PostgresRow) throws -> AuditCheckpoint {
        AuditCheckpoint(
            size: try row.decode("size"), head: try row.decode("head"), time: try row.decode("time"),
            jws: try row.decode("jws"), treeRoot: try row.decodeIfPresent("tree_root"))
    }

    static func latest(on db: PostgresConnection) throws -> AuditCheckpoint? {
        try db.query("SELECT size, head, time, jws, tree_root FROM audit_checkpoints ORDER BY size DESC LIMIT 1")
            .rows.first.map(decode)
    }
}

enum PGAuditRow {
    static let columns = """
        sequence, time, action, actor, requester, owner, certificate_type, subject_id, verification_id, \
        attestation_id, queue_item_id, detail, previous_hash, hash, clerk
        """

    static func decode(_ row: PostgresRow) throws -> AuditEntry {
        let sequence: Int64 = try row.decode("sequence")
        let event = try decodeEvent(row, table: "audit_log", key: String(sequence))
        return AuditEntry(
            sequence: sequence, time: try row.decode("time"), event: event, previousHash: try row.decode("previous_hash"),
            hash: try row.decode("hash"))
    }

    /// The event's columns of an `audit_log` or `audit_queue` row (they share them).
    static func decodeEvent(_ row: PostgresRow, table: String, key: String) throws -> AuditEvent {
        guard let detail = AuditDetailText.decode(try row.decodeIfPresent("detail")) else {
            throw PostgresStoreError.corrupt(table: table, key: key, column: "detail")
        }
        return AuditEvent(
            action: AuditAction(rawValue: try row.decode("action")), actor: try row.decode("actor"),
            requester: try row.decodeIfPresent("requester"), owner: try row.decodeIfPresent("owner"),
            certificateType: try row.decodeIfPresent("certificate_type"), subjectID: try row.decodeIfPresent("subject_id"),
            verificationID: try row.decodeIfPresent("verification_id"),
            attestationID: try row.decodeIfPresent("attestation_id"), queueItemID: try row.decodeIfPresent("queue_item_id"),
            clerk: try row.decodeIfPresent("clerk"), detail: detail)
    }
}

enum PGCatalogVersionRow {
    static let columns = "version, effective_at, reason, legal_basis, actor, created_at, changed_codes, catalog"

    static func decode(_ row: PostgresRow) throws -> CatalogVersion {
        let number: Int = try row.decode("version")
        let catalog: Catalog
        do {
            catalog = try Catalog.decodeStored(Array(try row.decode("catalog", as: String.self).utf8))
        } catch {
            throw PostgresStoreError.corrupt(table: "catalog_versions", key: String(number), column: "catalog")
        }
        guard catalog.version == number else {
            throw PostgresStoreError.corrupt(table: "catalog_versions", key: String(number), column: "version")
        }
        let codes: String = try row.decode("changed_codes")
        return CatalogVersion(
            catalog: catalog, effectiveAt: try row.decode("effective_at"), reason: try row.decode("reason"),
            legalBasis: try row.decode("legal_basis"), actor: try row.decode("actor"),
            createdAt: try row.decode("created_at"),
            changedCodes: codes.isEmpty ? [] : codes.split(separator: ",").map(String.init))
    }
}

func optional(_ value: Int64?) -> PostgresValue { value.map { .int64($0) } ?? .null }

extension PostgresConnection {
    /// Runs statements whose results are not needed, in order, failing with the first failure:
    /// several in one round trip (``pipeline(_:)``, inside the open transaction) unless
    /// `pipelined` is false (kept for the comparison in PostgresStoreTests).
    func run(_ statements: [PostgresStatement], pipelined: Bool = true) throws {
        if pipelined && statements.count > 1 {
            for outcome in try pipeline(statements) { _ = try outcome.get() }
        } else {
            for statement in statements { try query(statement.sql, statement.parameters, resultFormat: statement.resultFormat) }
        }
    }
}

/// A failure of the PostgreSQL store itself (the engine's own failures are ``PostgresError``s).
public struct PostgresStoreError: StoreFailure, Equatable {
    public let code: String
    public let message: String
    public let kind: StoreError.Kind
    public var isTransient: Bool { kind == .closed || kind == .unavailable }
    public var storeErrorKind: StoreError.Kind { kind }

    static func corrupt(table: String, key: String, column: String) -> PostgresStoreError {
        PostgresStoreError(
            code: "postgres.corrupt-row", message: "\(table) row \(key): \(column) is missing or invalid", kind: .corruptRow)
    }

    static let closed = PostgresStoreError(code: "postgres.closed", message: "the store is closed", kind: .closed)

    /// The audit queue holds ``AuditQueue/limit`` entries not yet integrated: the write is refused
    /// (transient: 503 with `Retry-After`) rather than letting the queue grow without bound.
    static let auditBacklog = PostgresStoreError(
        code: "postgres.audit-backlog",
        message: "\(AuditQueue.limit) audit entries wait for integration into the tree; nothing was stored, try again shortly",
        kind: .unavailable)
}
