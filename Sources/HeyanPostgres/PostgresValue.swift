import CPostgres
import Glibc

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

/// Parameters laid out the way `PQexecParams` wants them: four parallel C arrays over the values' bytes.
///
/// Every statement a request runs encodes its parameters here, so the layout costs two allocations
/// whatever the number of values (the types, kept for the prepared-statement key, and one block for the
/// pointers, lengths, formats and bytes), and text is copied once and checked for NUL with `memchr`.
final class EncodedParameters {
    let types: [Oid]
    /// One block: `count` value pointers, then `count` lengths, `count` formats and the values' bytes.
    private let block: UnsafeMutableRawPointer
    private let values: UnsafeMutablePointer<UnsafePointer<CChar>?>
    private let lengths: UnsafeMutablePointer<Int32>
    private let formats: UnsafeMutablePointer<Int32>

    var count: Int32 { Int32(types.count) }

    /// Encodes `parameters`; throws `postgres.invalid-parameter` for text containing NUL.
    init(_ parameters: [PostgresValue], sql: String) throws(PostgresError) {
        // First the types and the bytes needed, refusing a NUL before anything is allocated.
        var types: [Oid] = []
        types.reserveCapacity(parameters.count)
        var byteCount = 0
        for (index, value) in parameters.enumerated() {
            switch value {
            case .null:
                types.append(0)
            case .text(let text):
                if Self.containsNUL(text) {
                    throw PostgresError(
                        code: "postgres.invalid-parameter",
                        message: "parameter $\(index + 1) contains a NUL character, which PostgreSQL text cannot hold",
                        sql: sql)
                }
                types.append(0)
                byteCount += text.utf8.count + 1  // libpq reads text parameters up to a NUL
            case .bytes(let bytes):
                types.append(PostgresType.bytea)
                byteCount += bytes.count
            case .int64:
                types.append(PostgresType.int8)
                byteCount += 8
            case .bool:
                types.append(PostgresType.bool)
                byteCount += 1
            case .double:
                types.append(PostgresType.float8)
                byteCount += 8
            }
        }
        let count = parameters.count
        let pointerBytes = count * MemoryLayout<UnsafePointer<CChar>?>.stride
        let integerBytes = count * MemoryLayout<Int32>.stride
        block = UnsafeMutableRawPointer.allocate(
            byteCount: max(pointerBytes + 2 * integerBytes + byteCount, 1),
            alignment: MemoryLayout<UnsafeRawPointer>.alignment)
        values = block.bindMemory(to: UnsafePointer<CChar>?.self, capacity: count)
        lengths = (block + pointerBytes).bindMemory(to: Int32.self, capacity: count)
        formats = (block + pointerBytes + integerBytes).bindMemory(to: Int32.self, capacity: count)
        let bytes = block + pointerBytes + 2 * integerBytes
        var offset = 0
        for (index, value) in parameters.enumerated() {
            let start = bytes + offset
            var length = 0
            var format = PostgresFormat.binary
            values[index] = UnsafePointer(start.assumingMemoryBound(to: CChar.self))
            switch value {
            case .null:
                format = .text
                values[index] = nil
            case .text(let text):
                format = .text
                length = text.utf8.count
                let copied: Void? = text.utf8.withContiguousStorageIfAvailable { utf8 in
                    if let base = utf8.baseAddress { start.copyMemory(from: base, byteCount: utf8.count) }
                }
                if copied == nil {
                    UnsafeMutableRawBufferPointer(start: start, count: length).copyBytes(from: text.utf8)
                }
                start.storeBytes(of: 0, toByteOffset: length, as: UInt8.self)
                offset += 1  // the NUL after it
            case .bytes(let data):
                length = data.count
                data.withUnsafeBytes { data in
                    if let base = data.baseAddress { start.copyMemory(from: base, byteCount: data.count) }
                }
            case .int64(let integer):
                length = 8
                start.storeBytes(of: UInt64(bitPattern: integer).bigEndian, as: UInt64.self)
            case .bool(let flag):
                length = 1
                start.storeBytes(of: flag ? 1 : 0, as: UInt8.self)
            case .double(let real):
                length = 8
                start.storeBytes(of: real.bitPattern.bigEndian, as: UInt64.self)
            }
            offset += length
            lengths[index] = Int32(length)
            formats[index] = format.rawValue
        }
        self.types = types
    }

    deinit { block.deallocate() }

    /// Calls `body` with the arrays `PQexecParams` takes: types, values, lengths, formats.
    func withArrays<T>(
        _ body: (
            UnsafePointer<Oid>?, UnsafePointer<UnsafePointer<CChar>?>?, UnsafePointer<Int32>?, UnsafePointer<Int32>?
        ) throws -> T
    ) rethrows -> T {
        try types.withUnsafeBufferPointer { types in
            try body(types.baseAddress, UnsafePointer(values), UnsafePointer(lengths), UnsafePointer(formats))
        }
    }

    private static func containsNUL(_ text: String) -> Bool {
        let found = text.utf8.withContiguousStorageIfAvailable { utf8 in
            guard let base = utf8.baseAddress else { return false }
            return memchr(base, 0, utf8.count) != nil
        }
        return found ?? text.utf8.contains(0)
    }
}
