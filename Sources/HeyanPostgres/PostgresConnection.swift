import CPostgres
import Glibc

/// One PostgreSQL connection: owns a `PGconn*`, finished with `PQfinish` on ``close()`` or release.
///
/// Every call blocks its thread until the server answers, and a connection must be used by one thread
/// at a time (it is not `Sendable`); a store hands connections to threads one at a time, as
/// `SQLiteStore` does. Every failure throws ``PostgresError``; ``PostgresError/isTransient`` says which
/// a retry on a fresh connection may cure.
///
/// Durability rules this type keeps (docs/postgresql.md):
/// - it never cancels a statement (no `PQcancel`): a cancelled COMMIT waiting for a synchronous standby
///   returns *success* with only a warning, though the standby may not have the transaction;
/// - that warning, wherever it arrives, is kept in the result's ``PostgresResult/notices``, and
///   ``commit()`` turns it into `postgres.commit-unacknowledged`;
/// - a connection lost while a COMMIT was outstanding is `postgres.commit-in-doubt`, never success.
public final class PostgresConnection {
    /// What `PQtransactionStatus` reports.
    public enum TransactionStatus: Sendable, Equatable {
        /// No transaction open.
        case idle
        /// A statement is running.
        case active
        /// Inside a transaction block, all well.
        case inTransaction
        /// Inside a failed transaction block: only ROLLBACK is accepted.
        case inFailedTransaction
        /// The connection is bad.
        case unknown
    }

    /// Isolation levels for ``transaction(_:_:)``.
    public enum IsolationLevel: String, Sendable {
        case readCommitted = "READ COMMITTED"
        case repeatableRead = "REPEATABLE READ"
        case serializable = "SERIALIZABLE"
    }

    private var handle: OpaquePointer?
    private let noticeBuffer = NoticeBuffer()
    /// Statements prepared on this session, by SQL text and parameter types: their names.
    private var prepared: [PreparedStatementKey: String] = [:]
    /// The most statements one session prepares; later ones run unnamed (SQL built from values, such as
    /// a `LIMIT` spliced in, must not grow the server's memory without bound).
    static let preparedLimit = 256

    /// Connects with a libpq connection string, either `key=value` pairs or a `postgresql://` URI.
    ///
    /// Multi-host strings (`host=a,b port=5432,5433 target_session_attrs=read-write`) are walked in order
    /// until a host fits, so after a failover a new connection finds the promoted standby. The client
    /// encoding is always UTF8. `connectTimeout` (seconds, per host; libpq's minimum is 2) overrides a
    /// `connect_timeout` in the string; `applicationName` likewise. Failing to reach any host throws
    /// `postgres.cannot-connect` with libpq's message, which lists each host tried.
    public init(conninfo: String, connectTimeout: Int? = nil, applicationName: String? = nil) throws {
        var parameters: [(String, String)] = [("dbname", conninfo), ("client_encoding", "UTF8")]
        if let connectTimeout { parameters.append(("connect_timeout", String(connectTimeout))) }
        if let applicationName { parameters.append(("application_name", applicationName)) }
        let keywords = parameters.map { strdup($0.0) } + [nil]
        let values = parameters.map { strdup($0.1) } + [nil]
        defer {
            for pointer in keywords + values { free(pointer) }
        }
        let connection = keywords.map { UnsafePointer($0) }.withUnsafeBufferPointer { keywords in
            values.map { UnsafePointer($0) }.withUnsafeBufferPointer { values in
                // expand_dbname = 1: the first dbname value is itself a connection string; later
                // parameters override what it says.
                PQconnectdbParams(keywords.baseAddress, values.baseAddress, 1)
            }
        }
        guard let connection else {
            throw PostgresError(code: "postgres.cannot-connect", message: "libpq could not allocate a connection")
        }
        guard PQstatus(connection) == CONNECTION_OK else {
            let error = PostgresError.connection(connection, code: "postgres.cannot-connect")
            PQfinish(connection)
            throw error
        }
        self.handle = connection
        let buffer = Unmanaged.passUnretained(noticeBuffer).toOpaque()
        // The buffer lives as long as this object, which finishes the connection in deinit first.
        PQsetNoticeReceiver(
            connection,
            { argument, result in
                guard let argument, let result else { return }
                Unmanaged<NoticeBuffer>.fromOpaque(argument).takeUnretainedValue().receive(result)
            }, buffer)
    }

