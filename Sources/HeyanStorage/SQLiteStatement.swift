import CSQLite

/// A prepared SQLite statement: owns one `sqlite3_stmt*`, finalized when the statement is released.
///
/// Get one from ``SQLiteConnection/prepare(_:)`` or, on hot paths, from
/// ``SQLiteConnection/cachedStatement(_:)``. Parameters are numbered from 1, as in SQLite;
/// columns from 0. Like its connection, a statement must stay on one thread at a time.
///
/// The statement does not keep its connection alive: connections close with `sqlite3_close_v2`,
/// which leaves the database handle open (a "zombie") until its last statement is finalized, so
/// a statement outliving its ``SQLiteConnection`` is still safe to use and release.
public final class SQLiteStatement {
    private let handle: OpaquePointer
    /// The SQL this statement was prepared from.
    public let sql: String

    /// Wraps `handle`, which this statement now owns and will finalize.
    init(takingOwnership handle: OpaquePointer, sql: String) {
        self.handle = handle
        self.sql = sql
    }

    /// Where text and blob parameters are copied for SQLite to take as they are.
    private var arena = SQLiteBindingArena()

    deinit {
        // sqlite3_finalize only repeats the error of the last sqlite3_step, which step() has
        // already thrown; finalizing itself cannot fail, so the return value carries nothing new.
        _ = sqlite3_finalize(handle)
        arena.deallocate()
    }

    /// Calls `body` with the raw statement, for SQLite calls this wrapper does not offer.
    /// The pointer must not escape `body`.
    public func withStatementPointer<T>(_ body: (OpaquePointer) throws -> T) rethrows -> T {
        try body(handle)
    }

    private var connection: OpaquePointer? { sqlite3_db_handle(handle) }

    private func check(_ returned: Int32) throws(SQLiteError) {
        try SQLiteError.check(returned, connection: connection, sql: sql)
    }

    // MARK: - Binding

    /// The number of parameters in ``sql`` (the largest parameter index).
    public var parameterCount: Int { Int(sqlite3_bind_parameter_count(handle)) }

    /// Binds `value` to the 1-based parameter `index`.
    ///
    /// Text and blobs are copied at once — the Swift buffer they come from is only guaranteed to
    /// live for the duration of this call — into the statement's ``SQLiteBindingArena``, which
    /// SQLite reads in place (`SQLITE_STATIC`) until the bindings are cleared; a value the arena has
    /// no room for is bound `SQLITE_TRANSIENT`, copied by SQLite.
    public func bind(_ value: SQLiteValue, at index: Int) throws {
        let position = Int32(clamping: index)
        switch value {
        case .null:
            try check(sqlite3_bind_null(handle, position))
        case .integer(let integer):
            try check(sqlite3_bind_int64(handle, position, integer))
        case .real(let real):
            try check(sqlite3_bind_double(handle, position, real))
        case .text(var text):
            let returned = text.withUTF8 { bytes -> Int32 in
                // A NULL pointer would bind SQL NULL; an empty string must stay an empty string.
                guard let base = bytes.baseAddress, bytes.count > 0 else {
                    return sqlite3_bind_text(handle, position, "", 0, heyan_sqlite_transient())
                }
                if let copy = arena.copy(UnsafeRawBufferPointer(bytes)) {
                    return sqlite3_bind_text64(
                        handle, position, copy.assumingMemoryBound(to: CChar.self), UInt64(bytes.count),
                        heyan_sqlite_static(), UInt8(SQLITE_UTF8))
                }
                return base.withMemoryRebound(to: CChar.self, capacity: bytes.count) {
                    sqlite3_bind_text64(
                        handle, position, $0, UInt64(bytes.count), heyan_sqlite_transient(), UInt8(SQLITE_UTF8))
                }
            }
            try check(returned)
        case .blob(let bytes):
            let returned = bytes.withUnsafeBytes { buffer -> Int32 in
                // A NULL pointer would bind SQL NULL; an empty blob must stay a zero-length blob.
                guard let base = buffer.baseAddress, buffer.count > 0 else {
                    return sqlite3_bind_zeroblob(handle, position, 0)
                }
                if let copy = arena.copy(buffer) {
                    return sqlite3_bind_blob64(handle, position, copy, UInt64(buffer.count), heyan_sqlite_static())
                }
                return sqlite3_bind_blob64(handle, position, base, UInt64(buffer.count), heyan_sqlite_transient())
            }
            try check(returned)
        }
    }

    /// Binds a 64-bit integer to the 1-based parameter `index`.
    public func bind(_ value: Int64, at index: Int) throws { try bind(.integer(value), at: index) }
    /// Binds an integer to the 1-based parameter `index`.
    public func bind(_ value: Int, at index: Int) throws { try bind(.integer(Int64(value)), at: index) }
    /// Binds a double to the 1-based parameter `index`.
    public func bind(_ value: Double, at index: Int) throws { try bind(.real(value), at: index) }
    /// Binds UTF-8 text to the 1-based parameter `index`.
    public func bind(_ value: String, at index: Int) throws { try bind(.text(value), at: index) }
    /// Binds a blob to the 1-based parameter `index`.
    public func bind(_ value: [UInt8], at index: Int) throws { try bind(.blob(value), at: index) }
    /// Binds `value`, or SQL NULL when it is `nil`, to the 1-based parameter `index`.
    public func bind(_ value: SQLiteValue?, at index: Int) throws { try bind(value ?? .null, at: index) }
    /// Binds SQL NULL to the 1-based parameter `index`.
    public func bindNull(at index: Int) throws { try bind(.null, at: index) }

