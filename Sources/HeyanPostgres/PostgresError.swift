import CPostgres
import HeyanDomain

/// A failed libpq call or SQL statement: heyan's code, the server's SQLSTATE and message, and the SQL.
///
/// Every failure in HeyanPostgres becomes one of these; no return code is ignored. ``code`` is
/// `postgres.` followed by a name derived from the SQLSTATE (`postgres.unique-violation` for 23505) or,
/// for failures with no SQLSTATE, by what heyan saw (`postgres.cannot-connect`, `postgres.connection-lost`,
/// `postgres.commit-in-doubt`). Callers branch on ``code``, ``sqlState`` or ``isTransient``, never on the
/// message text, which the server may translate.
public struct PostgresError: StoreFailure, Equatable {
    /// Stable identifier such as `postgres.unique-violation`.
    public let code: String
    /// The five-character SQLSTATE the server reported (`23505`), or `nil` when the failure happened on
    /// the client side (no connection, a lost connection, a misuse of the API).
    public let sqlState: String?
    /// The server's primary message, or libpq's / heyan's explanation.
    public let serverMessage: String
    /// The server's DETAIL line, if any.
    public let detail: String?
    /// The constraint a integrity violation names (`PG_DIAG_CONSTRAINT_NAME`), if any.
    public let constraint: String?
    /// The SQL that failed, cut to ``maximumSQLLength`` characters.
    public let sql: String?

    /// SQL longer than this is truncated in errors.
    public static let maximumSQLLength = 200

    public var message: String {
        var text = serverMessage
        if let sqlState { text += " (SQLSTATE \(sqlState))" }
        if let detail { text += "; \(detail)" }
        if let sql { text += " in `\(sql)`" }
        return text
    }

    /// Builds an error from explicit parts; ``code`` defaults to the name of `sqlState`.
    public init(
        code: String? = nil, sqlState: String? = nil, message: String, detail: String? = nil,
        constraint: String? = nil, sql: String? = nil
    ) {
        self.code = code ?? sqlState.map(PostgresError.code(forSQLState:)) ?? "postgres.error"
        self.sqlState = sqlState
        self.serverMessage = message
        self.detail = detail
        self.constraint = constraint
        self.sql = sql.map(PostgresError.truncate)
    }

    /// Reads the error fields of a failed result. When the result carries no SQLSTATE and the connection
    /// has gone bad, the error is `postgres.connection-lost`.
    init(result: OpaquePointer?, connection: OpaquePointer?, sql: String?) {
        func field(_ code: Int32) -> String? {
            guard let result, let value = PQresultErrorField(result, code) else { return nil }
            return String(cString: value)
        }
        let state = field(heyan_pg_diag_sqlstate())
        var text = field(heyan_pg_diag_message_primary())
        if text == nil, let result, let message = PQresultErrorMessage(result), message.pointee != 0 {
            text = String(cString: message)
        }
        if text == nil, let connection, let message = PQerrorMessage(connection), message.pointee != 0 {
            text = String(cString: message)
        }
        let lost = connection.map { PQstatus($0) == CONNECTION_BAD } ?? true
        let code: String? = state == nil && lost ? "postgres.connection-lost" : nil
        self.init(
            code: code, sqlState: state,
            message: PostgresError.trimmed(text ?? "no error message from libpq"),
            detail: field(heyan_pg_diag_message_detail()), constraint: field(heyan_pg_diag_constraint_name()),
            sql: sql)
    }

    /// An error built from `PQerrorMessage` after a connection-level call failed.
    static func connection(_ connection: OpaquePointer?, code: String, sql: String? = nil) -> PostgresError {
        var text = "no error message from libpq"
        if let connection, let message = PQerrorMessage(connection), message.pointee != 0 {
            text = trimmed(String(cString: message))
        }
        return PostgresError(code: code, message: text, sql: sql)
    }