    deinit {
        if let handle { PQfinish(handle) }
    }

    /// Closes the connection. Later calls throw `postgres.closed`; closing twice does nothing.
    public func close() {
        if let handle { PQfinish(handle) }
        handle = nil
        prepared.removeAll()
    }

    /// Calls `body` with the raw connection, for libpq calls this wrapper does not offer.
    /// The pointer must not escape `body`.
    public func withConnectionPointer<T>(_ body: (OpaquePointer) throws -> T) throws -> T {
        try body(try open())
    }

    private func open() throws(PostgresError) -> OpaquePointer {
        guard let handle else {
            throw PostgresError(code: "postgres.closed", message: "the connection was closed")
        }
        return handle
    }

    // MARK: - Status

    /// True while the connection is open and libpq has not seen it break (`PQstatus` is OK). A dead
    /// server is noticed only by the next call that talks to it.
    public var isConnected: Bool { handle.map { PQstatus($0) == CONNECTION_OK } ?? false }

    /// Where the connection is open now (`PQtransactionStatus`).
    public var transactionStatus: TransactionStatus {
        guard let handle else { return .unknown }
        switch PQtransactionStatus(handle) {
        case PQTRANS_IDLE: return .idle
        case PQTRANS_ACTIVE: return .active
        case PQTRANS_INTRANS: return .inTransaction
        case PQTRANS_INERROR: return .inFailedTransaction
        default: return .unknown
        }
    }

    /// The host this connection reached (of a multi-host string, the one chosen).
    public var host: String? { handle.flatMap { PQhost($0) }.map { String(cString: $0) } }

    /// The port this connection reached.
    public var port: Int? { handle.flatMap { PQport($0) }.flatMap { Int(String(cString: $0)) } }

    /// The server process serving this connection (`pg_backend_pid()`).
    public var backendPID: Int32 { handle.map { PQbackendPID($0) } ?? 0 }

    /// The server's version as an integer, e.g. 150020 for 15.20.
    public var serverVersion: Int { handle.map { Int(PQserverVersion($0)) } ?? 0 }

    /// Reconnects with the same parameters (`PQreset`), walking a multi-host list again from the first
    /// host. Anything the old session held — transaction, LISTENs, advisory locks — is gone.
    public func reset() throws {
        let connection = try open()
        prepared.removeAll()  // they belonged to the old session
        PQreset(connection)
        guard PQstatus(connection) == CONNECTION_OK else {
            throw PostgresError.connection(connection, code: "postgres.cannot-connect")
        }
    }

    // MARK: - Running SQL

    /// Runs one statement with `parameters` bound to `$1…$n` (the extended protocol: no value is ever
    /// spliced into SQL text). Results come back in `resultFormat`; ``PostgresRow`` decodes both formats.
    ///
    /// `SELECT`, `INSERT`, `UPDATE`, `DELETE` and `WITH` statements are prepared on first use, once per
    /// session and parameter types (`PQprepare`, then `PQexecPrepared`), so the server parses and
    /// analyses each only once per connection — less of the database's CPU for every hot statement
    /// (docs/performance.md, "PostgreSQL"). After ``reset()`` they are prepared again. Transaction control
    /// without parameters (`BEGIN …`, `SAVEPOINT`, `RELEASE`, `ROLLBACK …`, `COMMIT`) goes in the simple
    /// protocol: one message each way, nothing to bind.
    @discardableResult
    public func query(
        _ sql: String, _ parameters: [PostgresValue] = [], resultFormat: PostgresFormat = .binary
    ) throws -> PostgresResult {
        if parameters.isEmpty && PreparedStatementKey.isTransactionControl(sql) {
            // One Query message instead of Parse, Bind, Describe, Execute and Sync: less work on both sides
            // for the BEGIN, SAVEPOINT, RELEASE and COMMIT of every batch. No values, one statement.
            return try execute(sql)
        }
        let connection = try open()
        try refuseInPipeline(connection, sql: sql)
        let encoded = try EncodedParameters(parameters, sql: sql)
        noticeBuffer.clear()
        let name = try preparedName(sql, encoded, on: connection)
        let result = encoded.withArrays { types, values, lengths, formats in
            if let name {
                PQexecPrepared(connection, name, encoded.count, values, lengths, formats, resultFormat.rawValue)
            } else {
                PQexecParams(connection, sql, encoded.count, types, values, lengths, formats, resultFormat.rawValue)
            }
        }
        return try check(result, connection: connection, sql: sql)
    }