    /// Binds `value` to the named parameter `name`, spelled as in the SQL (`:id`, `@id`, `$id`).
    public func bind(_ value: SQLiteValue, named name: String) throws {
        let index = sqlite3_bind_parameter_index(handle, name)
        guard index > 0 else {
            throw SQLiteError(
                resultCode: SQLITE_RANGE, message: "no parameter named \(name)", sql: sql)
        }
        try bind(value, at: Int(index))
    }

    /// Binds `values` to parameters 1…n. The count must match ``parameterCount`` exactly, so a
    /// forgotten argument is an error rather than a silent NULL.
    public func bind(_ values: [SQLiteValue]) throws {
        guard values.count == parameterCount else {
            throw SQLiteError(
                resultCode: SQLITE_RANGE,
                message: "statement has \(parameterCount) parameters, \(values.count) values given", sql: sql)
        }
        for (offset, value) in values.enumerated() {
            try bind(value, at: offset + 1)
        }
    }

    /// Sets every parameter back to NULL, and frees the statement's arena for the next bindings.
    public func clearBindings() throws {
        try check(sqlite3_clear_bindings(handle))
        arena.reset()
    }

    // MARK: - Running

    /// Runs the statement to its next row: `true` when a row is available to read, `false` when
    /// the statement has finished.
    ///
    /// On failure the statement is reset before the error is thrown, so it can be used again and
    /// does not keep a read snapshot open.
    @discardableResult
    public func step() throws -> Bool {
        let returned = sqlite3_step(handle)
        switch returned {
        case SQLITE_ROW:
            return true
        case SQLITE_DONE:
            return false
        default:
            let error = SQLiteError(connection: connection, returned: returned, sql: sql)
            // sqlite3_reset returns the same error again; it is the one being thrown.
            _ = sqlite3_reset(handle)
            throw error
        }
    }

    /// Steps until the statement is done, ignoring any rows; for INSERT, UPDATE, DELETE, DDL.
    public func run() throws {
        while try step() {}
    }

    /// Rewinds the statement so it can run again; bindings are kept (see ``clearBindings()``).
    /// Resetting also ends the read snapshot a partly stepped SELECT holds.
    public func reset() throws {
        try check(sqlite3_reset(handle))
    }

    /// `true` while the statement has been stepped but not run to completion or reset.
    public var isBusy: Bool { sqlite3_stmt_busy(handle) != 0 }

    // MARK: - Reading columns of the current row

    /// The number of columns in a result row.
    public var columnCount: Int { Int(sqlite3_column_count(handle)) }

    /// The name of the 0-based column `index`.
    public func columnName(at index: Int) -> String {
        sqlite3_column_name(handle, Int32(clamping: index)).map { String(cString: $0) } ?? ""
    }

    /// `true` when the 0-based column `index` of the current row is NULL.
    public func isNull(at index: Int) -> Bool {
        sqlite3_column_type(handle, Int32(clamping: index)) == SQLITE_NULL
    }

    /// The 0-based column `index` as a 64-bit integer (NULL reads as 0).
    public func int64(at index: Int) -> Int64 {
        sqlite3_column_int64(handle, Int32(clamping: index))
    }

    /// The 0-based column `index` as a double (NULL reads as 0).
    public func double(at index: Int) -> Double {
        sqlite3_column_double(handle, Int32(clamping: index))
    }

    /// The 0-based column `index` as text, or `nil` when it is NULL. Embedded NUL characters are
    /// kept: the length comes from `sqlite3_column_bytes`, not from a terminator.
    public func text(at index: Int) -> String? {
        let column = Int32(clamping: index)
        guard let bytes = sqlite3_column_text(handle, column) else { return nil }
        let count = Int(sqlite3_column_bytes(handle, column))
        return String(decoding: UnsafeBufferPointer(start: bytes, count: count), as: UTF8.self)
    }

    /// The 0-based column `index` as bytes, or `nil` when it is NULL. A zero-length blob reads as
    /// an empty array, not `nil`.
    public func blob(at index: Int) -> [UInt8]? {
        let column = Int32(clamping: index)
        if sqlite3_column_type(handle, column) == SQLITE_NULL { return nil }
        guard let bytes = sqlite3_column_blob(handle, column) else { return [] }
        let count = Int(sqlite3_column_bytes(handle, column))
        return Array(UnsafeRawBufferPointer(start: bytes, count: count))
    }

    /// The 0-based column `index` in its own storage class.
    public func value(at index: Int) -> SQLiteValue {
        switch sqlite3_column_type(handle, Int32(clamping: index)) {
        case SQLITE_INTEGER: .integer(int64(at: index))
        case SQLITE_FLOAT: .real(double(at: index))
        case SQLITE_TEXT: text(at: index).map(SQLiteValue.text) ?? .null
        case SQLITE_BLOB: .blob(blob(at: index) ?? [])
        default: .null
        }
    }

    /// Every column of the current row, in order.
    public func row() -> [SQLiteValue] {
        (0..<columnCount).map { value(at: $0) }
    }
}

@available(*, unavailable)
extension SQLiteStatement: Sendable {}
