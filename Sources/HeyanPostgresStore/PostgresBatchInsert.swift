import HeyanPostgres

/// A table's insertable columns, each with the SQL type its values are read as: the one-row INSERT
/// the careful way runs, and the one INSERT a batch's single round trip runs for all of its rows
/// (``PGBatchInsert``).
struct PGInsertColumns: Sendable {
    let table: String
    /// The column names, in the order of a row's values.
    let names: [String]
    /// `names` joined for SQL (`id, certificate_type, …`).
    let list: String
    /// `INSERT INTO table (columns) VALUES ($1, …, $n)`.
    let valuesSQL: String
    /// `INSERT INTO table (columns) SELECT * FROM unnest($1::type[], …, $n::type[])`: one array per
    /// column, so its text — and the plan prepared for it once per connection — is the same whatever
    /// the number of rows (a multi-row `VALUES` would be a new statement for every row count).
    let unnestSQL: String

    /// `columns`: each column's name and type. A domain column (migration 7) is given its base type:
    /// assignment to the column applies the domain's check, row by row, with the same SQLSTATE.
    init(table: String, _ columns: KeyValuePairs<String, String>) {
        self.table = table
        names = columns.map(\.key)
        list = names.joined(separator: ", ")
        let placeholders = columns.indices.map { "$\($0 + 1)" }.joined(separator: ", ")
        valuesSQL = "INSERT INTO \(table) (\(list)) VALUES (\(placeholders))"
        let arrays = columns.enumerated().map { "$\($0.offset + 1)::\($0.element.value)[]" }.joined(separator: ", ")
        unnestSQL = "INSERT INTO \(table) (\(list)) SELECT * FROM unnest(\(arrays))"
    }

    /// The one-row INSERT of `values` (one per column, in order).
    func insert(_ values: [PostgresValue]) -> PostgresStatement {
        precondition(values.count == names.count, "\(table): \(values.count) values for \(names.count) columns")
        return PostgresStatement(valuesSQL, values)
    }

    /// The one INSERT of every row of `rows` (each one value per column), in order: one text-form array
    /// per column (``PostgresArrayLiteral``). `unnest` over several arrays yields their elements
    /// side by side in array order, so rows are inserted — and serial defaults drawn — in `rows`' order.
    func insert(rows: [[PostgresValue]]) -> PostgresStatement {
        for row in rows {
            precondition(row.count == names.count, "\(table): \(row.count) values for \(names.count) columns")
        }
        return PostgresStatement(
            unnestSQL,
            names.indices.map { column in .text(PostgresArrayLiteral.encode(count: rows.count) { rows[$0][column] }) })
    }
}

/// The tables a plain write (``PlainWrite``) adds rows to, in the order a batch inserts them: an
/// idempotency key before anything of its request (a key taken fails the round trip first), a
/// verification before its attestation and queue item (their foreign keys), audit entries last. The
/// JWS headers a batch registers go after the keys, before the verifications (``PGBatchInsert``).
enum PGBatchTable: Int, CaseIterable, Sendable {
    case idempotencyKeys, verifications, attestations, queueItems, auditQueue

    var columns: PGInsertColumns {
        switch self {
        case .idempotencyKeys: PGIdempotencyRow.insertColumns
        case .verifications: PGVerificationRow.insertColumns
        case .attestations: PGAttestationRow.insertColumns
        case .queueItems: PGQueueItemRow.insertColumns
        case .auditQueue: AuditQueue.insertColumns
        }
    }
}

/// One row a plain write inserts: its table and one value per column of ``PGBatchTable/columns``.
struct PGRow: Sendable {
    let table: PGBatchTable
    let values: [PostgresValue]

    /// This row alone, as the careful way inserts it.
    var insertStatement: PostgresStatement { table.columns.insert(values) }
}

/// The rows of a batch's plain jobs gathered by table, so the batch's single round trip inserts each
/// table's rows with one statement — one Bind/Execute, one executor start and end, one check of the
/// table's constraints set up — instead of one per row (docs/postgresql.md, "Writes, durability,
/// wake-ups"). Rows keep the order they were added in: `audit_queue` ids follow the batch's job order.
struct PGBatchInsert {
    private var rows: [[[PostgresValue]]] = Array(repeating: [], count: PGBatchTable.allCases.count)
    private var headers: [String] = []

    mutating func append(_ row: PGRow) { rows[row.table.rawValue].append(row.values) }

    mutating func append(_ rows: [PGRow]) { for row in rows { append(row) } }

    /// Registers `header` in `jws_headers` (once, however often it is added) before the attestations.
    mutating func register(header: String) {
        if !headers.contains(header) { headers.append(header) }
    }

    /// The headers registered, in order.
    var registeredHeaders: [String] { headers }

    /// The statements inserting everything gathered: per table with rows, one INSERT of all of them,
    /// tables in ``PGBatchTable`` order, the headers after the idempotency keys.
    ///
    /// A table with one row gets the one-row `INSERT … VALUES`, the careful way's statement (prepared
    /// on the connection too): for one row the arrays would only add their encoding on both sides.
    var statements: [PostgresStatement] {
        var statements: [PostgresStatement] = []
        for table in PGBatchTable.allCases {
            if table == .verifications { statements += headers.map(PGAttestationRow.registerHeader) }
            let tableRows = rows[table.rawValue]
            switch tableRows.count {
            case 0: continue
            case 1: statements.append(table.columns.insert(tableRows[0]))
            default: statements.append(table.columns.insert(rows: tableRows))
            }
        }
        return statements
    }
}
