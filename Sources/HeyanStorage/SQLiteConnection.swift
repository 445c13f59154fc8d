import CSQLite
import CSQLiteProcess
import Glibc

/// One SQLite database connection: owns a `sqlite3*`, closed with `sqlite3_close_v2` on release.
///
/// Connections are opened with `SQLITE_OPEN_NOMUTEX` (SQLite's own per-connection mutex is off)
/// and therefore must be used by one thread at a time; ``SQLiteStore`` guarantees that with a
/// `Mutex` around each connection. Every failing call throws ``SQLiteError``.
public final class SQLiteConnection {
    /// How a connection opens its file.
    public enum OpenMode: Sendable {
        /// Read and write, creating the file if missing.
        case readWriteCreate
        /// Read only; the file must exist. Writes fail with `sqlite.readonly`.
        case readOnly
    }

    /// The kind of `BEGIN` a transaction starts with.
    public enum TransactionKind: String, Sendable {
        /// Takes locks only when first needed: a read may later fail to upgrade to a write.
        case deferred = "DEFERRED"
        /// Takes the write lock at once, so the transaction cannot fail with `sqlite.busy` halfway.
        case immediate = "IMMEDIATE"
        /// Like immediate in WAL mode.
        case exclusive = "EXCLUSIVE"

        var beginSQL: String {
            switch self {
            case .deferred: "BEGIN DEFERRED TRANSACTION"
            case .immediate: "BEGIN IMMEDIATE TRANSACTION"
            case .exclusive: "BEGIN EXCLUSIVE TRANSACTION"
            }
        }
    }

    private let handle: OpaquePointer
    /// The file this connection opened.
    public let path: String
    /// How it was opened.
    public let mode: OpenMode
    /// Statements kept prepared by ``cachedStatement(_:)``, keyed by their exact SQL.
    private var statementCache: [String: SQLiteStatement] = [:]
    /// The same statements found by a ``StatementKey``'s identity (``cachedStatement(_:)-(StatementKey)``).
    private var keyedStatements: [ObjectIdentifier: SQLiteStatement] = [:]

    /// Opens `path`. The parent directory must exist (``SQLiteStore`` creates it).
    public init(path: String, mode: OpenMode = .readWriteCreate) throws {
        _ = sqliteProcessSettings
        let access =
            switch mode {
            case .readWriteCreate: SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE
            case .readOnly: SQLITE_OPEN_READONLY
            }
        // EXRESCODE: errors carry extended result codes (SQLITE_CONSTRAINT_UNIQUE, not just 19).
        let flags = access | SQLITE_OPEN_NOMUTEX | SQLITE_OPEN_EXRESCODE
        var opened: OpaquePointer?
        let returned = sqlite3_open_v2(path, &opened, flags, nil)
        guard returned == SQLITE_OK, let opened else {
            // Even a failed open usually allocates a handle, which holds the message and must be closed.
            let error = SQLiteError(connection: opened, returned: returned, sql: nil)
            if let opened { _ = sqlite3_close_v2(opened) }
            throw SQLiteError(
                resultCode: error.resultCode, extendedResultCode: error.extendedResultCode,
                message: "cannot open \(path): \(error.sqliteMessage)")
        }
        self.handle = opened
        self.path = path
        self.mode = mode
    }

    deinit {
        keyedStatements.removeAll()
        statementCache.removeAll()
        // sqlite3_close_v2 returns SQLITE_OK even with statements still alive elsewhere (the
        // handle closes when the last one is finalized); anything else is a bug worth shouting about.
        let returned = sqlite3_close_v2(handle)
        if returned != SQLITE_OK {
            let line = "heyan: sqlite3_close_v2(\(path)) returned \(returned)\n"
            _ = line.withCString { write(2, $0, strlen($0)) }
        }
    }

    /// Calls `body` with the raw connection, for SQLite calls this wrapper does not offer.
    /// The pointer must not escape `body`.
    public func withConnectionPointer<T>(_ body: (OpaquePointer) throws -> T) rethrows -> T {
        try body(handle)
    }

    // MARK: - Statements

    /// Compiles one SQL statement. Use ``execute(_:)`` for scripts of several statements.
    public func prepare(_ sql: String) throws -> SQLiteStatement {
        try prepare(sql, flags: 0)
    }

