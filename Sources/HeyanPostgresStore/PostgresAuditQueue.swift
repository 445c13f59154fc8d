import HeyanCrypto
import HeyanDomain
import HeyanPostgres

/// The queue of unsequenced audit entries (`audit_queue`, migration 3; docs/postgresql.md, "Audit").
///
/// A write transaction inserts its entries here — every field of the entry and a fresh 32-byte
/// salt, no sequence, no chain hash, no leaf — and touches no shared row, so audited writes on
/// several nodes do not wait for each other. ``AuditIntegrator`` later gives them their sequence.
enum AuditQueue {
    /// Entries the queue may hold: past it, audited writes are refused with 503 + `Retry-After`
    /// (Tessera's push-back; docs/transparency-log.md, "Integration bound"). Also the most one
    /// integration transaction takes.
    static let limit = 4096

    static let insertColumns = PGInsertColumns(
        table: "audit_queue",
        [
            "time": "bigint", "action": "text", "actor": "text", "requester": "text", "owner": "text",
            "certificate_type": "text", "subject_id": "text", "verification_id": "text", "attestation_id": "text",
            "queue_item_id": "text", "detail": "text", "salt": "bytea", "clerk": "text",
        ])

    static let insertSQL = insertColumns.valuesSQL + " RETURNING id"

    /// `event`'s entry at `time` with a fresh salt: one value per column of ``insertColumns``. A
    /// batch's single round trip inserts all of its entries in one statement, in the batch's order
    /// (``PGBatchInsert``); `id`, from the table's sequence, is drawn in that order.
    static func row(_ event: AuditEvent, at time: Millis) -> PGRow {
        PGRow(
            table: .auditQueue,
            values: [
                .int64(time), .text(event.action.rawValue), .text(event.actor), .text(event.requester), .text(event.owner),
                .text(event.certificateType), .text(event.subjectID), .text(event.verificationID),
                .text(event.attestationID), .text(event.queueItemID), .text(AuditDetailText.encode(event.detail)),
                .bytes(SecureRandom.bytes(32)), .text(event.clerk),
            ])
    }

    /// The statement inserting `event` at `time` with a fresh salt, alone (the careful way).
    static func insertStatement(_ event: AuditEvent, at time: Millis) -> PostgresStatement {
        PostgresStatement(insertSQL, row(event, at: time).values)
    }

    /// The id of the oldest queued entry, nil when the queue is empty: a probe of the primary key,
    /// which skips the dead rows of integrated entries a scan of the churned queue's heap would read.
    static func firstID(on connection: PostgresConnection) throws -> Int64? {
        try connection.query("SELECT id FROM audit_queue ORDER BY id LIMIT 1").rows.first?.decode("id")
    }

    /// Committed entries waiting, as a write is admitted against them: an upper bound while the
    /// queue is short, the count (up to ``limit``) near the limit.
    ///
    /// The bound is `max(id) − min(id) + 1`, two probes of the primary key. Counting rows instead
    /// reads the queue's heap from its start, dead rows of integrated entries included — on a
    /// churned queue, hundreds of them. Ids have gaps (entries of rolled-back transactions), so
    /// the bound may exceed the count; under ``limit``/2 it is used as is (a batch queueing more
    /// than half the limit may be refused a little early), from there the rows are counted, so
    /// the limit itself is exact.
    static func waiting(on connection: PostgresConnection) throws -> Int {
        try connection.query(waitingSQL).rows.first?.decode("waiting") ?? 0
    }

    static let waitingSQL = """
        SELECT CASE WHEN b.bound < \(limit / 2) THEN b.bound
            ELSE (SELECT count(*) FROM (SELECT 1 FROM audit_queue LIMIT \(limit)) AS q) END AS waiting
        FROM (SELECT coalesce(max(id) - min(id) + 1, 0) AS bound FROM audit_queue) AS b
        """

    /// For a batch's single round trip: answers ``waiting(on:)`` as `waiting`, and fails (division
    /// by zero, SQLSTATE 22012) when it is `threshold` or more, so that the pipeline — its COMMIT
    /// included — is aborted and the batch admitted job by job.
    static func admissionStatement(below threshold: Int) -> PostgresStatement {
        PostgresStatement(admissionSQL, [.int64(Int64(threshold))])
    }

    private static let admissionSQL =
        "SELECT w.waiting, 1 / (CASE WHEN w.waiting < $1 THEN 1 ELSE 0 END) AS admitted FROM (\(waitingSQL)) AS w"

    /// Committed entries waiting and the age of the oldest by the database server's clock.
    static func backlog(on connection: PostgresConnection) throws -> AuditIntegrationBacklog {
        guard
            let row = try connection.query(
                """
                SELECT count(*) AS n,
                    coalesce((extract(epoch FROM clock_timestamp()) * 1000)::bigint - min(queued_at), 0) AS age
                FROM audit_queue
                """
            ).rows.first
        else { return .empty }
        let age: Int64 = try row.decode("age")
        return AuditIntegrationBacklog(entries: try row.decode("n"), oldestAgeSeconds: Double(max(0, age)) / 1000)
    }
}
