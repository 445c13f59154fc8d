/// One SQLite value, as bound to a parameter or read from a column.
///
/// The cases are SQLite's five storage classes. heyan's tables are `STRICT`, so a column holds
/// the class it declares (or NULL).
public enum SQLiteValue: Sendable, Hashable {
    case null
    case integer(Int64)
    case real(Double)
    case text(String)
    case blob([UInt8])

    /// The integer, or `nil` for any other storage class.
    public var integerValue: Int64? {
        if case .integer(let value) = self { return value }
        return nil
    }

    /// The text, or `nil` for any other storage class.
    public var textValue: String? {
        if case .text(let value) = self { return value }
        return nil
    }

    /// `true` for ``null``.
    public var isNull: Bool { self == .null }
}

extension SQLiteValue: CustomStringConvertible {
    public var description: String {
        switch self {
        case .null: "NULL"
        case .integer(let value): String(value)
        case .real(let value): String(value)
        case .text(let value): "'\(value)'"
        case .blob(let value): "blob(\(value.count) bytes)"
        }
    }
}