    /// A prepared statement for `sql` that this connection keeps for reuse: the same object for the
    /// same SQL, reset and with bindings cleared each time it is handed out.
    ///
    /// Meant for the constant SQL of hot paths. The cache is not bounded, so never put SQL with
    /// values spliced into its text here (bind them instead); use ``prepare(_:)`` for one-off SQL.
    public func cachedStatement(_ sql: String) throws -> SQLiteStatement {
        if let statement = statementCache[sql] {
            try statement.reset()
            try statement.clearBindings()
            return statement
        }
        let statement = try prepare(sql, flags: UInt32(SQLITE_PREPARE_PERSISTENT))
        statementCache[sql] = statement
        return statement
    }

    /// ``cachedStatement(_:)`` found by the identity of `key` instead of by hashing its SQL text
    /// (~1,500 instructions for a 300-character INSERT): for the statements the writer runs per job.
    public func cachedStatement(_ key: StatementKey) throws -> SQLiteStatement {
        if let statement = keyedStatements[ObjectIdentifier(key)] {
            try statement.reset()
            try statement.clearBindings()
            return statement
        }
        let statement = try cachedStatement(key.sql)
        keyedStatements[ObjectIdentifier(key)] = statement
        return statement
    }

    /// Resets every cached statement left mid-way, so none keeps a read snapshot open (in WAL mode
    /// that would pin old pages and hold back checkpoints). ``SQLiteStore`` calls this after each use.
    public func resetCachedStatements() throws {
        for statement in statementCache.values where statement.isBusy {
            try statement.reset()
        }
    }

    private func prepare(_ sql: String, flags: UInt32) throws -> SQLiteStatement {
        try sql.withCString { start in
            var prepared: OpaquePointer?
            var tail: UnsafePointer<CChar>?
            try SQLiteError.check(
                sqlite3_prepare_v3(handle, start, -1, flags, &prepared, &tail), connection: handle, sql: sql)
            guard let prepared else {
                throw SQLiteError(resultCode: SQLITE_MISUSE, message: "no SQL statement to prepare", sql: sql)
            }
            let statement = SQLiteStatement(takingOwnership: prepared, sql: sql)
            // Anything but whitespace and comments after the first statement would be silently
            // dropped by SQLite; refuse it instead.
            if let tail, tail.pointee != 0 {
                var extra: OpaquePointer?
                try SQLiteError.check(
                    sqlite3_prepare_v2(handle, tail, -1, &extra, nil), connection: handle, sql: sql)
                if let extra {
                    _ = sqlite3_finalize(extra)
                    throw SQLiteError(
                        resultCode: SQLITE_MISUSE,
                        message: "prepare takes a single statement; use execute for scripts", sql: sql)
                }
            }
            return statement
        }
    }

    // MARK: - Running SQL

    /// Runs a script of zero or more `;`-separated statements, discarding any rows.
    /// A failing statement stops the script; the error names that statement's SQL.
    public func execute(_ sql: String) throws {
        try sql.withCString { start in
            var next: UnsafePointer<CChar>? = start
            while let current = next, current.pointee != 0 {
                var prepared: OpaquePointer?
                var tail: UnsafePointer<CChar>?
                let returned = sqlite3_prepare_v2(handle, current, -1, &prepared, &tail)
                let text = SQLiteConnection.text(from: current, to: tail)
                try SQLiteError.check(returned, connection: handle, sql: text)
                next = tail
                // Whitespace or a comment compiles to no statement.
                guard let prepared else { continue }
                try SQLiteStatement(takingOwnership: prepared, sql: text).run()
            }
        }
    }

    /// Runs one statement with `arguments` bound to its parameters 1…n, through the statement cache.
    public func execute(_ sql: String, arguments: [SQLiteValue]) throws {
        let statement = try cachedStatement(sql)
        try statement.bind(arguments)
        try statement.run()
    }

    /// The first column of the first row `sql` returns, or `nil` when it returns no row.
    /// Goes through the statement cache.
    public func fetchScalar(_ sql: String, arguments: [SQLiteValue] = []) throws -> SQLiteValue? {
        let statement = try cachedStatement(sql)
        try statement.bind(arguments)
        guard try statement.step() else { return nil }
        let value = statement.value(at: 0)
        try statement.reset()  // ends the read snapshot now, not when the statement is next used
        return value
    }

    /// Every row `sql` returns. Goes through the statement cache.
    public func fetchAll(_ sql: String, arguments: [SQLiteValue] = []) throws -> [[SQLiteValue]] {
        let statement = try cachedStatement(sql)
        try statement.bind(arguments)
        var rows: [[SQLiteValue]] = []
        while try statement.step() {
            rows.append(statement.row())
        }
        return rows
    }