    /// SQLSTATEs heyan names. Others are named by their class (``code(forSQLState:)``).
    static let names: [String: String] = [
        "23505": "unique-violation",
        "23503": "foreign-key-violation",
        "23502": "not-null-violation",
        "23514": "check-violation",
        "23P01": "exclusion-violation",
        "40001": "serialization-failure",
        "40P01": "deadlock-detected",
        "25006": "read-only-transaction",
        "25P02": "transaction-aborted",
        "55P03": "lock-not-available",
        "57014": "query-canceled",
        "57P01": "admin-shutdown",
        "57P02": "crash-shutdown",
        "57P03": "cannot-connect-now",
        "53300": "too-many-connections",
        "53100": "disk-full",
        "42P01": "undefined-table",
        "42703": "undefined-column",
        "42601": "syntax-error",
        "42501": "insufficient-privilege",
        "22P02": "invalid-text-representation",
        "22001": "string-too-long",
        "0A000": "feature-not-supported",
    ]

    /// SQLSTATE classes (the first two characters), for states without a name of their own.
    static let classNames: [String: String] = [
        "08": "connection-exception",
        "22": "data-exception",
        "23": "integrity-constraint-violation",
        "25": "invalid-transaction-state",
        "28": "invalid-authorization",
        "3D": "invalid-catalog-name",
        "40": "transaction-rollback",
        "42": "syntax-error-or-access-rule-violation",
        "53": "insufficient-resources",
        "54": "program-limit-exceeded",
        "55": "object-not-in-prerequisite-state",
        "57": "operator-intervention",
        "58": "system-error",
        "XX": "internal-error",
    ]

    /// The heyan code for a SQLSTATE: `postgres.unique-violation` for 23505, `postgres.data-exception`
    /// for an unnamed state of class 22, `postgres.sqlstate-XXXXX` otherwise.
    public static func code(forSQLState state: String) -> String {
        if let name = names[state] { return "postgres.\(name)" }
        if let name = classNames[String(state.prefix(2))] { return "postgres.\(name)" }
        return "postgres.sqlstate-\(state)"
    }

    /// True for the failures of the moment, which a retry on a fresh connection may cure (``StoreFailure``):
    /// - no server reachable (`postgres.cannot-connect`) or the connection lost mid-statement
    ///   (`postgres.connection-lost`, SQLSTATE class 08);
    /// - the server shutting down or restarting (57P01 admin shutdown, 57P02 crash shutdown, 57P03 starting up);
    /// - concurrency (40001 serialization failure, 40P01 deadlock, 55P03 lock not available, 57014 a
    ///   statement timeout);
    /// - 25006 read-only transaction: after a failover the connection reached a standby; reconnecting
    ///   through a multi-host string with `target_session_attrs=read-write` finds the new primary;
    /// - resources (class 53: too many connections, disk full, out of memory) and 58 system errors (I/O).
    ///
    /// `postgres.commit-in-doubt` is transient too, but the caller must first find out whether the
    /// transaction committed (idempotency keys) before retrying it. Everything else — constraint
    /// violations, syntax errors, bad input — is permanent: the same request fails the same way.
    public var isTransient: Bool {
        switch code {
        case "postgres.cannot-connect", "postgres.connection-lost", "postgres.commit-in-doubt",
            "postgres.commit-unacknowledged", "postgres.closed":
            return true
        default:
            break
        }
        guard let sqlState else { return false }
        switch sqlState {
        case "57P01", "57P02", "57P03", "40001", "40P01", "25006", "55P03", "57014":
            return true
        default:
            return ["08", "53", "58"].contains(String(sqlState.prefix(2)))
        }
    }

    /// True when a COMMIT was sent but its outcome is not known to have been made durable as configured:
    /// the connection was lost before the answer (`postgres.commit-in-doubt`), or the server reported that
    /// the wait for the synchronous standby was cancelled (`postgres.commit-unacknowledged`). The
    /// transaction may or may not be visible later; the caller must not report success.
    public var isCommitInDoubt: Bool {
        code == "postgres.commit-in-doubt" || code == "postgres.commit-unacknowledged"
    }

    private static func truncate(_ sql: String) -> String {
        guard sql.count > maximumSQLLength else { return sql }
        return String(sql.prefix(maximumSQLLength)) + "…"
    }

    /// libpq messages end with a newline and sometimes carry several lines (one per host tried).
    static func trimmed(_ text: String) -> String {
        text.split(separator: "\n", omittingEmptySubsequences: true)
            .map { $0.drop(while: \.isWhitespace) }
            .joined(separator: "; ")
    }
}