    /// The name `sql` with these parameter types is prepared under on this session, preparing it now
    /// (one round trip, the first time) — nil for statements that run unnamed: utility statements
    /// (BEGIN, SAVEPOINT, COMMIT, LISTEN, DDL: nothing to plan) and any past ``preparedLimit``. A failing
    /// prepare throws what running the statement would (a parse or analysis error).
    private func preparedName(_ sql: String, _ encoded: EncodedParameters, on connection: OpaquePointer) throws -> String? {
        let key = PreparedStatementKey(sql: sql, types: encoded.types)
        if let name = prepared[key] { return name }
        guard prepared.count < Self.preparedLimit, PreparedStatementKey.isPlannable(sql) else { return nil }
        let name = "heyan_\(prepared.count + 1)"
        let result = encoded.withArrays { types, _, _, _ in PQprepare(connection, name, sql, encoded.count, types) }
        _ = try check(result, connection: connection, sql: sql)
        prepared[key] = name
        return name
    }

    /// Runs a script of one or more `;`-separated statements without parameters (`PQexec`, the simple
    /// protocol), as one implicit transaction unless the script says otherwise. Returns the last result.
    /// For migrations and setup, never for values from outside.
    @discardableResult
    public func execute(_ script: String) throws -> PostgresResult {
        let connection = try open()
        try refuseInPipeline(connection, sql: script)
        noticeBuffer.clear()
        return try check(PQexec(connection, script), connection: connection, sql: script)
    }

    /// Wraps a result and throws for anything but success.
    private func check(_ result: OpaquePointer?, connection: OpaquePointer, sql: String) throws -> PostgresResult {
        guard let result else {
            throw PostgresError.connection(
                connection,
                code: PQstatus(connection) == CONNECTION_BAD ? "postgres.connection-lost" : "postgres.error",
                sql: sql)
        }
        switch PQresultStatus(result) {
        case PGRES_COMMAND_OK, PGRES_TUPLES_OK, PGRES_EMPTY_QUERY:
            return PostgresResult(takingOwnership: result, sql: sql, notices: noticeBuffer.take())
        default:
            let error = PostgresError(result: result, connection: connection, sql: sql)
            PQclear(result)
            throw error
        }
    }

    private func refuseInPipeline(_ connection: OpaquePointer, sql: String) throws(PostgresError) {
        guard PQpipelineStatus(connection) == PQ_PIPELINE_OFF else {
            throw PostgresError(
                code: "postgres.misuse", message: "synchronous calls are not allowed in pipeline mode", sql: sql)
        }
    }

    /// Quotes `name` as an SQL identifier (`PQescapeIdentifier`), for the few statements that cannot take
    /// a parameter there, such as `LISTEN`.
    public func quotedIdentifier(_ name: String) throws -> String {
        let connection = try open()
        let utf8 = Array(name.utf8)
        guard let quoted = PQescapeIdentifier(connection, name, utf8.count) else {
            throw PostgresError.connection(connection, code: "postgres.invalid-identifier")
        }
        defer { PQfreemem(quoted) }
        return String(cString: quoted)
    }

    // MARK: - Transactions

    /// Runs `body` in a transaction: commits when it returns, rolls back when it throws, and rethrows.
    ///
    /// A failed COMMIT is never retried here. When the connection is lost during the COMMIT the error is
    /// `postgres.commit-in-doubt`; when the server warns that the synchronous-replication wait was cancelled,
    /// `postgres.commit-unacknowledged` — in both cases the transaction may have committed. Transactions do
    /// not nest.
    public func transaction<T>(
        _ isolation: IsolationLevel = .readCommitted, _ body: (PostgresConnection) throws -> T
    ) throws -> T {
        try query("BEGIN ISOLATION LEVEL \(isolation.rawValue)")
        let value: T
        do {
            value = try body(self)
        } catch {
            rollbackQuietly()
            throw error
        }
        try commit()
        return value
    }

