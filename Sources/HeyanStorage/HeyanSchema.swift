import CSQLite
import Glibc

/// heyan's schema history. Append new migrations at the end; never edit a released one.
public enum HeyanSchema {
    /// Every migration, in order.
    public static let migrations: [Migration] = [
        Migration(version: 1, name: "service-meta") { db in
            // Facts about this installation. `instance_id` tells one database apart from another
            // (restored backups, copies), `schema_created_at` when it began; the server logs both.
            try db.execute(
                """
                CREATE TABLE service_meta (
                    key   TEXT PRIMARY KEY,
                    value TEXT NOT NULL
                ) STRICT, WITHOUT ROWID;
                """)
            try db.execute(
                "INSERT INTO service_meta (key, value) VALUES (?, strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))",
                arguments: [.text(ServiceMetaKey.schemaCreatedAt)])
            try db.execute(
                "INSERT INTO service_meta (key, value) VALUES (?, ?)",
                arguments: [.text(ServiceMetaKey.instanceID), .text(try randomHex(byteCount: 16))])
        },
        Migration(version: 2, name: "verifications-and-audit") { db in
            try db.execute(verificationSchema)
        },
        Migration(version: 3, name: "compact-attestations") { db in
            try db.execute(compactAttestationSchema)
        },
        Migration(version: 4, name: GovernanceSchema.migrationName) { db in try GovernanceSchema.apply(db) },
        CommitmentSchema.migration,
        Migration(version: 6, name: "queue-due-beyond-calendar") { db in
            // 1 when the item's due_at was counted past the last day the working-day calendar's
            // official schedules cover (weekends only there); rows from before count as 0.
            try db.execute(
                """
                ALTER TABLE queue_items ADD COLUMN due_beyond_calendar INTEGER NOT NULL DEFAULT 0
                    CHECK (due_beyond_calendar IN (0, 1));
                """)
        },
        AuditTreeSchema.migration,
        AuditTreeSchema.cosignatureMigration,
        AuditTreeSchema.retentionMigration,
        AuditTreeSchema.clerkMigration,
        Migration(version: 11, name: "console-list-pages") { db in
            // The console's newest-first lists, paged by (created_at, id) (docs/console.md).
            try db.execute(
                """
                CREATE INDEX verifications_by_requester_created ON verifications (requester, created_at, id);
                CREATE INDEX queue_items_by_owner_created ON queue_items (owner, created_at, id);
                """)
        },
        CheckConstraintSchema.migration,
        Migration(version: 13, name: "audit-department-indexes-without-actor") { db in
            // The department filter reads actor, requester and owner, each from its own index
            // (`auditEntries`). An entry whose requester or owner is its actor is found by the actor
            // index already, so those two indexes leave it out: a data-sharing submission
            // (requester = actor) and an owner's answer or record (owner = actor) write one index
            // entry, and one page per commit, less (docs/storage.md, "Migration 13").
            try db.execute(
                """
                DROP INDEX audit_log_by_requester;
                CREATE INDEX audit_log_by_requester ON audit_log (requester)
                    WHERE requester IS NOT NULL AND requester <> actor;
                DROP INDEX audit_log_by_owner;
                CREATE INDEX audit_log_by_owner ON audit_log (owner) WHERE owner IS NOT NULL AND owner <> actor;
                """)
        },
        Migration(version: 14, name: "audit-time-index-by-erasure") { db in
            // Every entry is appended with a salt, and so went into both audit_log_by_time and
            // audit_log_unerased_by_time (retention's index, migration 9). The time filter reads
            // the unerased index and a new one of erased entries instead (`auditEntries`), so an
            // append writes one time index, not two; an entry moves to the erased index only when
            // retention erases it (docs/storage.md, "Migration 14").
            try db.execute(
                """
                DROP INDEX audit_log_by_time;
                CREATE INDEX audit_log_erased_by_time ON audit_log (time) WHERE salt IS NULL;
                """)
        },
        AuditTreeSchema.nodesByPositionMigration,
        Migration(version: 16, name: "attestation-issuing-sequence") { db in
            // An attestation's proof bundle needs the audit entry that issued it. It was found through
            // audit_log_by_attestation, an index every such entry paid for (~3.5 WAL pages per commit
            // of ~20 data-sharing verifications); the attestation's row now names the entry, set when
            // both are written (docs/storage.md, "Migration 16").
            try db.execute(
                """
                ALTER TABLE attestations ADD COLUMN issuing_sequence INTEGER;
                UPDATE attestations SET issuing_sequence =
                    (SELECT min(sequence) FROM audit_log WHERE audit_log.attestation_id = attestations.id);
                DROP INDEX audit_log_by_attestation;
                """)
        },
        AuditFacetSchema.migration,
        Migration(version: 18, name: "leases-by-expiry") { db in
            // A lease also takes an owner's leased rows whose lease has expired
            // (`QueueTable.expiredSQL`). Through (owner, state, due_at, …) that read every row the
            // owner has leased, on the writer, at every lease: ~380 µs with 5,000 leased. These
            // partial indexes hold only leased rows, by expiry: the expired ones are a range
            // (docs/storage.md, "Migration 18").
            try db.execute(
                """
                CREATE INDEX queue_items_leased_by_expiry ON queue_items (owner, lease_expires_at) WHERE state = 'leased';
                CREATE INDEX spot_checks_leased_by_expiry ON spot_checks (owner, lease_expires_at) WHERE state = 'leased';
                """)
        },
    ]

