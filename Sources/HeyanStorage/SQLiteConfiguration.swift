import CSQLite
import Glibc

/// How ``SQLiteStore`` sets up its connections. The defaults are the ones heyan ships with;
/// docs/storage.md explains each.
public struct SQLiteConfiguration: Sendable, Equatable {
    /// How long a connection waits for a lock held by another connection before failing with
    /// `sqlite.busy`.
    public var busyTimeoutMilliseconds: Int32 = 5000
    /// WAL pages after which a passive checkpoint runs (SQLite's default is 1000 pages, about
    /// 4 MiB with 4 KiB pages); keeps the WAL, and so recovery time, bounded. heyan uses 4000
    /// (~16 MiB): the pages a burst of commits rewrites (the right edge of every append-only
    /// b-tree) are copied into the database file once per checkpoint, so fewer checkpoints copy
    /// fewer pages — the checkpointer's CPU per data-sharing verification fell by ~27 %
    /// (docs/performance.md, "Issue 16, fifth session").
    public var walAutocheckpointPages: Int = 4000
    /// Checkpoint on a separate thread and connection (``WALCheckpointer``) instead of inside the
    /// writer's commit, once the WAL holds ``walAutocheckpointPages`` pages.
    public var checkpointInBackground: Bool = true
    /// Size in bytes the WAL is truncated to after a checkpoint, so one burst does not leave a
    /// large file behind for good.
    public var journalSizeLimitBytes: Int = 64 * 1024 * 1024
    /// Audit entries the writer lets pile up before it adds their department, certificate-type and
    /// action rows to `audit_facets` in one insert (migration 17, ``AuditFacetIndexer``): the
    /// larger, the fewer pages those rows write per entry and the more entries a filtered audit
    /// query reads directly instead of through them. 256 is ~13 batches of data sharing at full load,
    /// and ~1 ms of one batch's time.
    public var auditFacetChunk: Int = 256
    /// Read-only connections kept open for ``SQLiteStore/read(_:)``.
    public var readerCount: Int = 4
    /// How long a shared-data record lookup may reuse the read snapshot of the previous lookup on
    /// its connection (``HeldSnapshotReaders``; docs/storage.md, "Held snapshots for record
    /// lookups"); 0: every lookup reads in a transaction of its own. Only with
    /// ``checkpointInBackground``, whose WAL hook ends snapshots for a WAL restart.
    public var recordSnapshotMicroseconds: Int = 2000
    /// Read-only connections for those lookups (besides ``readerCount``): as many as lookups may run
    /// at once (one per event loop) before they fall back to ``SQLiteStore/read(_:)``. The first
    /// idle one is always taken, so spare ones cost an open file and nothing per lookup.
    public var recordReaderCount: Int = 4
    /// Mode for directories created on the way to the database file: owner only, since the
    /// database holds personal information.
    public var directoryMode: mode_t = 0o700
    /// Mode for a database file the store creates: owner only. SQLite gives the `-wal` and `-shm`
    /// files the same mode as the database file.
    public var fileMode: mode_t = 0o600

    public init() {}
}