    /// Sends COMMIT and checks that it committed and was acknowledged.
    ///
    /// Throws `postgres.transaction-aborted` when the transaction had failed (the server answers a COMMIT
    /// of a failed transaction with ROLLBACK and no error), `postgres.commit-in-doubt` when the connection
    /// was lost before the answer, and `postgres.commit-unacknowledged` when the server warned that the
    /// synchronous-replication wait was cancelled.
    public func commit() throws {
        let result: PostgresResult
        do {
            result = try query("COMMIT")
        } catch let error as PostgresError
            where error.code == "postgres.connection-lost" || error.sqlState == "57P01"
            || error.sqlState == "57P02" || error.sqlState?.hasPrefix("08") == true
        {
            throw PostgresError(
                code: "postgres.commit-in-doubt", sqlState: error.sqlState,
                message: "the connection failed while COMMIT was outstanding; the transaction may have committed: "
                    + error.serverMessage, sql: "COMMIT")
        }
        if result.commandTag == "ROLLBACK" {
            throw PostgresError(
                code: "postgres.transaction-aborted", sqlState: "25P02",
                message: "COMMIT rolled back a transaction in which a statement had failed", sql: "COMMIT")
        }
        if let notice = result.notices.first(where: \.isSynchronousReplicationCancelled) {
            throw PostgresError(
                code: "postgres.commit-unacknowledged", sqlState: notice.sqlState,
                message: "committed locally but not acknowledged by the synchronous standby: \(notice.message)",
                detail: notice.detail, sql: "COMMIT")
        }
    }

    /// Rolls back the open transaction. The error that led here is what the caller reports, so a failing
    /// rollback is not thrown; a connection it leaves broken shows as ``isConnected`` false.
    public func rollbackQuietly() {
        guard let handle, PQstatus(handle) == CONNECTION_OK, transactionStatus != .idle else { return }
        _ = try? query("ROLLBACK")
    }

    // MARK: - Notices

    /// Notices received outside any statement this wrapper ran (e.g. while waiting for notifications),
    /// taken from the buffer.
    public func takeNotices() -> [PostgresNotice] { noticeBuffer.take() }

    // MARK: - Pipeline mode

