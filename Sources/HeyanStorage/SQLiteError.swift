import CSQLite
import HeyanDomain

/// A failed SQLite call: the result codes SQLite returned, its message, and the SQL it came from.
///
/// Every non-OK return code in HeyanStorage becomes one of these; none is ignored. ``code`` is
/// derived from the primary result code (`sqlite.busy`, `sqlite.constraint`, `sqlite.error`, …), so
/// callers can branch on it without knowing SQLite's numbers. Conditions heyan itself detects while
/// opening a database (a schema newer than the code, WAL not taking effect) use their own codes,
/// such as `sqlite.schema-too-new`, and carry `SQLITE_ERROR` as their result code.
public struct SQLiteError: StoreFailure, Equatable {
    /// Stable identifier such as `sqlite.constraint`.
    public let code: String
    /// The primary result code (the low 8 bits of ``extendedResultCode``), e.g. `SQLITE_CONSTRAINT`.
    public let resultCode: Int32
    /// The extended result code, e.g. `SQLITE_CONSTRAINT_PRIMARYKEY`.
    public let extendedResultCode: Int32
    /// `sqlite3_errmsg` at the time of the failure, or heyan's explanation for its own codes.
    public let sqliteMessage: String
    /// The SQL that failed, cut to ``maximumSQLLength`` characters; `nil` for open-time failures.
    public let sql: String?

    /// SQL longer than this is truncated in errors: a migration script would drown the message.
    public static let maximumSQLLength = 200

    public var message: String {
        var text = "\(sqliteMessage) (SQLite code \(extendedResultCode))"
        if let sql { text += " in `\(sql)`" }
        return text
    }

    /// Builds an error from explicit parts. `extendedResultCode` defaults to `resultCode`.
    public init(
        code: String? = nil, resultCode: Int32, extendedResultCode: Int32? = nil, message: String,
        sql: String? = nil
    ) {
        let extended = extendedResultCode ?? resultCode
        self.resultCode = resultCode & 0xFF
        self.extendedResultCode = extended
        self.code = code ?? SQLiteError.code(forResultCode: resultCode)
        self.sqliteMessage = message
        self.sql = sql.map(SQLiteError.truncate)
    }

    /// Reads the error state of `connection` right after a call returned `returned`.
    ///
    /// The message comes from `sqlite3_errmsg`; the extended code from `sqlite3_extended_errcode`
    /// when it agrees with what the call returned (it always should, since heyan opens every
    /// connection with `SQLITE_OPEN_EXRESCODE`), otherwise from the returned value itself.
    init(connection: OpaquePointer?, returned: Int32, sql: String?) {
        var extended = returned
        var text = String(cString: sqlite3_errstr(returned))
        if let connection {
            let reported = sqlite3_extended_errcode(connection)
            if reported & 0xFF == returned & 0xFF { extended = reported }
            text = String(cString: sqlite3_errmsg(connection))
        }
        self.init(resultCode: returned & 0xFF, extendedResultCode: extended, message: text, sql: sql)
    }

    /// The heyan code for a primary or extended SQLite result code.
    public static func code(forResultCode resultCode: Int32) -> String {
        switch resultCode & 0xFF {
        case SQLITE_ERROR: "sqlite.error"
        case SQLITE_INTERNAL: "sqlite.internal"
        case SQLITE_PERM: "sqlite.perm"
        case SQLITE_ABORT: "sqlite.abort"
        case SQLITE_BUSY: "sqlite.busy"
        case SQLITE_LOCKED: "sqlite.locked"
        case SQLITE_NOMEM: "sqlite.nomem"
        case SQLITE_READONLY: "sqlite.readonly"
        case SQLITE_INTERRUPT: "sqlite.interrupt"
        case SQLITE_IOERR: "sqlite.ioerr"
        case SQLITE_CORRUPT: "sqlite.corrupt"
        case SQLITE_NOTFOUND: "sqlite.notfound"
        case SQLITE_FULL: "sqlite.full"
        case SQLITE_CANTOPEN: "sqlite.cantopen"
        case SQLITE_PROTOCOL: "sqlite.protocol"
        case SQLITE_SCHEMA: "sqlite.schema"
        case SQLITE_TOOBIG: "sqlite.toobig"
        case SQLITE_CONSTRAINT: "sqlite.constraint"
        case SQLITE_MISMATCH: "sqlite.mismatch"
        case SQLITE_MISUSE: "sqlite.misuse"
        case SQLITE_NOLFS: "sqlite.nolfs"
        case SQLITE_AUTH: "sqlite.auth"
        case SQLITE_RANGE: "sqlite.range"
        case SQLITE_NOTADB: "sqlite.notadb"
        default: "sqlite.code-\(resultCode & 0xFF)"
        }
    }

