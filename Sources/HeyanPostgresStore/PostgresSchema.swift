import HeyanCrypto
import HeyanDomain
import HeyanPostgres

/// heyan's PostgreSQL schema history (docs/postgresql.md, "Schema"). The tables mirror the SQLite
/// store's (HeyanStorage, `HeyanSchema`) column for column, with PostgreSQL types: instants are
/// `bigint` milliseconds, hashes `bytea`, claims their canonical JSON as `text`. Append new
/// migrations at the end; never edit a released one. Applied by ``PostgresMigrator`` under its
/// advisory lock, so nodes starting at once migrate once.
public enum PostgresStoreSchema {
    public static let migrations: [PostgresMigration] = [
        PostgresMigration(version: 1, name: "heyan-store") { db in try db.execute(storeSchema) },
        PostgresMigration(version: 2, name: "complaints") { db in
            try db.execute(
                """
                CREATE TABLE complaints (
                    id                   text PRIMARY KEY,
                    filed_by             text NOT NULL,
                    on_behalf_of_citizen boolean NOT NULL,
                    against_department   text NOT NULL,
                    certificate_demanded text NOT NULL,
                    catalog_standing     text NOT NULL CHECK (catalog_standing IN ('cancelled', 'listed', 'unlisted')),
                    catalog_version      integer NOT NULL,
                    matter_code          text,
                    description          text NOT NULL,
                    status               text NOT NULL CHECK (status IN ('open', 'handled')),
                    created_at           bigint NOT NULL,
                    handled_at           bigint,
                    handled_by           text,
                    reply                text
                );
                CREATE INDEX complaints_by_filer ON complaints (filed_by, id);
                """)
        },
        PostgresMigration(version: 3, name: "commitments-witnesses-retention") { db in
            try db.execute(commitmentsWitnessesRetention)
            // The sampling key of this installation (docs/commitments.md), as SQLite's migration 5
            // makes it: 32 random bytes, lowercase hex, fixed for the life of the database.
            try db.query(
                "INSERT INTO service_meta (key, value) VALUES ('spot_check_seed', $1)",
                [.text(hex(SecureRandom.bytes(32)))])
        },
        PostgresMigration(version: 4, name: "audit-queue") { db in try db.execute(auditQueueSchema) },
        PostgresMigration(version: 5, name: "audit-clerk") { db in
            // The clerk (经办人) of the actor department, when known (docs/console.md, "Clerks");
            // NULL in every entry written before, which hash as they always did. The erasure after
            // retention keeps it, as every column but salt, subject ID and detail.
            try db.execute(
                """
                ALTER TABLE audit_log ADD COLUMN clerk text;
                ALTER TABLE audit_queue ADD COLUMN clerk text;
                CREATE OR REPLACE FUNCTION audit_log_erasure_only() RETURNS trigger LANGUAGE plpgsql AS $$
                BEGIN
                    IF OLD.salt IS NOT NULL AND NEW.salt IS NULL AND NEW.subject_id IS NULL
                        AND NEW.sequence = OLD.sequence AND NEW.time = OLD.time AND NEW.action = OLD.action
                        AND NEW.actor = OLD.actor AND NEW.requester IS NOT DISTINCT FROM OLD.requester
                        AND NEW.owner IS NOT DISTINCT FROM OLD.owner
                        AND NEW.certificate_type IS NOT DISTINCT FROM OLD.certificate_type
                        AND NEW.verification_id IS NOT DISTINCT FROM OLD.verification_id
                        AND NEW.attestation_id IS NOT DISTINCT FROM OLD.attestation_id
                        AND NEW.queue_item_id IS NOT DISTINCT FROM OLD.queue_item_id
                        AND NEW.clerk IS NOT DISTINCT FROM OLD.clerk
                        AND NEW.leaf = OLD.leaf AND NEW.previous_hash = OLD.previous_hash AND NEW.hash = OLD.hash
                    THEN
                        RETURN NEW;
                    END IF;
                    RAISE EXCEPTION 'audit_log is append-only';
                END $$;
                """)
        },
        PostgresMigration(version: 6, name: "console-list-pages") { db in
            // The console's newest-first lists, paged by (created_at, id) (docs/console.md).
            try db.execute(
                """
                CREATE INDEX verifications_by_requester_created ON verifications (requester, created_at, id);
                CREATE INDEX queue_items_by_owner_created ON queue_items (owner, created_at, id);
                """)
        },
        PostgresMigration(version: 7, name: "write-path-cpu") { db in try db.execute(writePathCPUSchema) },
        PostgresMigration(version: 8, name: "attestation-header-by-reference") { db in
            try db.execute(attestationHeaderByReference)
        },
        PostgresMigration(version: 9, name: "leases-by-expiry") { db in
            // The expired leases a lease also takes, as a range (`PGQueueTable.lease`; SQLite's
            // migration 18, docs/storage.md).
            try db.execute(
                """
                CREATE INDEX queue_items_leased_by_expiry ON queue_items (owner, lease_expires_at) WHERE state = 'leased';
                CREATE INDEX spot_checks_leased_by_expiry ON spot_checks (owner, lease_expires_at) WHERE state = 'leased';
                """)
        },
    ]

