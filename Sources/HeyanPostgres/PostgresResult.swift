import CPostgres
import Glibc

/// The result of one statement: owns a `PGresult*`, cleared with `PQclear` on release.
///
/// Rows are read by column *name* through ``PostgresRow``, so a reordered SELECT list cannot silently
/// shift values; a NULL where a value is required throws `postgres.unexpected-null`. The notices
/// (warnings) the server sent while the statement ran are kept in ``notices``. Like its connection, a
/// result stays on one thread.
public final class PostgresResult {
    private let handle: OpaquePointer
    /// The SQL this result answers.
    public let sql: String
    /// Warnings and notices the server sent while the statement ran, in order.
    public let notices: [PostgresNotice]
    /// The number of columns (`PQnfields`).
    private let columnCount: Int32

    /// Wraps `handle`, which this result now owns and will clear.
    init(takingOwnership handle: OpaquePointer, sql: String, notices: [PostgresNotice]) {
        self.handle = handle
        self.sql = sql
        self.notices = notices
        self.columnCount = PQnfields(handle)
    }

    deinit { PQclear(handle) }

    /// Calls `body` with the raw result, for libpq calls this wrapper does not offer.
    /// The pointer must not escape `body`.
    public func withResultPointer<T>(_ body: (OpaquePointer) throws -> T) rethrows -> T {
        try body(handle)
    }

    /// The number of rows returned.
    public var rowCount: Int { Int(PQntuples(handle)) }

    /// The column names, in order.
    public var columnNames: [String] { (0..<PQnfields(handle)).map { String(cString: PQfname(handle, $0)) } }

    /// The command tag, such as `INSERT 0 1`, `UPDATE 3` or `COMMIT` (`PQcmdStatus`).
    public var commandTag: String { String(cString: PQcmdStatus(handle)) }

    /// Rows inserted, updated, deleted, selected, … as the command tag reports them; 0 for commands
    /// that report none (`PQcmdTuples`).
    public var affectedRows: Int { Int(String(cString: PQcmdTuples(handle))) ?? 0 }

    /// The row at `index` (0-based).
    public subscript(index: Int) -> PostgresRow {
        precondition(index >= 0 && index < rowCount, "row \(index) out of range 0..<\(rowCount)")
        return PostgresRow(result: self, index: Int32(index))
    }

    /// Every row, in order.
    public var rows: [PostgresRow] { (0..<rowCount).map { self[$0] } }

    /// True when a notice says the wait for the synchronous standby was cancelled: the transaction
    /// committed locally but may not have reached the standby (``PostgresNotice/isSynchronousReplicationCancelled``).
    public var hasUnacknowledgedCommit: Bool { notices.contains { $0.isSynchronousReplicationCancelled } }

    /// The index of the first column called `name`. Compared in place with libpq's names, first to last:
    /// a result has a few dozen columns at most, and building a name → index table for each result cost
    /// more than the lookups it saved (most results are read once).
    func columnIndex(_ name: String, row: Int32) throws(PostgresError) -> Int32 {
        var name = name
        let found: Int32? = name.withUTF8 { wanted in
            // A name with a NUL cannot be a column's (and would end strncmp early).
            guard let base = wanted.baseAddress, wanted.count > 0, memchr(base, 0, wanted.count) == nil else {
                return nil
            }
            let length = wanted.count
            return base.withMemoryRebound(to: CChar.self, capacity: length) { wanted in
                for column in 0..<columnCount {
                    guard let candidate = PQfname(handle, column), candidate[0] == wanted[0] else { continue }
                    if strncmp(candidate, wanted, length) == 0 && candidate[length] == 0 { return column }
                }
                return nil
            }
        }
        guard let index = found else {
            throw PostgresError(
                code: "postgres.no-such-column",
                message: "the result has no column \(name) (columns: \(columnNames.joined(separator: ", ")))", sql: sql)
        }
        return index
    }

    fileprivate func value<T: PostgresDecodable>(
        _ column: String, row: Int32, as type: T.Type
    ) throws(PostgresError) -> T? {
        let index = try columnIndex(column, row: row)
        if PQgetisnull(handle, row, index) == 1 { return nil }
        let length = Int(PQgetlength(handle, row, index))
        let bytes = UnsafeRawBufferPointer(start: PQgetvalue(handle, row, index), count: length)
        let format = PostgresFormat(rawValue: PQfformat(handle, index)) ?? .text
        let oid = PQftype(handle, index)
        guard let decoded = T(postgresBytes: bytes, format: format, type: oid) else {
            throw PostgresError(
                code: "postgres.type-mismatch",
                message:
                    "column \(column) (type OID \(oid), \(format) format) of row \(row) cannot be read as \(T.self)",
                sql: sql)
        }
        return decoded
    }
}

