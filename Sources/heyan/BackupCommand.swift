#if canImport(Glibc)
import Glibc
#endif
import HeyanDomain
import HeyanStorage

/// `heyan backup --database FILE --out FILE`: an online backup of an SQLite database, consistent
/// while `heyan serve` writes to it (``SQLiteBackup``; docs/deployment.md, "Backup and restore").
///
/// Prints `backup=FILE entries=N bytes=B root=<base64>` — the audit entries in the copy (its tree
/// size) and the copy's tree root, which the live log's tree at that size must equal — and exits 0.
/// Refuses (exit 2) an existing output file and a PostgreSQL address (whose backups are
/// `pg_basebackup` and `pg_dump`, docs/deployment.md).
enum BackupCommand {
    static let usage = "usage: heyan backup --database FILE --out FILE"

    static func run(arguments: [String]) throws -> Int32 {
        let options: CommandLineOptions
        do {
            options = try CommandLineOptions(arguments, valued: ["--database", "--out"])
        } catch {
            print("heyan backup: \(error)\n\(usage)")
            return 2
        }
        guard let database = options["--database"], let out = options["--out"], options.positional.isEmpty else {
            print(usage)
            return 2
        }
        if let refusal = GovernanceCommandSupport.refusal(ofDatabase: database) {
            print("heyan backup: \(refusal)")
            return 2
        }
        guard case .sqlite(let address) = try StoreConfiguration(parsing: database) else {
            print("heyan backup: \(database) is a PostgreSQL database: back it up with pg_basebackup or pg_dump (docs/deployment.md)")
            return 2
        }
        do {
            let summary = try SQLiteBackup.run(database: address.path, to: out)
            print("backup=\(summary.path) entries=\(summary.tree.size) bytes=\(summary.bytes) root=\(summary.tree.root.base64)")
            return 0
        } catch let error as SQLiteBackupError where error.code == "backup.exists" || error.code == "backup.source" {
            print("heyan backup: \(error.message)")
            return 2
        }
    }
}