    public static var migrator: PostgresMigrator { PostgresMigrator(migrations) }
}

private let storeSchema = """
    CREATE TABLE service_meta (
        key   text PRIMARY KEY,
        value text NOT NULL
    );
    INSERT INTO service_meta (key, value) VALUES
        ('schema_created_at', to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')),
        ('instance_id', md5(random()::text || clock_timestamp()::text));

    CREATE TABLE verifications (
        id               text PRIMARY KEY,
        certificate_type text NOT NULL,
        method           text NOT NULL,
        requester        text NOT NULL,
        owner            text NOT NULL,
        matter_code      text NOT NULL,
        purpose          text NOT NULL,
        subject_id_type  text NOT NULL,
        subject_id       text NOT NULL,
        subject_name     text NOT NULL,
        claims           text NOT NULL,
        status           text NOT NULL CHECK (status IN ('pending', 'answered')),
        outcome          text CHECK (outcome IN ('confirmed', 'denied', 'cannot-determine')),
        disclosed        text NOT NULL,
        note             text,
        created_at       bigint NOT NULL,
        due_at           bigint,
        answered_at      bigint,
        attestation_id   text,
        catalog_version  integer NOT NULL
    );

    CREATE TABLE queue_items (
        id                   text PRIMARY KEY,
        kind                 text NOT NULL CHECK (kind IN ('verification', 'spot-check')),
        verification_id      text NOT NULL REFERENCES verifications (id),
        owner                text NOT NULL,
        created_at           bigint NOT NULL,
        due_at               bigint NOT NULL,
        state                text NOT NULL CHECK (state IN ('pending', 'leased', 'done')),
        lease_token          text,
        lease_expires_at     bigint,
        lease_count          integer NOT NULL DEFAULT 0,
        overdue              boolean NOT NULL DEFAULT false,
        answered_lease_token text,
        due_beyond_calendar  boolean NOT NULL DEFAULT false
    );
    CREATE INDEX queue_items_by_owner_state_due ON queue_items (owner, state, due_at, created_at);
    CREATE INDEX queue_items_overdue_candidates ON queue_items (due_at) WHERE NOT overdue AND state <> 'done';

    CREATE TABLE records (
        certificate_type text NOT NULL,
        subject_id       text NOT NULL,
        owner            text NOT NULL,
        claims           text NOT NULL,
        updated_at       bigint NOT NULL,
        PRIMARY KEY (certificate_type, subject_id)
    );

    CREATE TABLE jws_headers (
        id     bigserial PRIMARY KEY,
        header text NOT NULL UNIQUE
    );

    CREATE TABLE attestations (
        id                text PRIMARY KEY,
        verification_id   text NOT NULL REFERENCES verifications (id),
        issuer            text NOT NULL,
        requester         text NOT NULL,
        certificate_type  text NOT NULL,
        subject_id        text NOT NULL,
        outcome           text NOT NULL CHECK (outcome IN ('confirmed', 'denied', 'cannot-determine')),
        jws               text NOT NULL,
        issued_at         bigint NOT NULL,
        expires_at        bigint NOT NULL,
        revoked_at        bigint,
        revocation_reason text,
        revoked_by        text
    );

    CREATE TABLE idempotency_keys (
        requester    text NOT NULL,
        key          text NOT NULL,
        request_hash bytea NOT NULL,
        status       integer NOT NULL,
        body         bytea NOT NULL,
        created_at   bigint NOT NULL,
        PRIMARY KEY (requester, key)
    );

    CREATE TABLE audit_log (
        sequence         bigint PRIMARY KEY CHECK (sequence > 0),
        time             bigint NOT NULL,
        action           text NOT NULL,
        actor            text NOT NULL,
        requester        text,
        owner            text,
        certificate_type text,
        subject_id       text,
        verification_id  text,
        attestation_id   text,
        queue_item_id    text,
        detail           text,
        previous_hash    bytea NOT NULL,
        hash             bytea NOT NULL,
        salt             bytea NOT NULL CHECK (length(salt) = 32),
        leaf             bytea NOT NULL CHECK (length(leaf) = 32)
    );
    CREATE INDEX audit_log_by_subject ON audit_log (subject_id, sequence) WHERE subject_id IS NOT NULL;
    CREATE INDEX audit_log_by_requester ON audit_log (requester, sequence) WHERE requester IS NOT NULL;
    CREATE INDEX audit_log_by_owner ON audit_log (owner, sequence) WHERE owner IS NOT NULL;
    CREATE INDEX audit_log_by_actor ON audit_log (actor, sequence);
    CREATE INDEX audit_log_by_certificate_type ON audit_log (certificate_type, sequence) WHERE certificate_type IS NOT NULL;
    CREATE INDEX audit_log_by_action ON audit_log (action, sequence);
    CREATE INDEX audit_log_by_time ON audit_log (time);
    CREATE INDEX audit_log_by_attestation ON audit_log (attestation_id) WHERE attestation_id IS NOT NULL;
    CREATE FUNCTION audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS
        $$ BEGIN RAISE EXCEPTION 'audit_log is append-only'; END $$;
    CREATE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE ON audit_log
        FOR EACH STATEMENT EXECUTE FUNCTION audit_log_append_only();

    -- The Merkle tree over audit_log (leaf s-1 = entry s); level 0 lives in audit_log.leaf.
    CREATE TABLE audit_tree_nodes (
        level integer NOT NULL CHECK (level BETWEEN 1 AND 63),
        idx   bigint NOT NULL CHECK (idx >= 0),
        hash  bytea NOT NULL CHECK (length(hash) = 32),
        PRIMARY KEY (level, idx)
    );
    -- One row: the tree's size and root and the chain's head hash as of the last commit. Every
    -- transaction that appends audit entries locks it first (SELECT … FOR UPDATE): the lock orders
    -- appends across nodes (docs/postgresql.md, "Audit log").
    CREATE TABLE audit_tree (
        id           integer PRIMARY KEY CHECK (id = 0),
        size         bigint NOT NULL CHECK (size >= 0),
        root         bytea NOT NULL CHECK (length(root) = 32),
        head_hash    bytea NOT NULL CHECK (length(head_hash) = 32),
        chain_leaves bigint NOT NULL DEFAULT 0
    );
    INSERT INTO audit_tree (id, size, root, head_hash) VALUES (0, 0,
        '\\xe3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855', decode(repeat('00', 32), 'hex'));

    CREATE TABLE audit_checkpoints (
        size      bigint PRIMARY KEY,
        head      bytea NOT NULL,
        time      bigint NOT NULL,
        jws       text NOT NULL,
        tree_root bytea
    );
    CREATE TABLE audit_checkpoint_notes (
        size       bigint PRIMARY KEY CHECK (size > 0),
        root       bytea NOT NULL CHECK (length(root) = 32),
        note       text NOT NULL,
        created_at bigint NOT NULL
    );

    CREATE TABLE catalog_versions (
        version       integer PRIMARY KEY,
        effective_at  bigint NOT NULL,
        reason        text NOT NULL,
        legal_basis   text NOT NULL,
        actor         text NOT NULL,
        created_at    bigint NOT NULL,
        changed_codes text NOT NULL,
        catalog       text NOT NULL
    );
    """