    /// Sends `statements` in one round trip with one sync point and reads every result (libpq pipeline
    /// mode, PG 14+).
    ///
    /// Until the sync, the statements form one implicit transaction unless they contain BEGIN/COMMIT
    /// themselves; after a failure the remaining statements up to the sync are not run and come back as
    /// ``PostgresPipelineOutcome/aborted``. Sending and reading overlap (non-blocking writes, reading
    /// whenever the socket is readable), so a large pipeline cannot deadlock with the server's output.
    ///
    /// Throws `postgres.commit-in-doubt` when the connection is lost after the sync was sent (the implicit
    /// transaction may have committed), `postgres.connection-lost` when it is lost before, and
    /// `postgres.commit-unacknowledged` when the synchronous-replication wait was cancelled.
    public func pipeline(_ statements: [PostgresStatement]) throws -> [PostgresPipelineOutcome] {
        let connection = try open()
        try refuseInPipeline(connection, sql: statements.first?.sql ?? "")
        // Encode everything first, so no error of ours can leave a half-sent pipeline.
        let encoded = try statements.map { try EncodedParameters($0.parameters, sql: $0.sql) }
        noticeBuffer.clear()
        // Prepared before the pipeline starts (only the first time on this session), run by name inside it.
        let names = try zip(statements, encoded).map { try preparedName($0.sql, $1, on: connection) }
        guard PQenterPipelineMode(connection) == 1 else {
            throw PostgresError.connection(connection, code: "postgres.pipeline")
        }
        guard PQsetnonblocking(connection, 1) == 0 else {
            _ = PQexitPipelineMode(connection)
            throw PostgresError.connection(connection, code: "postgres.pipeline")
        }
        var syncSent = false
        func lost() -> PostgresError {
            PostgresError.connection(
                connection, code: syncSent ? "postgres.commit-in-doubt" : "postgres.connection-lost")
        }
        do {
            for ((statement, parameters), name) in zip(zip(statements, encoded), names) {
                let sent = parameters.withArrays { types, values, lengths, formats in
                    if let name {
                        PQsendQueryPrepared(
                            connection, name, parameters.count, values, lengths, formats, statement.resultFormat.rawValue)
                    } else {
                        PQsendQueryParams(
                            connection, statement.sql, parameters.count, types, values, lengths, formats,
                            statement.resultFormat.rawValue)
                    }
                }
                // Not flushed here: libpq sends by itself once 64 KB are buffered (without blocking, as the
                // connection is non-blocking), so a pipeline normally leaves in one write at the sync, instead
                // of one write (and one wake-up of the server) per statement.
                guard sent == 1 else { throw lost() }
            }
            guard PQpipelineSync(connection) == 1 else { throw lost() }
            syncSent = true
            try flush(connection, onFailure: lost)
            guard PQsetnonblocking(connection, 0) == 0 else { throw lost() }

            var outcomes: [PostgresPipelineOutcome] = []
            outcomes.reserveCapacity(statements.count)
            for statement in statements {
                var outcome: PostgresPipelineOutcome?
                while let result = PQgetResult(connection) {
                    switch PQresultStatus(result) {
                    case PGRES_COMMAND_OK, PGRES_TUPLES_OK, PGRES_EMPTY_QUERY:
                        outcome = .completed(PostgresResult(takingOwnership: result, sql: statement.sql, notices: []))
                    case PGRES_PIPELINE_ABORTED:
                        PQclear(result)
                        outcome = .aborted
                    default:
                        let error = PostgresError(result: result, connection: connection, sql: statement.sql)
                        PQclear(result)
                        if PQstatus(connection) == CONNECTION_BAD { throw lost() }
                        outcome = .failed(error)
                    }
                }
                guard let outcome else { throw lost() }
                outcomes.append(outcome)
            }
            guard let sync = PQgetResult(connection) else { throw lost() }
            let status = PQresultStatus(sync)
            PQclear(sync)
            guard status == PGRES_PIPELINE_SYNC else { throw lost() }
            guard PQexitPipelineMode(connection) == 1 else {
                throw PostgresError.connection(connection, code: "postgres.pipeline")
            }
            if let notice = noticeBuffer.take().first(where: \.isSynchronousReplicationCancelled) {
                throw PostgresError(
                    code: "postgres.commit-unacknowledged", sqlState: notice.sqlState,
                    message: "committed locally but not acknowledged by the synchronous standby: \(notice.message)",
                    detail: notice.detail)
            }
            return outcomes
        } catch {
            // A broken connection cannot leave pipeline mode cleanly; a healthy one has been drained.
            if PQstatus(connection) == CONNECTION_OK {
                _ = PQsetnonblocking(connection, 0)
                _ = PQexitPipelineMode(connection)
            }
            throw error
        }
    }

    /// Pushes libpq's output buffer to the socket until it is empty. While the socket is full, reads
    /// whatever the server sends meanwhile so that neither side blocks on the other.
    private func flush(_ connection: OpaquePointer, onFailure: () -> PostgresError) throws {
        while true {
            switch PQflush(connection) {
            case 0:
                return
            case 1:
                guard PQconsumeInput(connection) == 1 else { throw onFailure() }
                var descriptor = pollfd(fd: PQsocket(connection), events: Int16(POLLIN | POLLOUT), revents: 0)
                let ready = poll(&descriptor, 1, 1_000)
                if ready < 0 && errno != EINTR { throw onFailure() }
            default:
                throw onFailure()
            }
        }
    }

    // MARK: - LISTEN / NOTIFY

    /// Subscribes this session to `channel` (`LISTEN`). Notifications are delivered only while the session
    /// lives: after a reconnect, LISTEN again and re-read state from the tables.
    public func listen(_ channel: String) throws {
        try query("LISTEN \(try quotedIdentifier(channel))")
    }

    /// Ends the subscription to `channel` (`UNLISTEN`).
    public func unlisten(_ channel: String) throws {
        try query("UNLISTEN \(try quotedIdentifier(channel))")
    }

