/// The catalog-governance migration: stored catalog versions and complaints.
/// docs/storage.md ("Catalog governance") describes every column.
///
/// Self-contained so that it can take any place in ``HeyanSchema/migrations``.
enum GovernanceSchema {
    static let migrationName = "catalog-governance"

    static func apply(_ db: SQLiteConnection) throws {
        try db.execute(sql)
    }

    static let sql = """
        -- Every version of the catalog: the configured seed and each accepted change. The version
        -- deciding a request is the newest whose effective_at is not after the request.
        CREATE TABLE catalog_versions (
            version       INTEGER PRIMARY KEY,
            effective_at  INTEGER NOT NULL,
            reason        TEXT NOT NULL,
            legal_basis   TEXT NOT NULL,
            actor         TEXT NOT NULL,
            created_at    INTEGER NOT NULL,
            changed_codes TEXT NOT NULL,
            catalog       TEXT NOT NULL
        ) STRICT;

        CREATE TABLE complaints (
            id                   TEXT PRIMARY KEY,
            filed_by             TEXT NOT NULL,
            on_behalf_of_citizen INTEGER NOT NULL CHECK (on_behalf_of_citizen IN (0, 1)),
            against_department   TEXT NOT NULL,
            certificate_demanded TEXT NOT NULL,
            catalog_standing     TEXT NOT NULL CHECK (catalog_standing IN ('cancelled', 'listed', 'unlisted')),
            catalog_version      INTEGER NOT NULL,
            matter_code          TEXT,
            description          TEXT NOT NULL,
            status               TEXT NOT NULL CHECK (status IN ('open', 'handled')),
            created_at           INTEGER NOT NULL,
            handled_at           INTEGER,
            handled_by           TEXT,
            reply                TEXT
        ) STRICT;
        -- A department lists the complaints it filed.
        CREATE INDEX complaints_by_filer ON complaints (filed_by, id);
        """
}
