/// One numbered step of a PostgreSQL schema's history. Once released, a migration is never edited: a
/// change to the schema is a new migration with the next number.
public struct PostgresMigration: Sendable {
    /// The schema version after this migration; 1, 2, 3, … in order.
    public let version: Int
    /// A short name for logs and for the `heyan_schema_migrations` table, e.g. `verifications`.
    public let name: String
    /// Changes the schema. Runs inside the migration's transaction, after the migration lock is taken;
    /// must not begin or commit one itself (PostgreSQL DDL is transactional, so a failure undoes it all).
    public let apply: @Sendable (PostgresConnection) throws -> Void

    public init(version: Int, name: String, apply: @escaping @Sendable (PostgresConnection) throws -> Void) {
        self.version = version
        self.name = name
        self.apply = apply
    }
}

/// Brings a PostgreSQL schema up to date, recording each applied migration in `heyan_schema_migrations`.
///
/// Several heyan nodes may start at once against one database. Each migration runs in its own
/// transaction that first takes `pg_advisory_xact_lock` on a fixed key: the nodes queue on the lock,
/// and each re-reads the version under it, so a migration is applied exactly once and the others find
/// the work done. The lock is released by COMMIT or ROLLBACK, so a node that dies mid-migration leaves
/// neither a half-applied schema nor a held lock. A database whose version is newer than the newest
/// migration was written by a newer heyan: it is refused with `postgres.schema-too-new`.
public struct PostgresMigrator: Sendable {
    /// The migrations, ordered by version.
    public let migrations: [PostgresMigration]

    /// The advisory-lock key every heyan migrator takes ("heyanmig" as ASCII): one key per database.
    public static let lockKey: Int64 = 0x6865_7961_6E6D_6967

    /// - Precondition: versions are 1, 2, 3, … without gaps or repeats (a programming error otherwise).
    public init(_ migrations: [PostgresMigration]) {
        for (offset, migration) in migrations.enumerated() {
            precondition(
                migration.version == offset + 1,
                "migration \(migration.name) has version \(migration.version), expected \(offset + 1)")
        }
        self.migrations = migrations
    }

    /// The version a fully migrated database has.
    public var latestVersion: Int { migrations.count }

    /// The result of ``migrate(_:)``.
    public struct Outcome: Sendable, Equatable {
        /// The version found when migration started (0 for an empty database).
        public let previousVersion: Int
        /// The version now.
        public let currentVersion: Int
        /// Names of the migrations this call applied, in order.
        public let applied: [String]

        public init(previousVersion: Int, currentVersion: Int, applied: [String]) {
            self.previousVersion = previousVersion
            self.currentVersion = currentVersion
            self.applied = applied
        }
    }

    /// Applies every migration newer than the database's version, each in its own transaction under the
    /// migration lock. Applies nothing to an up-to-date database.
    @discardableResult
    public func migrate(_ connection: PostgresConnection) throws -> Outcome {
        try connection.transaction { connection in
            try lock(connection)
            // IF NOT EXISTS alone is not enough when two sessions race (both may try to create the row
            // type); under the lock only one creates the table.
            try connection.execute(
                """
                CREATE TABLE IF NOT EXISTS heyan_schema_migrations (
                    version integer PRIMARY KEY CHECK (version > 0),
                    name text NOT NULL,
                    applied_at timestamptz NOT NULL DEFAULT now()
                )
                """)
        }
        let previous = try PostgresMigrator.version(of: connection)
        try refuseIfTooNew(previous)
        var applied: [String] = []
        for migration in migrations where migration.version > previous {
            try connection.transaction { connection in
                try lock(connection)
                // Read again under the lock: another node may have migrated meanwhile.
                let current = try PostgresMigrator.version(of: connection)
                try refuseIfTooNew(current)
                guard current < migration.version else { return }
                try migration.apply(connection)
                try connection.query(
                    "INSERT INTO heyan_schema_migrations (version, name) VALUES ($1, $2)",
                    [.int(migration.version), .text(migration.name)])
                applied.append(migration.name)
            }
        }
        return Outcome(
            previousVersion: previous, currentVersion: try PostgresMigrator.version(of: connection), applied: applied)
    }

    private func lock(_ connection: PostgresConnection) throws {
        try connection.query("SELECT pg_advisory_xact_lock($1)", [.int64(PostgresMigrator.lockKey)])
    }

    private func refuseIfTooNew(_ version: Int) throws {
        guard version <= latestVersion else {
            throw PostgresError(
                code: "postgres.schema-too-new",
                message: "database schema version \(version) is newer than this heyan knows (\(latestVersion)); "
                    + "refusing to use it: run the heyan that wrote it, or restore a backup")
        }
    }

    /// The highest version recorded in `heyan_schema_migrations`; 0 when none (or no table) yet.
    public static func version(of connection: PostgresConnection) throws -> Int {
        // Two statements: a query naming a missing table fails at parse time, whatever CASE says.
        let exists = try connection.query("SELECT to_regclass('heyan_schema_migrations') IS NOT NULL AS present")
        guard try exists[0].decode("present", as: Bool.self) else { return 0 }
        let result = try connection.query("SELECT coalesce(max(version), 0) AS version FROM heyan_schema_migrations")
        return try result[0].decode("version", as: Int.self)
    }
}
