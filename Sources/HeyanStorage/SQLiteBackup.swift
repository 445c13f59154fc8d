import CSQLite
import Glibc
import HeyanDomain
import HeyanTransparencyLog

/// What `heyan backup` wrote: the file, its size, and the audit tree it holds.
public struct SQLiteBackupSummary: Sendable, Equatable {
    /// The backup file.
    public let path: String
    /// Its size in bytes.
    public let bytes: Int64
    /// The audit tree in the backup: its size (the audit entries) and root. The live log's tree at
    /// that size has the same root: the backup is a prefix of the log.
    public let tree: TreeHead
}

/// A failed backup: `backup.exists` (the output file is already there), `backup.source` (no such
/// database), `backup.check` (the copy failed SQLite's `quick_check`), `backup.file` (a file
/// operation failed). SQLite failures keep their ``SQLiteError``.
public struct SQLiteBackupError: HeyanError, Equatable {
    public let code: String
    public let message: String
}

/// An online backup of a heyan SQLite database, consistent while `heyan serve` writes to it
/// (docs/deployment.md, "Backup and restore").
///
/// SQLite's online backup API copies every page in one `sqlite3_backup_step(-1)`, that is in one
/// read transaction of a read-only connection: in WAL mode that is a snapshot of the last commit
/// that never blocks the server's writer (which keeps committing into the WAL meanwhile), so the
/// copy holds whole transactions only — every entry and the tree state row of the same commit.
/// `VACUUM INTO` would give the same snapshot; the backup API was chosen because the copy is
/// written through a connection of ours (`synchronous=FULL`, then checked with `quick_check`
/// before it is published) and because it copies pages as they are instead of rebuilding the file.
///
/// The copy is written to a temporary file beside `destination` (mode 0600: it holds personal
/// data), fsynced, then published with `link(2)`, which refuses to overwrite an existing file
/// atomically, and the directory is fsynced: after `run` returns, the backup survives a power loss,
/// and an existing file is never replaced.
public enum SQLiteBackup {
    /// Backs up `database` into the new file `destination`.
    public static func run(database: String, to destination: String) throws -> SQLiteBackupSummary {
        guard access(database, F_OK) == 0 else {
            throw SQLiteBackupError(code: "backup.source", message: "no database at \(database)")
        }
        guard !exists(destination) else {
            throw SQLiteBackupError(code: "backup.exists", message: "\(destination) exists; a backup never overwrites a file")
        }
        let temporary = "\(destination).partial-\(getpid())"
        unlink(temporary)  // a leftover of an earlier run of this process id; ours by name
        let descriptor = open(temporary, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0o600)
        guard descriptor >= 0 else { throw fileError("cannot create \(temporary)") }
        close(descriptor)
        var published = false
        defer {
            if !published {
                for suffix in ["", "-journal", "-wal", "-shm"] { unlink(temporary + suffix) }
            }
        }
        let tree = try copy(database, into: temporary)
        try fsyncFile(temporary)
        guard link(temporary, destination) == 0 else {
            if errno == EEXIST {
                throw SQLiteBackupError(code: "backup.exists", message: "\(destination) exists; a backup never overwrites a file")
            }
            throw fileError("cannot link \(temporary) to \(destination)")
        }
        published = true
        unlink(temporary)
        try fsyncFile(directory(of: destination), directory: true)
        var status = stat()
        guard stat(destination, &status) == 0 else { throw fileError("cannot stat \(destination)") }
        return SQLiteBackupSummary(path: destination, bytes: Int64(status.st_size), tree: tree)
    }

    /// Copies all pages in one step (one read snapshot), retrying while the source is busy (only
    /// during WAL recovery or an exclusive lock by another program), then checks the copy.
    private static func copy(_ database: String, into temporary: String) throws -> TreeHead {
        let target = try SQLiteConnection(path: temporary)
        try target.execute("PRAGMA synchronous = FULL")
        do {
            let source = try SQLiteConnection(path: database, mode: .readOnly)
            let backup = try SQLiteOnlineBackup(from: source, to: target)
            var attempts = 0
            while true {
                do {
                    if try backup.step(pages: -1) { break }
                } catch let error as SQLiteError where error.code == "sqlite.busy" || error.code == "sqlite.locked" {
                    attempts += 1
                    guard attempts < 100 else { throw error }
                    usleep(50_000)
                }
            }
        }
        let check = try target.fetchScalar("PRAGMA quick_check")
        guard check == .text("ok") else {
            throw SQLiteBackupError(code: "backup.check", message: "the copy of \(database) failed quick_check: \(String(describing: check))")
        }
        let state = try AuditTree.state(on: target)
        return TreeHead(size: state.size, root: state.root)
    }

    private static func exists(_ path: String) -> Bool {
        var status = stat()
        return lstat(path, &status) == 0
    }

    private static func directory(of path: String) -> String {
        guard let slash = path.lastIndex(of: "/") else { return "." }
        return slash == path.startIndex ? "/" : String(path[..<slash])
    }

    private static func fsyncFile(_ path: String, directory: Bool = false) throws {
        let descriptor = open(path, O_RDONLY | O_CLOEXEC | (directory ? O_DIRECTORY : 0))
        guard descriptor >= 0 else { throw fileError("cannot open \(path)") }
        defer { close(descriptor) }
        guard fsync(descriptor) == 0 else { throw fileError("cannot fsync \(path)") }
    }

    private static func fileError(_ message: String) -> SQLiteBackupError {
        SQLiteBackupError(code: "backup.file", message: "\(message): \(String(cString: strerror(errno)))")
    }
}