/// Migration 3: what SQLite's migrations 5, 8 and 9 added — commitments with their spot checks and
/// the credit list, witness cosignatures of checkpoint notes, and erasure after retention: the
/// append-only trigger lets exactly one kind of UPDATE through (salt and subject ID set to NULL,
/// detail reduced, every other column unchanged); DELETE and TRUNCATE are still refused.
private let commitmentsWitnessesRetention = """
    CREATE TABLE commitments (
        id                        text PRIMARY KEY,
        certificate_type          text NOT NULL,
        requester                 text NOT NULL,
        owner                     text NOT NULL,
        matter_code               text NOT NULL,
        purpose                   text NOT NULL,
        subject_id_type           text NOT NULL,
        subject_id                text NOT NULL,
        subject_name              text NOT NULL,
        claims                    text NOT NULL,
        text_sha256               bytea NOT NULL,
        text                      text,
        signed_at                 bigint NOT NULL,
        signed_via                text NOT NULL CHECK (signed_via IN ('paper', 'online')),
        created_at                bigint NOT NULL,
        status                    text NOT NULL
            CHECK (status IN ('committed', 'under-check', 'consistent', 'false-commitment')),
        sample_rule               text NOT NULL,
        sample_seed               text NOT NULL,
        sample_value              text NOT NULL,
        sample_rate               double precision NOT NULL,
        sampled                   boolean NOT NULL,
        spot_check_id             text,
        spot_check_due_at         bigint,
        check_outcome             text CHECK (check_outcome IN ('consistent', 'false-commitment')),
        check_note                text,
        check_evidence            text,
        checked_by                text,
        checked_at                bigint,
        receipt_id                text NOT NULL UNIQUE,
        receipt_jws               text NOT NULL,
        receipt_issued_at         bigint NOT NULL,
        receipt_expires_at        bigint NOT NULL,
        receipt_revoked_at        bigint,
        receipt_revocation_reason text,
        receipt_revoked_by        text,
        credit_entry_id           text,
        catalog_version           integer NOT NULL
    );

    -- An owner's spot checks, leased like queue_items (GET /v1/queue, kind spot-check).
    CREATE TABLE spot_checks (
        id                   text PRIMARY KEY,
        commitment_id        text NOT NULL UNIQUE REFERENCES commitments (id),
        owner                text NOT NULL,
        created_at           bigint NOT NULL,
        due_at               bigint NOT NULL,
        state                text NOT NULL CHECK (state IN ('pending', 'leased', 'done')),
        lease_token          text,
        lease_expires_at     bigint,
        lease_count          integer NOT NULL DEFAULT 0,
        overdue              boolean NOT NULL DEFAULT false,
        answered_lease_token text
    );
    CREATE INDEX spot_checks_by_owner_state_due ON spot_checks (owner, state, due_at, created_at);

    -- The credit list: false commitments on record; active while removed_at IS NULL.
    CREATE TABLE credit_entries (
        id               text PRIMARY KEY,
        subject_id_type  text NOT NULL,
        subject_id       text NOT NULL,
        certificate_type text NOT NULL,
        commitment_id    text NOT NULL REFERENCES commitments (id),
        reason           text NOT NULL,
        evidence         text,
        recorded_by      text NOT NULL,
        recorded_at      bigint NOT NULL,
        removed_at       bigint,
        removed_by       text,
        removal_reason   text
    );
    CREATE INDEX credit_entries_by_subject ON credit_entries (subject_id);

    CREATE TABLE audit_checkpoint_cosignatures (
        size        bigint NOT NULL REFERENCES audit_checkpoint_notes (size),
        witness     text NOT NULL,
        line        text NOT NULL,
        received_at bigint NOT NULL,
        PRIMARY KEY (size, witness)
    );

    ALTER TABLE audit_log ALTER COLUMN salt DROP NOT NULL;
    DROP TRIGGER audit_log_append_only ON audit_log;
    CREATE TRIGGER audit_log_append_only BEFORE DELETE OR TRUNCATE ON audit_log
        FOR EACH STATEMENT EXECUTE FUNCTION audit_log_append_only();
    CREATE FUNCTION audit_log_erasure_only() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        IF OLD.salt IS NOT NULL AND NEW.salt IS NULL AND NEW.subject_id IS NULL
            AND NEW.sequence = OLD.sequence AND NEW.time = OLD.time AND NEW.action = OLD.action
            AND NEW.actor = OLD.actor AND NEW.requester IS NOT DISTINCT FROM OLD.requester
            AND NEW.owner IS NOT DISTINCT FROM OLD.owner
            AND NEW.certificate_type IS NOT DISTINCT FROM OLD.certificate_type
            AND NEW.verification_id IS NOT DISTINCT FROM OLD.verification_id
            AND NEW.attestation_id IS NOT DISTINCT FROM OLD.attestation_id
            AND NEW.queue_item_id IS NOT DISTINCT FROM OLD.queue_item_id
            AND NEW.leaf = OLD.leaf AND NEW.previous_hash = OLD.previous_hash AND NEW.hash = OLD.hash
        THEN
            RETURN NEW;
        END IF;
        RAISE EXCEPTION 'audit_log is append-only';
    END $$;
    CREATE TRIGGER audit_log_erasure_only BEFORE UPDATE ON audit_log
        FOR EACH ROW EXECUTE FUNCTION audit_log_erasure_only();
    CREATE INDEX audit_log_unerased_by_time ON audit_log (time) WHERE salt IS NOT NULL;
    """