    /// Sends `payload` (under 8000 bytes) on `channel` (`pg_notify`). Inside a transaction it is delivered
    /// when, and only if, the transaction commits.
    public func notify(_ channel: String, payload: String = "") throws {
        try query("SELECT pg_notify($1, $2)", [.text(channel), .text(payload)])
    }

    /// The connection's socket, for `poll`/`epoll` on notifications (`PQsocket`); -1 when closed.
    public var socketDescriptor: Int32 { handle.map { PQsocket($0) } ?? -1 }

    /// The notifications received so far, reading whatever has arrived on the socket without blocking
    /// (`PQconsumeInput`, then `PQnotifies` until empty). Throws `postgres.connection-lost` when the
    /// socket reports the connection gone.
    public func notifications() throws -> [PostgresNotification] {
        let connection = try open()
        guard PQconsumeInput(connection) == 1 else {
            throw PostgresError.connection(connection, code: "postgres.connection-lost")
        }
        return drainNotifications(connection)
    }

    /// Waits up to `timeout` seconds for at least one notification and returns those received; an empty
    /// array when none came in time.
    public func waitForNotifications(timeout: Double) throws -> [PostgresNotification] {
        let connection = try open()
        let deadline = monotonicNow() + timeout
        while true {
            let received = try notifications()
            if !received.isEmpty { return received }
            let remaining = deadline - monotonicNow()
            if remaining <= 0 { return [] }
            var descriptor = pollfd(fd: PQsocket(connection), events: Int16(POLLIN), revents: 0)
            let ready = poll(&descriptor, 1, Int32(min(remaining * 1000, Double(Int32.max)).rounded(.up)))
            if ready < 0 && errno != EINTR {
                throw PostgresError(code: "postgres.connection-lost", message: "poll failed with errno \(errno)")
            }
        }
    }

    private func drainNotifications(_ connection: OpaquePointer) -> [PostgresNotification] {
        var received: [PostgresNotification] = []
        while let notification = PQnotifies(connection) {
            let item = notification.pointee
            received.append(
                PostgresNotification(
                    channel: String(cString: item.relname), payload: String(cString: item.extra),
                    senderPID: item.be_pid))
            PQfreemem(notification)
        }
        return received
    }
}

@available(*, unavailable)
extension PostgresConnection: Sendable {}

/// One statement of a pipeline: SQL, its parameters and the format its rows should come back in.
public struct PostgresStatement: Sendable {
    public let sql: String
    public let parameters: [PostgresValue]
    public let resultFormat: PostgresFormat

    public init(_ sql: String, _ parameters: [PostgresValue] = [], resultFormat: PostgresFormat = .binary) {
        self.sql = sql
        self.parameters = parameters
        self.resultFormat = resultFormat
    }
}

/// A statement as the server prepared it: its text and its parameters' types (0: the server infers it).
struct PreparedStatementKey: Hashable {
    let sql: String
    let types: [Oid]

    /// Hashes the parameter types, the text's length and its last 64 bytes, where statements differ (their
    /// `WHERE`, `VALUES`, `RETURNING`): hashing whole texts of a few hundred bytes for every statement run
    /// was most of a lookup's cost. Equality still compares the whole text.
    func hash(into hasher: inout Hasher) {
        hasher.combine(types)
        let utf8 = sql.utf8
        hasher.combine(utf8.count)
        let hashed: Void? = utf8.withContiguousStorageIfAvailable { bytes in
            hasher.combine(bytes: UnsafeRawBufferPointer(UnsafeBufferPointer(rebasing: bytes.suffix(64))))
        }
        if hashed == nil { for byte in utf8.suffix(64) { hasher.combine(byte) } }
    }

    static func == (lhs: PreparedStatementKey, rhs: PreparedStatementKey) -> Bool {
        lhs.types == rhs.types && lhs.sql == rhs.sql
    }

    /// Whether the server plans `sql` (and so gains by preparing it once): it begins with SELECT,
    /// INSERT, UPDATE, DELETE or WITH.
    static func isPlannable(_ sql: String) -> Bool {
        let upper = firstWord(sql, length: 6)
        return ["SELECT", "INSERT", "UPDATE", "DELETE"].contains(upper) || upper.hasPrefix("WITH")
    }