    /// A migrator for ``migrations``.
    public static var migrator: Migrator { Migrator(migrations) }

    /// The version a database has once every migration ran.
    public static var latestVersion: Int { migrations.count }
}

/// Migration 2: verifications, owner queues, shared records, attestations, idempotency keys and
/// the hash-chained audit log with its signed checkpoints. docs/storage.md describes every column.
///
/// Conventions: STRICT tables; instants are INTEGER milliseconds since the epoch (UTC); claims are
/// their canonical JSON text (`ClaimSet.canonicalJSONText`); hashes are BLOBs; enumerations are their
/// API spelling, checked by CHECK constraints.
private let verificationSchema = """
    CREATE TABLE verifications (
        id               TEXT PRIMARY KEY,
        certificate_type TEXT NOT NULL,
        method           TEXT NOT NULL,
        requester        TEXT NOT NULL,
        owner            TEXT NOT NULL,
        matter_code      TEXT NOT NULL,
        purpose          TEXT NOT NULL,
        subject_id_type  TEXT NOT NULL,
        subject_id       TEXT NOT NULL,
        subject_name     TEXT NOT NULL,
        claims           TEXT NOT NULL,
        status           TEXT NOT NULL CHECK (status IN ('pending', 'answered')),
        outcome          TEXT CHECK (outcome IN ('confirmed', 'denied', 'cannot-determine')),
        disclosed        TEXT NOT NULL,
        note             TEXT,
        created_at       INTEGER NOT NULL,
        due_at           INTEGER,
        answered_at      INTEGER,
        attestation_id   TEXT,
        catalog_version  INTEGER NOT NULL
    ) STRICT;

    CREATE TABLE queue_items (
        id                   TEXT PRIMARY KEY,
        kind                 TEXT NOT NULL CHECK (kind IN ('verification', 'spot-check')),
        verification_id      TEXT NOT NULL REFERENCES verifications (id),
        owner                TEXT NOT NULL,
        created_at           INTEGER NOT NULL,
        due_at               INTEGER NOT NULL,
        state                TEXT NOT NULL CHECK (state IN ('pending', 'leased', 'done')),
        lease_token          TEXT,
        lease_expires_at     INTEGER,
        lease_count          INTEGER NOT NULL DEFAULT 0,
        overdue              INTEGER NOT NULL DEFAULT 0 CHECK (overdue IN (0, 1)),
        answered_lease_token TEXT
    ) STRICT;
    -- Leasing: an owner's pending (or leased) items, oldest due first.
    CREATE INDEX queue_items_by_owner_state_due ON queue_items (owner, state, due_at, created_at);
    -- Overdue marking: only unanswered items not yet marked.
    CREATE INDEX queue_items_overdue_candidates ON queue_items (due_at) WHERE overdue = 0 AND state <> 'done';

    CREATE TABLE records (
        certificate_type TEXT NOT NULL,
        subject_id       TEXT NOT NULL,
        owner            TEXT NOT NULL,
        claims           TEXT NOT NULL,
        updated_at       INTEGER NOT NULL,
        PRIMARY KEY (certificate_type, subject_id)
    ) STRICT, WITHOUT ROWID;

    CREATE TABLE attestations (
        id                TEXT PRIMARY KEY,
        verification_id   TEXT NOT NULL REFERENCES verifications (id),
        issuer            TEXT NOT NULL,
        requester         TEXT NOT NULL,
        certificate_type  TEXT NOT NULL,
        subject_id        TEXT NOT NULL,
        outcome           TEXT NOT NULL CHECK (outcome IN ('confirmed', 'denied', 'cannot-determine')),
        jws               TEXT NOT NULL,
        issued_at         INTEGER NOT NULL,
        expires_at        INTEGER NOT NULL,
        revoked_at        INTEGER,
        revocation_reason TEXT,
        revoked_by        TEXT
    ) STRICT;

    CREATE TABLE idempotency_keys (
        requester    TEXT NOT NULL,
        key          TEXT NOT NULL,
        request_hash BLOB NOT NULL,
        status       INTEGER NOT NULL,
        body         BLOB NOT NULL,
        created_at   INTEGER NOT NULL,
        PRIMARY KEY (requester, key)
    ) STRICT;

    -- The hash-chained audit log (docs/audit.md). `sequence` is the rowid: 1, 2, 3, ... without gaps.
    CREATE TABLE audit_log (
        sequence         INTEGER PRIMARY KEY,
        time             INTEGER NOT NULL,
        action           TEXT NOT NULL,
        actor            TEXT NOT NULL,
        requester        TEXT,
        owner            TEXT,
        certificate_type TEXT,
        subject_id       TEXT,
        verification_id  TEXT,
        attestation_id   TEXT,
        queue_item_id    TEXT,
        detail           TEXT,
        previous_hash    BLOB NOT NULL,
        hash             BLOB NOT NULL
    ) STRICT;
    -- One index per auditor filter; each implicitly ends with the sequence, so a filtered page is
    -- read in sequence order from its index.
    CREATE INDEX audit_log_by_subject ON audit_log (subject_id) WHERE subject_id IS NOT NULL;
    CREATE INDEX audit_log_by_requester ON audit_log (requester) WHERE requester IS NOT NULL;
    CREATE INDEX audit_log_by_owner ON audit_log (owner) WHERE owner IS NOT NULL;
    CREATE INDEX audit_log_by_actor ON audit_log (actor);
    CREATE INDEX audit_log_by_certificate_type ON audit_log (certificate_type) WHERE certificate_type IS NOT NULL;
    CREATE INDEX audit_log_by_action ON audit_log (action);
    CREATE INDEX audit_log_by_time ON audit_log (time);
    -- Append-only as far as heyan's own SQL goes. Not a security boundary (whoever can write the
    -- file can drop a trigger); the hash chain and the signed checkpoints are.
    CREATE TRIGGER audit_log_append_only_update BEFORE UPDATE ON audit_log
        BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END;
    CREATE TRIGGER audit_log_append_only_delete BEFORE DELETE ON audit_log
        BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END;

    -- Signed statements of the log's size and head hash (AuditCheckpoint).
    CREATE TABLE audit_checkpoints (
        size INTEGER PRIMARY KEY,
        head BLOB NOT NULL,
        time INTEGER NOT NULL,
        jws  TEXT NOT NULL
    ) STRICT;
    """