@available(*, unavailable)
extension PostgresResult: Sendable {}

/// One row of a ``PostgresResult``, read by column name.
public struct PostgresRow {
    /// The result the row belongs to (kept alive by the row).
    public let result: PostgresResult
    /// The row's 0-based index.
    public let index: Int32

    /// The value of `column`; throws `postgres.unexpected-null` when it is NULL, `postgres.no-such-column`
    /// when the result has no such column, and `postgres.type-mismatch` when the value is not a `T`.
    public func decode<T: PostgresDecodable>(_ column: String, as type: T.Type = T.self) throws(PostgresError) -> T {
        guard let value = try result.value(column, row: index, as: T.self) else {
            throw PostgresError(
                code: "postgres.unexpected-null", message: "column \(column) of row \(index) is NULL", sql: result.sql)
        }
        return value
    }

    /// The value of `column`, or `nil` when it is NULL.
    public func decodeIfPresent<T: PostgresDecodable>(
        _ column: String, as type: T.Type = T.self
    ) throws(PostgresError) -> T? {
        try result.value(column, row: index, as: T.self)
    }

    /// True when `column` is NULL.
    public func isNull(_ column: String) throws(PostgresError) -> Bool {
        let column = try result.columnIndex(column, row: index)
        return result.withResultPointer { PQgetisnull($0, index, column) == 1 }
    }
}

@available(*, unavailable)
extension PostgresRow: Sendable {}

/// A Swift type a column value can be read as, from either text or binary format.
public protocol PostgresDecodable {
    /// Decodes one non-NULL value of type OID `type`; `nil` when the value or its type does not fit.
    init?(postgresBytes bytes: UnsafeRawBufferPointer, format: PostgresFormat, type: Oid)
}

extension PostgresDecodable {
    fileprivate static func text(_ bytes: UnsafeRawBufferPointer) -> String {
        String(decoding: bytes, as: UTF8.self)
    }

    fileprivate static func bigEndian(_ bytes: UnsafeRawBufferPointer) -> UInt64 {
        bytes.reduce(0) { $0 << 8 | UInt64($1) }
    }
}

extension Int64: PostgresDecodable {
    /// Reads `int2`, `int4`, `int8` and `oid` in binary; any integer text in text format.
    public init?(postgresBytes bytes: UnsafeRawBufferPointer, format: PostgresFormat, type: Oid) {
        switch format {
        case .text:
            guard let value = Int64(Self.text(bytes)) else { return nil }
            self = value
        case .binary:
            switch (type, bytes.count) {
            case (PostgresType.int8, 8): self = Int64(bitPattern: Self.bigEndian(bytes))
            case (PostgresType.int4, 4): self = Int64(Int32(bitPattern: UInt32(Self.bigEndian(bytes))))
            case (PostgresType.int2, 2): self = Int64(Int16(bitPattern: UInt16(Self.bigEndian(bytes))))
            case (PostgresType.oid, 4): self = Int64(UInt32(Self.bigEndian(bytes)))
            default: return nil
            }
        }
    }
}

extension Int: PostgresDecodable {
    /// Reads what `Int64` reads.
    public init?(postgresBytes bytes: UnsafeRawBufferPointer, format: PostgresFormat, type: Oid) {
        guard let value = Int64(postgresBytes: bytes, format: format, type: type) else { return nil }
        self = Int(value)
    }
}

extension Int32: PostgresDecodable {
    /// Reads what `Int64` reads, when it fits.
    public init?(postgresBytes bytes: UnsafeRawBufferPointer, format: PostgresFormat, type: Oid) {
        guard let value = Int64(postgresBytes: bytes, format: format, type: type), let narrow = Int32(exactly: value)
        else { return nil }
        self = narrow
    }
}

extension Bool: PostgresDecodable {
    /// Reads `bool`: one byte in binary, `t`/`f` in text.
    public init?(postgresBytes bytes: UnsafeRawBufferPointer, format: PostgresFormat, type: Oid) {
        switch format {
        case .text:
            switch Self.text(bytes) {
            case "t": self = true
            case "f": self = false
            default: return nil
            }
        case .binary:
            guard type == PostgresType.bool, bytes.count == 1 else { return nil }
            self = bytes[0] != 0
        }
    }
}