extension SQLiteConnection {
    /// Applies heyan's pragmas to a read-write connection and reads each back, so a setting that
    /// silently did not take (WAL on a filesystem that cannot do it, foreign keys inside a
    /// transaction) fails the open instead of weakening durability unnoticed.
    func configureWriter(_ configuration: SQLiteConfiguration) throws {
        try withConnectionPointer { handle in
            try SQLiteError.check(
                sqlite3_busy_timeout(handle, configuration.busyTimeoutMilliseconds), connection: handle,
                sql: "sqlite3_busy_timeout")
        }
        let journalMode = try fetchScalar("PRAGMA journal_mode = WAL")?.textValue?.lowercased()
        guard journalMode == "wal" else {
            throw SQLiteError(
                code: "sqlite.journal-mode", resultCode: SQLITE_ERROR,
                message: "journal_mode is \(journalMode ?? "unknown"), not wal: cannot guarantee durable reads "
                    + "beside a writer", sql: "PRAGMA journal_mode = WAL")
        }
        try execute("PRAGMA synchronous = FULL")
        try expectPragma("synchronous", equals: 2)
        try execute("PRAGMA foreign_keys = ON")
        try expectPragma("foreign_keys", equals: 1)
        try execute("PRAGMA wal_autocheckpoint = \(configuration.walAutocheckpointPages)")
        try expectPragma("wal_autocheckpoint", equals: Int64(configuration.walAutocheckpointPages))
        // The group committer runs each job in a SAVEPOINT; its sub-journal is a temporary file
        // that spills to disk past 64 KiB unless temp files live in memory (+30% jobs/s measured).
        try execute("PRAGMA temp_store = MEMORY")
        // 32 MiB of page cache for the single writer: the hot index pages of the audit log and
        // the verification tables stay in memory instead of being re-read on every batch.
        try execute("PRAGMA cache_size = -32768")
        try expectPragma("temp_store", equals: 2)
        try execute("PRAGMA journal_size_limit = \(configuration.journalSizeLimitBytes)")
        try expectPragma("journal_size_limit", equals: Int64(configuration.journalSizeLimitBytes))
    }

    /// Applies the pragmas a read-only connection needs. WAL mode is a property of the file, set
    /// by the writer before any reader opens.
    func configureReader(_ configuration: SQLiteConfiguration) throws {
        try withConnectionPointer { handle in
            try SQLiteError.check(
                sqlite3_busy_timeout(handle, configuration.busyTimeoutMilliseconds), connection: handle,
                sql: "sqlite3_busy_timeout")
        }
        try execute("PRAGMA foreign_keys = ON")
        try expectPragma("foreign_keys", equals: 1)
        let journalMode = try fetchScalar("PRAGMA journal_mode")?.textValue?.lowercased()
        guard journalMode == "wal" else {
            throw SQLiteError(
                code: "sqlite.journal-mode", resultCode: SQLITE_ERROR,
                message: "reader found journal_mode \(journalMode ?? "unknown"), not wal", sql: "PRAGMA journal_mode")
        }
    }

    private func expectPragma(_ name: String, equals expected: Int64) throws {
        let actual = try fetchScalar("PRAGMA \(name)")
        guard actual == .integer(expected) else {
            throw SQLiteError(
                code: "sqlite.pragma", resultCode: SQLITE_ERROR,
                message: "PRAGMA \(name) is \(actual?.description ?? "missing") after setting it to \(expected)",
                sql: "PRAGMA \(name)")
        }
    }
}

/// Creates every missing directory on the way to the file at `path` with `mode`.
/// Existing directories are left as they are.
func createParentDirectories(of path: String, mode: mode_t) throws {
    guard let slash = path.lastIndex(of: "/"), slash != path.startIndex else { return }
    let parent = String(path[..<slash])
    var prefix = parent.hasPrefix("/") ? "" : "."
    for component in parent.split(separator: "/", omittingEmptySubsequences: true) {
        prefix += "/" + component
        if mkdir(prefix, mode) != 0 {
            let failure = errno
            var status = stat()
            if failure == EEXIST, stat(prefix, &status) == 0, status.st_mode & S_IFMT == S_IFDIR { continue }
            throw SQLiteError(
                code: "sqlite.directory", resultCode: SQLITE_CANTOPEN,
                message: "cannot create directory \(prefix): \(String(cString: strerror(failure)))")
        }
    }
}

/// Creates an empty database file at `path` with `mode` unless one exists, so the file never
/// starts with SQLite's default mode (0644 less the umask). An empty file is a valid database.
func createDatabaseFileIfMissing(at path: String, mode: mode_t) throws {
    let descriptor = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode)
    if descriptor >= 0 {
        guard close(descriptor) == 0 else { throw fileFailure("close", path, errno) }
        return
    }
    let failure = errno
    guard failure == EEXIST else { throw fileFailure("create", path, failure) }
}

private func fileFailure(_ operation: String, _ path: String, _ failure: Int32) -> SQLiteError {
    SQLiteError(
        code: "sqlite.file", resultCode: SQLITE_CANTOPEN,
        message: "cannot \(operation) \(path): \(String(cString: strerror(failure)))")
}