    private static func text(from start: UnsafePointer<CChar>, to end: UnsafePointer<CChar>?) -> String {
        guard let end, end > start else { return String(cString: start) }
        let bytes = UnsafeRawPointer(start).assumingMemoryBound(to: UInt8.self)
        let text = String(decoding: UnsafeBufferPointer(start: bytes, count: end - start), as: UTF8.self)
        return String(text.drop(while: \.isWhitespace))
    }

    // MARK: - Transactions

    /// `true` while a transaction is open on this connection.
    public var isInTransaction: Bool { sqlite3_get_autocommit(handle) == 0 }

    /// Runs `body` in a transaction: commits when it returns, rolls back when it (or the commit)
    /// throws, and rethrows. Transactions do not nest.
    public func transaction<T>(_ kind: TransactionKind = .immediate, _ body: () throws -> T) throws -> T {
        try begin(kind)
        let result: T
        do {
            result = try body()
            try resetCachedStatements()
            try commit()
        } catch {
            try rollback(after: error)
            throw error
        }
        return result
    }

    /// `BEGIN` of `kind`, for a transaction that outlives one call (``HeldSnapshotReaders``);
    /// ``transaction(_:_:)`` otherwise. Cached, as ``commit()``: every read of the service is one
    /// transaction, and preparing BEGIN and COMMIT anew each time was ~4 % of a data-sharing
    /// request's event-loop time.
    func begin(_ kind: TransactionKind) throws { try cachedStatement(kind.beginSQL).run() }

    /// `COMMIT` of the open transaction.
    func commit() throws { try cachedStatement("COMMIT TRANSACTION").run() }

    /// Rolls back the open transaction, if SQLite has not already done so (it does by itself after
    /// some errors, such as `SQLITE_FULL`). A failing rollback is reported together with the error
    /// that caused it: the connection is then in an unknown state and must not be reused silently.
    private func rollback(after cause: any Error) throws {
        guard isInTransaction else { return }
        do {
            try resetCachedStatements()
            try execute("ROLLBACK TRANSACTION")
        } catch let failure as SQLiteError {
            throw SQLiteError(
                code: failure.code, resultCode: failure.resultCode, extendedResultCode: failure.extendedResultCode,
                message: "\(failure.sqliteMessage); while rolling back after: \(cause)", sql: failure.sql)
        }
    }

    // MARK: - Facts about the last statement

    /// The rowid of the most recent successful INSERT on this connection.
    public var lastInsertRowID: Int64 { sqlite3_last_insert_rowid(handle) }

    /// Rows changed by the most recent INSERT, UPDATE or DELETE on this connection.
    public var changes: Int64 { sqlite3_changes64(handle) }

    /// Rows changed since the connection opened.
    public var totalChanges: Int64 { sqlite3_total_changes64(handle) }
}

@available(*, unavailable)
extension SQLiteConnection: Sendable {}

/// A constant SQL statement that connections keep prepared and find by this object's identity
/// (``SQLiteConnection/cachedStatement(_:)-(StatementKey)``): declare one `static let` per statement.
public final class StatementKey: Sendable {
    public let sql: String

    public init(_ sql: String) {
        self.sql = sql
    }
}

/// SQLite's process-wide settings, applied once before the first connection opens (the first
/// `sqlite3_open_v2` initializes SQLite, after which `sqlite3_config` refuses): memory statistics
/// off, so allocations do not serialise on SQLite's one global mutex; SQLite's page cache behind a
/// layer that keeps the lock page's number out of it, so the end of a transaction does not walk the
/// whole cache; then the default VFS replaced by one that hands a commit's WAL frames to the kernel
/// in one write (docs/storage.md, "Process-wide settings", "Page cache", "WAL writes"). `SQLITE_OK`,
/// or the first error (`SQLITE_MISUSE` when something in the process initialized SQLite first; the
/// VFS is registered either way).
let sqliteProcessSettings: Int32 = {
    let memoryStatistics = heyan_sqlite_disable_memory_statistics()
    let pageCache = heyan_sqlite_install_page_cache()
    let vfs = heyan_sqlite_register_wal_buffer()
    return [memoryStatistics, pageCache, vfs].first { $0 != SQLITE_OK } ?? SQLITE_OK
}()