extension Double: PostgresDecodable {
    /// Reads `float8` and `float4` in binary; any number in text format.
    public init?(postgresBytes bytes: UnsafeRawBufferPointer, format: PostgresFormat, type: Oid) {
        switch format {
        case .text:
            guard let value = Double(Self.text(bytes)) else { return nil }
            self = value
        case .binary:
            switch (type, bytes.count) {
            case (PostgresType.float8, 8): self = Double(bitPattern: Self.bigEndian(bytes))
            case (PostgresType.float4, 4): self = Double(Float(bitPattern: UInt32(Self.bigEndian(bytes))))
            default: return nil
            }
        }
    }
}

extension String: PostgresDecodable {
    /// Reads any value in text format; in binary, the textual types (`text`, `varchar`, `char(n)`, `name`,
    /// `json`, `jsonb` without its version byte, `"char"`, unknown).
    public init?(postgresBytes bytes: UnsafeRawBufferPointer, format: PostgresFormat, type: Oid) {
        switch format {
        case .text:
            self = Self.text(bytes)
        case .binary:
            switch type {
            case PostgresType.text, PostgresType.varchar, PostgresType.bpchar, PostgresType.name, PostgresType.json,
                PostgresType.char, PostgresType.unknown:
                self = Self.text(bytes)
            case PostgresType.jsonb:
                guard bytes.first == 1 else { return nil }
                self = Self.text(UnsafeRawBufferPointer(rebasing: bytes.dropFirst()))
            default:
                return nil
            }
        }
    }
}

extension Array: PostgresDecodable where Element == UInt8 {
    /// Reads `bytea`: raw bytes in binary, `\x`-hex in text format.
    public init?(postgresBytes bytes: UnsafeRawBufferPointer, format: PostgresFormat, type: Oid) {
        switch format {
        case .binary:
            guard type == PostgresType.bytea else { return nil }
            self = Array(bytes)
        case .text:
            guard type == PostgresType.bytea, bytes.count >= 2, bytes.count % 2 == 0, bytes[0] == 0x5C,
                bytes[1] == 0x78
            else { return nil }
            var decoded: [UInt8] = []
            decoded.reserveCapacity((bytes.count - 2) / 2)
            var index = 2
            while index < bytes.count {
                guard let high = hexValue(bytes[index]), let low = hexValue(bytes[index + 1]) else { return nil }
                decoded.append(high << 4 | low)
                index += 2
            }
            self = decoded
        }
    }
}

private func hexValue(_ byte: UInt8) -> UInt8? {
    switch byte {
    case 0x30...0x39: byte - 0x30
    case 0x61...0x66: byte - 0x61 + 10
    case 0x41...0x46: byte - 0x41 + 10
    default: nil
    }
}

/// A notice or warning the server sent (`NOTICE`, `WARNING`, …), delivered to libpq's notice receiver.
public struct PostgresNotice: Sendable, Equatable {
    /// `WARNING`, `NOTICE`, `INFO`, `LOG` or `DEBUG`, never translated.
    public let severity: String
    /// The SQLSTATE (`01000` for a plain warning).
    public let sqlState: String?
    /// The primary message (translated by the server per its `lc_messages`).
    public let message: String
    /// The DETAIL line, if any.
    public let detail: String?

    public init(severity: String, sqlState: String?, message: String, detail: String?) {
        self.severity = severity
        self.sqlState = sqlState
        self.message = message
        self.detail = detail
    }

    /// True for PostgreSQL's warning that a commit stopped waiting for the synchronous standby — "canceling
    /// wait for synchronous replication due to user request" (a cancel) or "canceling the wait for
    /// synchronous replication and terminating connection due to administrator command" (a terminate).
    /// The transaction is committed locally but may not be on the standby: it is not acknowledged. The
    /// server sends no distinct SQLSTATE for it, so this matches the English text: run the server with
    /// `lc_messages = 'C'` (docs/postgresql.md).
    public var isSynchronousReplicationCancelled: Bool {
        severity == "WARNING"
            && (message.hasPrefix("canceling wait for synchronous replication")
                || message.hasPrefix("canceling the wait for synchronous replication"))
    }
}