    /// True for the failures of the moment rather than of the request (``StoreFailure``): the disk
    /// is full (`SQLITE_FULL`), an I/O error (`SQLITE_IOERR`, `SQLITE_CANTOPEN` of a journal),
    /// a lock held past the busy timeout (`SQLITE_BUSY`, `SQLITE_LOCKED`, `SQLITE_PROTOCOL`),
    /// memory (`SQLITE_NOMEM`), or a store that is closing (`sqlite.closed`). The service answers
    /// them 503 `store-unavailable`; every other SQLite error is a fault (500).
    public var isTransient: Bool {
        if code == "sqlite.closed" { return true }
        // heyan's own codes (sqlite.schema-too-new, sqlite.pragma…) are about the file, not the moment.
        guard code == SQLiteError.code(forResultCode: resultCode) else { return false }
        switch resultCode {
        case SQLITE_FULL, SQLITE_IOERR, SQLITE_BUSY, SQLITE_LOCKED, SQLITE_PROTOCOL, SQLITE_NOMEM, SQLITE_CANTOPEN:
            return true
        default:
            return false
        }
    }

    /// The store-neutral kind (``StoreError``) the service sees instead of this SQLite code:
    /// `sqlite.closed` → `store.closed`; a transient code → `store.unavailable`; a corrupt or
    /// invalid row → `store.corrupt-row`; a constraint → `store.conflict`; the rest `store.failed`.
    public var storeErrorKind: StoreError.Kind {
        if code == "sqlite.closed" { return .closed }
        if isTransient { return .unavailable }
        if code == "sqlite.invalid-row" || resultCode == SQLITE_CORRUPT { return .corruptRow }
        if resultCode == SQLITE_CONSTRAINT { return .conflict }
        return .failed
    }

    private static func truncate(_ sql: String) -> String {
        guard sql.count > maximumSQLLength else { return sql }
        return String(sql.prefix(maximumSQLLength)) + "…"
    }
}

extension SQLiteError {
    /// `SQLITE_CONSTRAINT_PRIMARYKEY`: a duplicate primary key.
    public static let constraintPrimaryKey = heyan_sqlite_constraint_primarykey()
    /// `SQLITE_CONSTRAINT_UNIQUE`: a duplicate in a UNIQUE index.
    public static let constraintUnique = heyan_sqlite_constraint_unique()
    /// `SQLITE_CONSTRAINT_FOREIGNKEY`: a foreign key with no parent row.
    public static let constraintForeignKey = heyan_sqlite_constraint_foreignkey()
    /// `SQLITE_CONSTRAINT_NOTNULL`: NULL in a NOT NULL column.
    public static let constraintNotNull = heyan_sqlite_constraint_notnull()
    /// `SQLITE_CONSTRAINT_CHECK`: a CHECK constraint failed.
    public static let constraintCheck = heyan_sqlite_constraint_check()

    /// Checks a return code: `SQLITE_OK` passes, anything else throws with the connection's message.
    @inline(__always)
    static func check(_ returned: Int32, connection: OpaquePointer?, sql: String?) throws(SQLiteError) {
        guard returned == SQLITE_OK else {
            throw SQLiteError(connection: connection, returned: returned, sql: sql)
        }
    }
}
