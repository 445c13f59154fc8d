import Glibc

/// A one-dimensional PostgreSQL array in its text form (`{…}`), so that many values travel as one
/// parameter: `INSERT … SELECT * FROM unnest($1::text[], $2::bigint[], …)` inserts any number of rows
/// with one statement whose text — and so its prepared plan — does not change with the row count.
///
/// Each element is written as `array_in` reads it back exactly:
/// - text always double-quoted, with `"` and `\` escaped by a backslash (so `NULL`, the empty string,
///   braces, commas and spaces inside a value stay text);
/// - bytes as bytea's hex form `\x…`, its backslash escaped (`\\x0a…`);
/// - numbers in decimal (`Double`s as their shortest round-tripping form, `Infinity`, `-Infinity`, `NaN`);
/// - booleans `t` and `f`; NULL unquoted.
///
/// The literal is sent as ``PostgresValue/text(_:)`` and cast in SQL to the array type the column needs
/// (`$1::bigint[]`, a domain column's base type); a NUL in a text element is refused as any text
/// parameter's (`postgres.invalid-parameter`).
public enum PostgresArrayLiteral {
    /// The text form of the array of `elements`, in order.
    public static func encode(_ elements: [PostgresValue]) -> String {
        encode(count: elements.count) { elements[$0] }
    }

    /// The text form of the array of `count` elements, the `index`th being `element(index)` (called
    /// twice per element: to size the literal, then to write it) — for a caller whose values sit in
    /// rows, so that a column's array needs no array of its own.
    ///
    /// Sized first for the worst case (every text byte escaped), then written into that one allocation:
    /// a batch's columns — kilobytes of JSON and JWS text — cost a `memchr` scan and a copy per value,
    /// not an append per byte.
    public static func encode(count: Int, _ element: (Int) -> PostgresValue) -> String {
        var capacity = 2
        for index in 0..<count { capacity += maximumLength(element(index)) + 1 }
        return String(unsafeUninitializedCapacity: capacity) { buffer in
            guard let base = buffer.baseAddress else { return 0 }
            var length = 0
            base[length] = UInt8(ascii: "{")
            length += 1
            for index in 0..<count {
                if index > 0 {
                    base[length] = UInt8(ascii: ",")
                    length += 1
                }
                length += write(element(index), to: base + length)
            }
            base[length] = UInt8(ascii: "}")
            return length + 1
        }
    }

    /// The most bytes ``write(_:to:)`` may write for `element`.
    private static func maximumLength(_ element: PostgresValue) -> Int {
        switch element {
        case .null: 4
        case .text(let text): 2 * text.utf8.count + 2
        case .bytes(let bytes): 2 * bytes.count + 3
        case .int64: 20
        case .bool: 1
        case .double: 32
        }
    }

    /// Writes `element`'s text form at `out`; returns the bytes written.
    private static func write(_ element: PostgresValue, to out: UnsafeMutablePointer<UInt8>) -> Int {
        switch element {
        case .null:
            return copy("NULL", to: out)
        case .text(let text):
            var text = text
            return text.withUTF8 { utf8 in
                out[0] = UInt8(ascii: "\"")
                var length = 1
                guard let base = utf8.baseAddress else {
                    out[length] = UInt8(ascii: "\"")
                    return length + 1
                }
                // Runs between the bytes to escape are copied whole; memchr finds those bytes.
                var run = 0
                var quote = find(UInt8(ascii: "\""), in: base, from: 0, count: utf8.count)
                var backslash = find(UInt8(ascii: "\\"), in: base, from: 0, count: utf8.count)
                while true {
                    let next = min(quote, backslash)
                    (out + length).update(from: base + run, count: next - run)
                    length += next - run
                    guard next < utf8.count else { break }
                    out[length] = UInt8(ascii: "\\")
                    out[length + 1] = base[next]
                    length += 2
                    run = next + 1
                    if next == quote {
                        quote = find(UInt8(ascii: "\""), in: base, from: run, count: utf8.count)
                    } else {
                        backslash = find(UInt8(ascii: "\\"), in: base, from: run, count: utf8.count)
                    }
                }
                out[length] = UInt8(ascii: "\"")
                return length + 1
            }
        case .bytes(let bytes):
            var length = copy(#"\\x"#, to: out)
            for byte in bytes {
                out[length] = hexDigits[Int(byte >> 4)]
                out[length + 1] = hexDigits[Int(byte & 0x0F)]
                length += 2
            }
            return length
        case .int64(let integer):
            return writeDecimal(integer, to: out)
        case .bool(let flag):
            out[0] = flag ? UInt8(ascii: "t") : UInt8(ascii: "f")
            return 1
        case .double(let real):
            if real.isNaN { return copy("NaN", to: out) }
            if real.isInfinite { return copy(real < 0 ? "-Infinity" : "Infinity", to: out) }
            return copy(real.description, to: out)
        }
    }

    /// The index of the first `byte` in `base[start..<count]`, or `count`.
    private static func find(_ byte: UInt8, in base: UnsafePointer<UInt8>, from start: Int, count: Int) -> Int {
        guard start < count, let found = memchr(base + start, Int32(byte), count - start) else { return count }
        return base.distance(to: found.assumingMemoryBound(to: UInt8.self))
    }

    private static let hexDigits: [UInt8] = Array("0123456789abcdef".utf8)

    private static func copy(_ text: String, to out: UnsafeMutablePointer<UInt8>) -> Int {
        var count = 0
        for byte in text.utf8 {
            out[count] = byte
            count += 1
        }
        return count
    }

    /// `value` in decimal, without the String `description` would allocate.
    private static func writeDecimal(_ value: Int64, to out: UnsafeMutablePointer<UInt8>) -> Int {
        var magnitude = value.magnitude
        var digits: (UInt64, UInt64, UInt64) = (0, 0, 0)  // room for 20 digits, written backwards
        return withUnsafeMutableBytes(of: &digits) { scratch in
            var start = scratch.count
            repeat {
                start -= 1
                scratch[start] = UInt8(ascii: "0") + UInt8(magnitude % 10)
                magnitude /= 10
            } while magnitude > 0
            var length = 0
            if value < 0 {
                out[0] = UInt8(ascii: "-")
                length = 1
            }
            for index in start..<scratch.count {
                out[length] = scratch[index]
                length += 1
            }
            return length
        }
    }
}

extension PostgresValue {
    /// `elements` as one array parameter in the text form ``PostgresArrayLiteral`` writes; cast it in
    /// SQL to the element type's array (`$1::text[]`, `$2::bigint[]`, `$3::bytea[]`).
    public static func array(_ elements: [PostgresValue]) -> PostgresValue {
        .text(PostgresArrayLiteral.encode(elements))
    }
}
