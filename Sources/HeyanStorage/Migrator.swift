import CSQLite

/// One numbered step of a schema's history. Once released, a migration is never edited: a change
/// to the schema is a new migration with the next number.
public struct Migration: Sendable {
    /// The `PRAGMA user_version` the database has after this migration; 1, 2, 3, … in order.
    public let version: Int
    /// A short name for logs, e.g. `service-meta`.
    public let name: String
    /// Changes the schema. Runs inside the migration's IMMEDIATE transaction; must not begin or
    /// commit one itself.
    public let apply: @Sendable (SQLiteConnection) throws -> Void

    public init(version: Int, name: String, apply: @escaping @Sendable (SQLiteConnection) throws -> Void) {
        self.version = version
        self.name = name
        self.apply = apply
    }
}

/// Brings a database's schema up to date, recording progress in `PRAGMA user_version`.
///
/// Each migration runs in its own IMMEDIATE transaction together with the `user_version` update,
/// so a crash leaves the database at a whole version, and two processes migrating at once
/// serialize on the write lock (the second finds the work done). A database whose version is newer
/// than the newest migration was written by a newer heyan: it is refused with
/// `sqlite.schema-too-new` rather than used by code that does not know its tables.
public struct Migrator: Sendable {
    /// The migrations, ordered by version.
    public let migrations: [Migration]

    /// - Precondition: versions are 1, 2, 3, … without gaps or repeats (a programming error otherwise).
    public init(_ migrations: [Migration]) {
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
        /// `user_version` found when migration started.
        public let previousVersion: Int
        /// `user_version` now.
        public let currentVersion: Int
        /// Names of the migrations this call applied, in order.
        public let applied: [String]
    }

    /// Applies every migration newer than the database's `user_version`, each in its own
    /// IMMEDIATE transaction. Applies nothing to an up-to-date database.
    @discardableResult
    public func migrate(_ connection: SQLiteConnection) throws -> Outcome {
        let previous = try Migrator.userVersion(of: connection)
        try refuseIfTooNew(previous)
        var applied: [String] = []
        for migration in migrations where migration.version > previous {
            try connection.transaction(.immediate) {
                // Read again under the write lock: another process may have migrated meanwhile.
                let current = try Migrator.userVersion(of: connection)
                try refuseIfTooNew(current)
                guard current < migration.version else { return }
                try migration.apply(connection)
                try connection.execute("PRAGMA user_version = \(migration.version)")
                applied.append(migration.name)
            }
        }
        return Outcome(
            previousVersion: previous, currentVersion: try Migrator.userVersion(of: connection), applied: applied)
    }

    private func refuseIfTooNew(_ version: Int) throws {
        guard version <= latestVersion else {
            throw SQLiteError(
                code: "sqlite.schema-too-new", resultCode: SQLITE_ERROR,
                message: "database schema version \(version) is newer than this heyan knows (\(latestVersion)); "
                    + "refusing to open it: run the heyan that wrote it, or restore a backup",
                sql: "PRAGMA user_version")
        }
    }

    /// The database's `PRAGMA user_version`.
    public static func userVersion(of connection: SQLiteConnection) throws -> Int {
        guard case .integer(let version) = try connection.fetchScalar("PRAGMA user_version") else {
            throw SQLiteError(resultCode: SQLITE_ERROR, message: "PRAGMA user_version returned no integer")
        }
        return Int(version)
    }
}
