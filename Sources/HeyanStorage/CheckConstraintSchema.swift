import CSQLite

/// Migration 12: the CHECK constraints that list three or more values with `IN (…)` say the same
/// with `=` and `OR`.
///
/// SQLite evaluates `x IN ('a', 'b', 'c')` (three values or more) inside a CHECK by building an
/// ephemeral b-tree of the list on every row written, which cost ~33,000 instructions per
/// `verifications` or `attestations` insert, about a tenth of the writer's work per data-sharing
/// verification (docs/performance.md, issue 16). `(x = 'a' OR x = 'b' OR x = 'c')` admits exactly
/// the same values (NULL passes both, as a CHECK passes on NULL) and compiles to comparisons.
///
/// The table definitions change only in the text of these constraints, which every stored row
/// already satisfies, and not in their on-disk format, so the migration edits the stored `CREATE
/// TABLE` text in `sqlite_schema` as SQLite documents for changing constraints (lang_altertable,
/// "Making Other Kinds Of Table Schema Changes": writable_schema, then the schema version raised by
/// one so every connection reads the schema again) instead of copying the tables. It runs inside
/// the migration's transaction: a crash leaves version 11 and the old text.
enum CheckConstraintSchema {
    static let migrationName = "check-constraints-without-in-lists"

    /// One constraint to rewrite: `column IN (values…)` in the definition of `table`.
    struct Rewrite: Sendable {
        let table: String
        let column: String
        let values: [String]

        /// The text migrations 2, 4 and 5 wrote.
        var inList: String { "\(column) IN (\(values.map { "'\($0)'" }.joined(separator: ", ")))" }
        /// The same constraint without an IN list.
        var comparisons: String { "(\(values.map { "\(column) = '\($0)'" }.joined(separator: " OR ")))" }
    }

    /// Every IN list of three values or more in heyan's tables.
    static let rewrites: [Rewrite] = [
        Rewrite(table: "verifications", column: "outcome", values: ["confirmed", "denied", "cannot-determine"]),
        Rewrite(table: "attestations", column: "outcome", values: ["confirmed", "denied", "cannot-determine"]),
        Rewrite(table: "queue_items", column: "state", values: ["pending", "leased", "done"]),
        Rewrite(table: "spot_checks", column: "state", values: ["pending", "leased", "done"]),
        Rewrite(table: "complaints", column: "catalog_standing", values: ["cancelled", "listed", "unlisted"]),
        Rewrite(
            table: "commitments", column: "status", values: ["committed", "under-check", "consistent", "false-commitment"]),
    ]

    static var migration: Migration {
        Migration(version: 12, name: migrationName) { db in try apply(on: db) }
    }

    /// Rewrites every constraint of ``rewrites``; throws (rolling the migration back) when a table's
    /// stored definition does not hold its IN list exactly once, i.e. was changed outside heyan.
    static func apply(on db: SQLiteConnection) throws {
        var definitions: [(table: String, sql: String)] = []
        for table in Set(rewrites.map(\.table)).sorted() {
            guard case .text(var sql) = try db.fetchScalar(
                "SELECT sql FROM sqlite_schema WHERE type = 'table' AND name = ?1", arguments: [.text(table)])
            else {
                throw SQLiteError(
                    code: "sqlite.schema", resultCode: SQLITE_ERROR, message: "table \(table) is missing",
                    sql: "SELECT sql FROM sqlite_schema")
            }
            for rewrite in rewrites where rewrite.table == table {
                let parts = sql.components(separatedBy: rewrite.inList)
                guard parts.count == 2 else {
                    throw SQLiteError(
                        code: "sqlite.schema", resultCode: SQLITE_ERROR,
                        message: "the definition of \(table) holds `\(rewrite.inList)` \(parts.count - 1) times, "
                            + "expected once: the schema was changed outside heyan",
                        sql: "SELECT sql FROM sqlite_schema")
                }
                sql = parts.joined(separator: rewrite.comparisons)
            }
            definitions.append((table, sql))
        }
        guard case .integer(let schemaVersion) = try db.fetchScalar("PRAGMA schema_version") else {
            throw SQLiteError(resultCode: SQLITE_ERROR, message: "PRAGMA schema_version returned no integer")
        }
        try db.execute("PRAGMA writable_schema = ON")
        do {
            for (table, sql) in definitions {
                try db.execute(
                    "UPDATE sqlite_schema SET sql = ?1 WHERE type = 'table' AND name = ?2",
                    arguments: [.text(sql), .text(table)])
            }
            try db.execute("PRAGMA schema_version = \(schemaVersion + 1)")
        } catch {
            try? db.execute("PRAGMA writable_schema = OFF")
            throw error
        }
        try db.execute("PRAGMA writable_schema = OFF")
    }
}
