import HeyanDomain

/// The columns a row type reads from its table, in the order its SELECT lists them: the case's raw
/// value is the SQL column name, its position the result column. The SELECT list is made from the
/// cases (``selectList``), so the list and the decoder cannot disagree.
protocol TableColumns: CaseIterable, Equatable, RawRepresentable where RawValue == String, AllCases == [Self] {
    /// The table, for error messages.
    static var table: String { get }
}

extension TableColumns {
    /// `a, b, c`: every column in order, each prefixed with `qualifier.` when one is given.
    static func selectList(qualifier: String? = nil) -> String {
        allCases.map { column in qualifier.map { "\($0).\(column.rawValue)" } ?? column.rawValue }
            .joined(separator: ", ")
    }

    /// `?1, ?2, …`: one parameter per column, for an INSERT of every column (``parameter``).
    static var parameterList: String {
        (1...allCases.count).map { "?\($0)" }.joined(separator: ", ")
    }

    /// The 0-based result column of this column in a row of ``selectList(qualifier:)``.
    ///
    /// A case-only enum of 2 to 256 cases is one byte holding the case's index in declaration order,
    /// which is also the order of the synthesized `allCases`; that byte is read instead of building
    /// `allCases` and searching it at every bind and read (1.5 % of the writer thread's samples in a
    /// data-sharing run, docs/performance.md, "Issue 16, ninth session").
    /// `TableColumnsTests` checks it against `allCases` for every column type.
    var position: Int {
        if MemoryLayout<Self>.size == 1 { return Int(unsafeBitCast(self, to: UInt8.self)) }
        return Self.allCases.firstIndex(of: self)!
    }

    /// The 1-based parameter of this column in an INSERT over ``parameterList``, or in an UPDATE
    /// that numbers its parameters the same way.
    var parameter: Int { position + 1 }
}

/// The current row of a statement selecting `Column`'s ``TableColumns/selectList(qualifier:)``
/// (from result column `offset` on), read by column. A NULL where the schema or the domain
/// forbids one, or a value outside its column's vocabulary, throws a ``StoredRowError`` naming
/// the table, the row and the column, rather than turning into `""` or `0`.
struct StoredRow<Column: TableColumns> {
    let statement: SQLiteStatement
    let offset: Int
    /// The row's key, for error messages.
    let key: String

    /// Reads the row's key from `keyColumn` (a NULL key throws).
    init(_ statement: SQLiteStatement, offset: Int = 0, key keyColumn: Column) throws {
        self.statement = statement
        self.offset = offset
        let index = offset + keyColumn.position
        guard let key = statement.text(at: index) else {
            throw StoredRowError.null(table: Column.table, key: "?", column: keyColumn.rawValue)
        }
        self.key = key
    }

    /// A row whose key is not one text column (an integer sequence, a composite key).
    init(_ statement: SQLiteStatement, offset: Int = 0, key: String) {
        self.statement = statement
        self.offset = offset
        self.key = key
    }

    private func index(_ column: Column) -> Int { offset + column.position }

    func invalid(_ column: Column) -> SQLiteError {
        StoredRowError.invalid(table: Column.table, key: key, column: column.rawValue)
    }

    private func null(_ column: Column) -> SQLiteError {
        StoredRowError.null(table: Column.table, key: key, column: column.rawValue)
    }

    func isNull(_ column: Column) -> Bool { statement.isNull(at: index(column)) }

    func text(_ column: Column) throws -> String {
        guard let text = statement.text(at: index(column)) else { throw null(column) }
        return text
    }

    func optionalText(_ column: Column) -> String? { statement.text(at: index(column)) }

    func integer(_ column: Column) throws -> Int64 {
        guard !isNull(column) else { throw null(column) }
        return statement.int64(at: index(column))
    }

    func optionalInteger(_ column: Column) -> Int64? { statement.optionalInt64(at: index(column)) }

    func int(_ column: Column) throws -> Int { Int(try integer(column)) }

    /// A `0`/`1` column.
    func bool(_ column: Column) throws -> Bool { try integer(column) != 0 }

    func real(_ column: Column) throws -> Double {
        guard !isNull(column) else { throw null(column) }
        return statement.double(at: index(column))
    }

    func blob(_ column: Column) throws -> [UInt8] {
        guard let bytes = statement.blob(at: index(column)) else { throw null(column) }
        return bytes
    }

    /// An enumeration stored as its raw value.
    func value<Value: RawRepresentable>(_ column: Column, as type: Value.Type = Value.self) throws -> Value
    where Value.RawValue == String {
        guard let value = Value(rawValue: try text(column)) else { throw invalid(column) }
        return value
    }

    /// An enumeration stored as its raw value, or NULL.
    func optionalValue<Value: RawRepresentable>(_ column: Column, as type: Value.Type = Value.self) throws -> Value?
    where Value.RawValue == String {
        guard let text = optionalText(column) else { return nil }
        guard let value = Value(rawValue: text) else { throw invalid(column) }
        return value
    }

    /// Claims stored as canonical JSON text.
    func claims(_ column: Column) throws -> ClaimSet {
        guard let claims = ClaimSet.decode(canonicalText: try text(column)) else { throw invalid(column) }
        return claims
    }
}

extension SQLiteStatement {
    /// Text column `index` of an aggregate row: a GROUP BY key over a NOT NULL column of `table`,
    /// so NULL means a damaged row and throws.
    func groupKey(at index: Int, table: String, column: String) throws -> String {
        guard let text = text(at: index) else { throw StoredRowError.null(table: table, key: "(group)", column: column) }
        return text
    }

    /// ``groupKey(at:table:column:)`` as an enumeration stored as its raw value.
    func groupKey<Value: RawRepresentable>(at index: Int, table: String, column: String, as type: Value.Type) throws
        -> Value where Value.RawValue == String
    {
        guard let value = Value(rawValue: try groupKey(at: index, table: table, column: column)) else {
            throw StoredRowError.invalid(table: table, key: "(group)", column: column)
        }
        return value
    }
}

extension SQLiteConnection {
    /// The first row of the cached statement `sql` with `key` bound to `?1`, decoded; `nil` when
    /// there is none. The statement is reset afterwards, so no read snapshot stays open.
    func fetchOne<Value>(_ sql: String, key: String, decode: (SQLiteStatement) throws -> Value) throws -> Value? {
        let statement = try cachedStatement(sql)
        try statement.bind(key, at: 1)
        defer { try? statement.reset() }
        guard try statement.step() else { return nil }
        return try decode(statement)
    }
}