/// Migration 4: audit entries are queued unsequenced in the transaction of their change, and one
/// integrator at a time moves them into `audit_log` (docs/postgresql.md, "Audit"). Writers no
/// longer touch `audit_tree`; only the integrator and the checkpoint writers lock its row.
private let auditQueueSchema = """
    CREATE TABLE audit_queue (
        id               bigserial PRIMARY KEY,
        queued_at        bigint NOT NULL DEFAULT (extract(epoch FROM clock_timestamp()) * 1000)::bigint,
        time             bigint NOT NULL,
        action           text NOT NULL,
        actor            text NOT NULL,
        requester        text,
        owner            text,
        certificate_type text,
        subject_id       text,
        verification_id  text,
        attestation_id   text,
        queue_item_id    text,
        detail           text,
        salt             bytea NOT NULL CHECK (length(salt) = 32)
    );
    COMMENT ON TABLE audit_queue IS
        'Audit entries committed with their change, not yet sequenced; the integrator moves them into audit_log in id order.';
    COMMENT ON TABLE audit_tree IS
        'One row: tree size, root and chain head hash. Locked (FOR UPDATE) only by the integrator and by checkpoint writers.';
    """

/// Migration 7: the same rows and the same refusals for less of the database's CPU per write
/// (docs/postgresql.md, "Schema"; measured there). No table is rewritten and no data changes.
///
/// - A table's CHECK constraint is read back from the catalog text (`stringToNode`) and planned
///   again at the start of every statement that inserts or updates the table: ~30 K instructions per
///   constraint per statement, half of what the executor spent per verification. A domain's CHECK
///   is parsed and planned once per session and cached, so the hot tables' value checks move to
///   domains: the same values are refused with the same SQLSTATE (23514, `check_violation`). Each
///   domain is created empty, the columns retyped (binary-coercible: no rewrite; only the partial
///   index `queue_items_overdue_candidates`, whose predicate names `state`, is rebuilt), then the
///   check added and the table's constraint dropped. The domain checks are `NOT VALID`: the rows
///   already passed the identical table CHECK, so the migration does not read them again under
///   its exclusive locks; every value written from now on is checked.
/// - An attestation's JWS (~2.7 KB) made its row pass the 2 KB TOAST threshold, and every insert
///   first tried to pglz-compress it — base64url, so compression always failed — then stored it out of
///   line anyway. `STORAGE EXTERNAL` skips the compression attempt; the value still goes out of line,
///   so the table's own pages stay narrow for the scans of retention. Rows written before keep
///   their (uncompressed) values.
private let writePathCPUSchema = """
    CREATE DOMAIN heyan_outcome AS text;
    CREATE DOMAIN heyan_verification_status AS text;
    CREATE DOMAIN heyan_queue_kind AS text;
    CREATE DOMAIN heyan_queue_state AS text;
    CREATE DOMAIN heyan_bytes32 AS bytea;
    ALTER TABLE verifications
        ALTER COLUMN status TYPE heyan_verification_status, ALTER COLUMN outcome TYPE heyan_outcome;
    ALTER TABLE queue_items ALTER COLUMN kind TYPE heyan_queue_kind, ALTER COLUMN state TYPE heyan_queue_state;
    ALTER TABLE spot_checks ALTER COLUMN state TYPE heyan_queue_state;
    ALTER TABLE attestations ALTER COLUMN outcome TYPE heyan_outcome, ALTER COLUMN jws SET STORAGE EXTERNAL;
    ALTER TABLE audit_queue ALTER COLUMN salt TYPE heyan_bytes32;
    ALTER DOMAIN heyan_outcome
        ADD CONSTRAINT heyan_outcome_check CHECK (VALUE IN ('confirmed', 'denied', 'cannot-determine')) NOT VALID;
    ALTER DOMAIN heyan_verification_status
        ADD CONSTRAINT heyan_verification_status_check CHECK (VALUE IN ('pending', 'answered')) NOT VALID;
    ALTER DOMAIN heyan_queue_kind
        ADD CONSTRAINT heyan_queue_kind_check CHECK (VALUE IN ('verification', 'spot-check')) NOT VALID;
    ALTER DOMAIN heyan_queue_state
        ADD CONSTRAINT heyan_queue_state_check CHECK (VALUE IN ('pending', 'leased', 'done')) NOT VALID;
    ALTER DOMAIN heyan_bytes32 ADD CONSTRAINT heyan_bytes32_check CHECK (length(VALUE) = 32) NOT VALID;
    ALTER TABLE verifications DROP CONSTRAINT verifications_status_check, DROP CONSTRAINT verifications_outcome_check;
    ALTER TABLE queue_items DROP CONSTRAINT queue_items_kind_check, DROP CONSTRAINT queue_items_state_check;
    ALTER TABLE spot_checks DROP CONSTRAINT spot_checks_state_check;
    ALTER TABLE attestations DROP CONSTRAINT attestations_outcome_check;
    ALTER TABLE audit_queue DROP CONSTRAINT audit_queue_salt_check;
    """

