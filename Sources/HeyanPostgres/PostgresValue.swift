import CPostgres

/// One statement parameter, as sent with `PQexecParams` / `PQsendQueryParams`.
///
/// Numbers, booleans and bytes go in binary format with their type fixed (`int8`, `float8`, `bool`,
/// `bytea`), so no value is ever spliced into SQL text and a `bytea` needs no escaping. ``text(_:)`` goes in
/// text format with the type left to the server (OID 0, "unknown"), which then reads it as whatever the
/// statement needs (`text`, `integer`, `timestamptz`, `jsonb`, …); cast in SQL (`$1::uuid`) where the
/// context does not say.
public enum PostgresValue: Sendable, Hashable {
    /// SQL NULL.
    case null
    /// Text, typed by the server from the statement. Must not contain NUL (PostgreSQL text cannot).
    case text(String)
    /// `bytea`, sent as raw bytes.
    case bytes([UInt8])
    /// `int8` (bigint). PostgreSQL converts it to `integer` or `smallint` on assignment.
    case int64(Int64)
    /// `bool`.
    case bool(Bool)
    /// `float8` (double precision).
    case double(Double)

    /// An `Int` as `int8`.
    public static func int(_ value: Int) -> PostgresValue { .int64(Int64(value)) }

    /// `nil` as NULL, anything else as ``text(_:)``.
    public static func text(_ value: String?) -> PostgresValue { value.map { .text($0) } ?? .null }
}

extension PostgresValue: CustomStringConvertible {
    public var description: String {
        switch self {
        case .null: "NULL"
        case .text(let value): "'\(value)'"
        case .bytes(let value): "bytea(\(value.count) bytes)"
        case .int64(let value): String(value)
        case .bool(let value): value ? "true" : "false"
        case .double(let value): String(value)
        }
    }
}

/// Type OIDs from `pg_type` that heyan sends or decodes (stable across PostgreSQL versions).
enum PostgresType {
    static let bool: Oid = 16
    static let bytea: Oid = 17
    static let char: Oid = 18
    static let name: Oid = 19
    static let int8: Oid = 20
    static let int2: Oid = 21
    static let int4: Oid = 23
    static let text: Oid = 25
    static let oid: Oid = 26
    static let json: Oid = 114
    static let float4: Oid = 700
    static let float8: Oid = 701
    static let unknown: Oid = 705
    static let bpchar: Oid = 1042
    static let varchar: Oid = 1043
    static let void: Oid = 2278
    static let jsonb: Oid = 3802
}

/// Whether a value travels as text or in PostgreSQL's binary format (libpq's 0 and 1).
public enum PostgresFormat: Int32, Sendable {
    case text = 0
    case binary = 1
}

/// Parameters laid out the way `PQexecParams` wants them: four parallel C arrays over one buffer.
final class EncodedParameters {
    private let storage: UnsafeMutableRawBufferPointer
    let types: [Oid]
    private let offsets: [Int?]
    private let lengths: [Int32]
    private let formats: [Int32]

    var count: Int32 { Int32(types.count) }

    /// Encodes `values`; throws `postgres.invalid-parameter` for text containing NUL.
    init(_ values: [PostgresValue], sql: String) throws(PostgresError) {
        var types: [Oid] = []
        var offsets: [Int?] = []
        var lengths: [Int32] = []
        var formats: [Int32] = []
        var bytes: [UInt8] = []
        types.reserveCapacity(values.count)
        for (index, value) in values.enumerated() {
            let (type, format, encoded) = try EncodedParameters.encode(value, position: index + 1, sql: sql)
            types.append(type)
            formats.append(format.rawValue)
            if let encoded {
                offsets.append(bytes.count)
                lengths.append(Int32(encoded.count))
                bytes += encoded
                if format == .text { bytes.append(0) }  // libpq reads text parameters up to a NUL
            } else {
                offsets.append(nil)
                lengths.append(0)
            }
        }
        storage = UnsafeMutableRawBufferPointer.allocate(byteCount: max(bytes.count, 1), alignment: 1)
        storage.copyBytes(from: bytes)
        self.types = types
        self.offsets = offsets
        self.lengths = lengths
        self.formats = formats
    }

    deinit { storage.deallocate() }

    /// Calls `body` with the arrays `PQexecParams` takes: types, values, lengths, formats.
    func withArrays<T>(
        _ body: (
            UnsafePointer<Oid>?, UnsafePointer<UnsafePointer<CChar>?>?, UnsafePointer<Int32>?, UnsafePointer<Int32>?
        ) throws -> T
    ) rethrows -> T {
        let base = storage.baseAddress!.assumingMemoryBound(to: CChar.self)
        let pointers: [UnsafePointer<CChar>?] = offsets.map { offset in offset.map { UnsafePointer(base + $0) } }
        return try types.withUnsafeBufferPointer { types in
            try pointers.withUnsafeBufferPointer { values in
                try lengths.withUnsafeBufferPointer { lengths in
                    try formats.withUnsafeBufferPointer { formats in
                        try body(types.baseAddress, values.baseAddress, lengths.baseAddress, formats.baseAddress)
                    }
                }
            }
        }
    }

    private static func encode(
        _ value: PostgresValue, position: Int, sql: String
    ) throws(PostgresError) -> (Oid, PostgresFormat, [UInt8]?) {
        switch value {
        case .null:
            return (0, .text, nil)
        case .text(let text):
            let utf8 = Array(text.utf8)
            if utf8.contains(0) {
                throw PostgresError(
                    code: "postgres.invalid-parameter",
                    message: "parameter $\(position) contains a NUL character, which PostgreSQL text cannot hold",
                    sql: sql)
            }
            return (0, .text, utf8)
        case .bytes(let bytes):
            return (PostgresType.bytea, .binary, bytes)
        case .int64(let integer):
            return (PostgresType.int8, .binary, bigEndianBytes(UInt64(bitPattern: integer)))
        case .bool(let flag):
            return (PostgresType.bool, .binary, [flag ? 1 : 0])
        case .double(let real):
            return (PostgresType.float8, .binary, bigEndianBytes(real.bitPattern))
        }
    }

    private static func bigEndianBytes(_ value: UInt64) -> [UInt8] {
        (0..<8).map { UInt8(truncatingIfNeeded: value >> (56 - 8 * UInt64($0))) }
    }
}