    /// Whether `sql` is one transaction-control statement (BEGIN, COMMIT, ROLLBACK, SAVEPOINT, RELEASE; no
    /// `;`), which ``PostgresConnection/query(_:_:resultFormat:)`` sends in the simple protocol when it has
    /// no parameters. Compared byte by byte, without allocating: it runs for every parameterless statement.
    static func isTransactionControl(_ sql: String) -> Bool {
        sql.utf8.withContiguousStorageIfAvailable { text in
            var start = 0
            while start < text.count, text[start] == 0x20 || text[start] == 0x0A || text[start] == 0x09 { start += 1 }
            let keyword = transactionKeywords.first { keyword in
                guard text.count - start >= keyword.count else { return false }
                for (offset, byte) in keyword.enumerated() where text[start + offset] & 0xDF != byte { return false }
                let end = start + keyword.count
                return end == text.count || text[end] == 0x20 || text[end] == 0x0A || text[end] == 0x09
            }
            guard keyword != nil, let base = text.baseAddress else { return false }
            return memchr(base, Int32(UInt8(ascii: ";")), text.count) == nil
        } ?? false
    }

    /// The statements ``isTransactionControl(_:)`` recognises, in upper case.
    private static let transactionKeywords: [[UInt8]] = ["BEGIN", "COMMIT", "ROLLBACK", "SAVEPOINT", "RELEASE"].map {
        Array($0.utf8)
    }

    /// The first `length` bytes of `sql` after leading blanks and parentheses, in upper case.
    private static func firstWord(_ sql: String, length: Int) -> String {
        let word = sql.utf8.drop(while: { $0 == 0x20 || $0 == 0x0A || $0 == 0x09 || $0 == 0x28 }).prefix(length)
        return String(decoding: word.map { $0 >= 0x61 && $0 <= 0x7A ? $0 - 0x20 : $0 }, as: UTF8.self)
    }
}

/// What became of one statement of a pipeline.
public enum PostgresPipelineOutcome {
    /// It ran; its result.
    case completed(PostgresResult)
    /// It failed; every later statement up to the sync is ``aborted``.
    case failed(PostgresError)
    /// It was not run because an earlier statement of the pipeline failed.
    case aborted

    /// The result, or the error (`postgres.pipeline-aborted` for a statement not run).
    public func get() throws -> PostgresResult {
        switch self {
        case .completed(let result): return result
        case .failed(let error): throw error
        case .aborted:
            throw PostgresError(
                code: "postgres.pipeline-aborted", message: "not run: an earlier statement of the pipeline failed")
        }
    }
}

@available(*, unavailable)
extension PostgresPipelineOutcome: Sendable {}

/// A notification from `NOTIFY` / `pg_notify`.
public struct PostgresNotification: Sendable, Equatable {
    public let channel: String
    public let payload: String
    /// The server process of the notifying session.
    public let senderPID: Int32

    public init(channel: String, payload: String, senderPID: Int32) {
        self.channel = channel
        self.payload = payload
        self.senderPID = senderPID
    }
}

/// Collects the notices libpq's notice receiver hands over while a call runs. Reached only from the
/// thread using the connection (libpq calls the receiver synchronously inside the call).
private final class NoticeBuffer {
    private var notices: [PostgresNotice] = []

    func clear() { notices.removeAll(keepingCapacity: true) }

    func take() -> [PostgresNotice] {
        defer { notices.removeAll() }
        return notices
    }

    func receive(_ result: OpaquePointer) {
        func field(_ code: Int32) -> String? {
            PQresultErrorField(result, code).map { String(cString: $0) }
        }
        notices.append(
            PostgresNotice(
                severity: field(heyan_pg_diag_severity()) ?? "NOTICE", sqlState: field(heyan_pg_diag_sqlstate()),
                message: field(heyan_pg_diag_message_primary()) ?? "", detail: field(heyan_pg_diag_message_detail())))
    }
}

private func monotonicNow() -> Double {
    var now = timespec()
    clock_gettime(CLOCK_MONOTONIC, &now)
    return Double(now.tv_sec) + Double(now.tv_nsec) / 1e9
}