/// Keys of the `service_meta` table.
public enum ServiceMetaKey {
    /// UTC time (ISO 8601, milliseconds) the schema was first created.
    public static let schemaCreatedAt = "schema_created_at"
    /// 128 random bits in lowercase hex, fixed for the life of the database.
    public static let instanceID = "instance_id"
    /// When the last `/readyz` probe transaction wrote (RFC 3339): the probe's one row.
    public static let readinessProbeAt = "readiness_probe_at"
}

/// `byteCount` bytes from the kernel's CSPRNG (`/dev/urandom`), as lowercase hex.
func randomHex(byteCount: Int) throws -> String {
    var bytes = [UInt8](repeating: 0, count: byteCount)
    let descriptor = open("/dev/urandom", O_RDONLY | O_CLOEXEC)
    guard descriptor >= 0 else { throw randomFailure(errno) }
    defer { _ = close(descriptor) }
    var filled = 0
    while filled < byteCount {
        let count = bytes.withUnsafeMutableBytes { buffer in
            read(descriptor, buffer.baseAddress! + filled, byteCount - filled)
        }
        if count > 0 {
            filled += count
        } else if count < 0, errno == EINTR {
            continue
        } else {
            throw randomFailure(count == 0 ? EIO : errno)
        }
    }
    let digits = Array("0123456789abcdef".utf8)
    var hex: [UInt8] = []
    hex.reserveCapacity(byteCount * 2)
    for byte in bytes {
        hex.append(digits[Int(byte >> 4)])
        hex.append(digits[Int(byte & 0x0F)])
    }
    return String(decoding: hex, as: UTF8.self)
}

private func randomFailure(_ failure: Int32) -> SQLiteError {
    SQLiteError(
        code: "sqlite.random", resultCode: SQLITE_ERROR,
        message: "cannot read /dev/urandom: \(String(cString: strerror(failure)))")
}
