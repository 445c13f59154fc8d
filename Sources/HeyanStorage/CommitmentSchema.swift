/// Migration 3 (`commitments`): notify-and-commit (告知承诺), its spot checks and the credit list.
/// docs/storage.md and docs/commitments.md describe every column. Conventions as migration 2.
enum CommitmentSchema {
    static let migration = Migration(version: 5, name: "commitments") { db in
        try db.execute(sql)
        // The sampling key of this installation (docs/commitments.md): fixed for the life of the
        // database and recorded with every decision, so any decision can be recomputed.
        try db.execute(
            "INSERT INTO service_meta (key, value) VALUES (?, ?)",
            arguments: [.text(ServiceMetaKey.spotCheckSeed), .text(try randomHex(byteCount: 32))])
    }

    static let sql = """
        CREATE TABLE commitments (
            id                        TEXT PRIMARY KEY,
            certificate_type          TEXT NOT NULL,
            requester                 TEXT NOT NULL,
            owner                     TEXT NOT NULL,
            matter_code               TEXT NOT NULL,
            purpose                   TEXT NOT NULL,
            subject_id_type           TEXT NOT NULL,
            subject_id                TEXT NOT NULL,
            subject_name              TEXT NOT NULL,
            claims                    TEXT NOT NULL,
            text_sha256               BLOB NOT NULL,
            text                      TEXT,
            signed_at                 INTEGER NOT NULL,
            signed_via                TEXT NOT NULL CHECK (signed_via IN ('paper', 'online')),
            created_at                INTEGER NOT NULL,
            status                    TEXT NOT NULL
                CHECK (status IN ('committed', 'under-check', 'consistent', 'false-commitment')),
            sample_rule               TEXT NOT NULL,
            sample_seed               TEXT NOT NULL,
            sample_value              TEXT NOT NULL,
            sample_rate               REAL NOT NULL,
            sampled                   INTEGER NOT NULL CHECK (sampled IN (0, 1)),
            spot_check_id             TEXT,
            spot_check_due_at         INTEGER,
            check_outcome             TEXT CHECK (check_outcome IN ('consistent', 'false-commitment')),
            check_note                TEXT,
            check_evidence            TEXT,
            checked_by                TEXT,
            checked_at                INTEGER,
            receipt_id                TEXT NOT NULL UNIQUE,
            receipt_jws               TEXT NOT NULL,
            receipt_issued_at         INTEGER NOT NULL,
            receipt_expires_at        INTEGER NOT NULL,
            receipt_revoked_at        INTEGER,
            receipt_revocation_reason TEXT,
            receipt_revoked_by        TEXT,
            credit_entry_id           TEXT,
            catalog_version           INTEGER NOT NULL
        ) STRICT;

        -- An owner's spot checks, leased like queue_items (GET /v1/queue, kind spot-check).
        CREATE TABLE spot_checks (
            id                   TEXT PRIMARY KEY,
            commitment_id        TEXT NOT NULL UNIQUE REFERENCES commitments (id),
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
        CREATE INDEX spot_checks_by_owner_state_due ON spot_checks (owner, state, due_at, created_at);

        -- The credit list: false commitments on record; active while removed_at IS NULL.
        CREATE TABLE credit_entries (
            id               TEXT PRIMARY KEY,
            subject_id_type  TEXT NOT NULL,
            subject_id       TEXT NOT NULL,
            certificate_type TEXT NOT NULL,
            commitment_id    TEXT NOT NULL REFERENCES commitments (id),
            reason           TEXT NOT NULL,
            evidence         TEXT,
            recorded_by      TEXT NOT NULL,
            recorded_at      INTEGER NOT NULL,
            removed_at       INTEGER,
            removed_by       TEXT,
            removal_reason   TEXT
        ) STRICT;
        CREATE INDEX credit_entries_by_subject ON credit_entries (subject_id);
        """
}

extension ServiceMetaKey {
    /// 32 random bytes in lowercase hex: the HMAC key of spot-check sampling (migration 5).
    public static let spotCheckSeed = "spot_check_seed"
}
