/// Standard Base64 (RFC 4648 §4), with padding: the encoding of `x5c` certificates.
///
/// ``decode(_:)`` is strict: it refuses missing or extra padding, characters outside the
/// alphabet (including whitespace and the URL-safe `-` and `_`), and non-zero unused bits, so one
/// byte string has exactly one accepted text.
public enum Base64 {
    public static func encode(_ bytes: [UInt8]) -> String {
        Base64Alphabet.standard.encode(bytes, padded: true)
    }

    /// The decoded bytes, or nil when `text` is not canonical padded Base64.
    public static func decode(_ text: String) -> [UInt8]? {
        Base64Alphabet.standard.decode(Array(text.utf8), padded: true)
    }
}

/// Base64url without padding (RFC 4648 §5, as JWS uses it, RFC 7515 §2).
///
/// ``decode(_:)`` refuses `=` padding, characters outside the URL-safe alphabet and non-zero
/// unused bits.
public enum Base64URL {
    public static func encode(_ bytes: [UInt8]) -> String {
        Base64Alphabet.url.encode(bytes, padded: false)
    }

    public static func encode(_ text: String) -> String { encode(Array(text.utf8)) }

    /// The decoded bytes, or nil when `text` is not canonical unpadded base64url.
    public static func decode(_ text: String) -> [UInt8]? {
        Base64Alphabet.url.decode(Array(text.utf8), padded: false)
    }

    public static func decode<Bytes: Collection<UInt8>>(_ text: Bytes) -> [UInt8]? {
        Base64Alphabet.url.decode(Array(text), padded: false)
    }
}

struct Base64Alphabet: Sendable {
    static let standard = Base64Alphabet(Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/".utf8))
    static let url = Base64Alphabet(Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_".utf8))

    private let symbols: [UInt8]
    /// Symbol value by byte, 0xFF for bytes outside the alphabet.
    private let values: [UInt8]

    private init(_ symbols: [UInt8]) {
        self.symbols = symbols
        var values = [UInt8](repeating: 0xFF, count: 256)
        for (value, symbol) in symbols.enumerated() { values[Int(symbol)] = UInt8(value) }
        self.values = values
    }

    func encode(_ bytes: [UInt8], padded: Bool) -> String {
        let length = Self.encodedLength(bytes.count, padded: padded)
        return bytes.withUnsafeBytes { input in
            String(unsafeUninitializedCapacity: length) { output in
                write(input, padded: padded, to: output.baseAddress!)
            }
        }
    }

    /// Appends the encoding of `bytes` to `output` (no intermediate `String`).
    func append(_ bytes: UnsafeRawBufferPointer, padded: Bool, to output: inout [UInt8]) {
        let length = Self.encodedLength(bytes.count, padded: padded)
        guard length > 0 else { return }
        withUnsafeTemporaryAllocation(of: UInt8.self, capacity: length) { buffer in
            let written = write(bytes, padded: padded, to: buffer.baseAddress!)
            output.append(contentsOf: UnsafeBufferPointer(start: buffer.baseAddress, count: written))
        }
    }

    static func encodedLength(_ count: Int, padded: Bool) -> Int {
        padded ? (count + 2) / 3 * 4 : (count * 4 + 2) / 3
    }

    /// Writes the encoding of `bytes` at `output` (``encodedLength(_:padded:)`` bytes); returns the count.
    private func write(_ bytes: UnsafeRawBufferPointer, padded: Bool, to output: UnsafeMutablePointer<UInt8>) -> Int {
        symbols.withUnsafeBufferPointer { symbols in
            let count = bytes.count
            var index = 0
            var out = 0
            while index + 3 <= count {
                let group = UInt32(bytes[index]) << 16 | UInt32(bytes[index + 1]) << 8 | UInt32(bytes[index + 2])
                output[out] = symbols[Int(group >> 18 & 63)]
                output[out + 1] = symbols[Int(group >> 12 & 63)]
                output[out + 2] = symbols[Int(group >> 6 & 63)]
                output[out + 3] = symbols[Int(group & 63)]
                index += 3
                out += 4
            }
            let remaining = count - index
            if remaining > 0 {
                let group = UInt32(bytes[index]) << 16 | (remaining == 2 ? UInt32(bytes[index + 1]) << 8 : 0)
                output[out] = symbols[Int(group >> 18 & 63)]
                output[out + 1] = symbols[Int(group >> 12 & 63)]
                out += 2
                if remaining == 2 {
                    output[out] = symbols[Int(group >> 6 & 63)]
                    out += 1
                }
                if padded {
                    for _ in 0 ..< 3 - remaining {
                        output[out] = UInt8(ascii: "=")
                        out += 1
                    }
                }
            }
            return out
        }
    }

    func decode(_ text: [UInt8], padded: Bool) -> [UInt8]? {
        var symbolsCount = text.count
        if padded {
            guard text.count % 4 == 0 else { return nil }
            while symbolsCount > 0, text.count - symbolsCount < 2, text[symbolsCount - 1] == UInt8(ascii: "=") {
                symbolsCount -= 1
            }
        }
        // A lone symbol in the last group carries only 6 bits: never a valid encoding.
        guard symbolsCount % 4 != 1 else { return nil }
        var output: [UInt8] = []
        output.reserveCapacity(symbolsCount * 3 / 4)
        var accumulator: UInt32 = 0
        var bits = 0
        for index in 0 ..< symbolsCount {
            let value = values[Int(text[index])]
            guard value != 0xFF else { return nil }
            accumulator = accumulator << 6 | UInt32(value)
            bits += 6
            if bits >= 8 {
                bits -= 8
                output.append(UInt8(truncatingIfNeeded: accumulator >> UInt32(bits)))
                accumulator &= (1 << UInt32(bits)) - 1
            }
        }
        // Unused low bits of the last symbol must be zero (canonical encoding).
        guard accumulator == 0 else { return nil }
        return output
    }
}