/// Migration 8: attestations are stored without their JWS protected header, as SQLite's migration 3
/// stores them (docs/postgresql.md, "Database CPU per write"; measured there).
///
/// The protected header (`alg`, `typ`, `kid` and the `x5c` chain: ~1.9 KB of the ~2.7 KB JWS) is the
/// same for every attestation signed with one key, and is already stored once in `jws_headers`.
/// Stored whole, the JWS took the row past the 2 KB TOAST threshold, so each insert also wrote a TOAST
/// row, its index entry and their WAL. From this migration on a new row keeps only the payload and
/// signature segments in `jws` (~0.8 KB, inline) and names the header's row in `header_id`; reading
/// joins them back into the identical compact JWS. Rows written before (with `header_id` NULL) keep
/// the whole JWS and read back as they are: nothing is rewritten, so the migration takes only a
/// brief lock (a nullable column with no default is a catalog change).
///
/// No foreign key: its check would lock the header's row (`FOR KEY SHARE`) on every insert — a
/// WAL record on the header's page each time, and a multixact when writers of several nodes hold it
/// at once. `jws_headers` rows are never updated or deleted, and a row names a header only by an id
/// the writer saw committed (``PGAttestationRow/insert(_:byReference:)``; until then, the first
/// attestations under a new header are stored whole, header registered before them in their
/// transaction). A row naming a missing header is refused when read (`corrupt`).
private let attestationHeaderByReference = """
    ALTER TABLE attestations ADD COLUMN header_id bigint;
    COMMENT ON COLUMN attestations.header_id IS
        'The JWS protected header''s row in jws_headers; jws then holds only the payload and signature segments (header.jws is the JWS). NULL: jws is the whole JWS (rows before migration 8, erased rows).';
    """
