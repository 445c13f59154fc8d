import CSQLite

// Binding helpers for the store's hot paths: optional values bind SQL NULL, without building an
// array of `SQLiteValue`s per statement.
extension SQLiteStatement {
    /// Binds `value`, or NULL when it is `nil`.
    func bindText(_ value: String?, at index: Int) throws {
        if let value { try bind(.text(value), at: index) } else { try bind(.null, at: index) }
    }

    /// Binds `value`, or NULL when it is `nil`.
    func bindInteger(_ value: Int64?, at index: Int) throws {
        if let value { try bind(.integer(value), at: index) } else { try bind(.null, at: index) }
    }

    /// The 0-based column `index` as an integer, or `nil` when it is NULL.
    func optionalInt64(at index: Int) -> Int64? {
        isNull(at: index) ? nil : int64(at: index)
    }
}

/// A stored row heyan cannot read back: a value outside its column's vocabulary, claims that are
/// not canonical JSON, or NULL where the schema or the domain forbids it (a leased item without
/// its token). Only a damaged or hand-edited database has one.
enum StoredRowError {
    static func invalid(table: String, key: String, column: String) -> SQLiteError {
        SQLiteError(
            code: "sqlite.invalid-row", resultCode: SQLITE_CORRUPT,
            message: "\(table) row \(key) has an invalid \(column)")
    }

    static func null(table: String, key: String, column: String) -> SQLiteError {
        SQLiteError(
            code: "sqlite.invalid-row", resultCode: SQLITE_CORRUPT,
            message: "\(table) row \(key) has no \(column) (NULL)")
    }
}
