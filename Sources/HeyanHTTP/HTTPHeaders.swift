/// The HTTP versions heyan speaks. Anything else is refused by ``HTTPRequestParser`` (505 or 400).
public enum HTTPVersion: Sendable, Equatable {
    case http1_0
    case http1_1
}

/// Ordered header fields, as received or as to be sent.
///
/// Order and duplicates are kept (a field may legitimately repeat); lookup by name is ASCII
/// case-insensitive as RFC 9110 §5.1 requires. Values are stored as decoded UTF-8 (bytes that are
/// not valid UTF-8 become U+FFFD).
public struct HTTPHeaders: Sendable, Sequence, Equatable, ExpressibleByDictionaryLiteral {
    public typealias Element = (name: String, value: String)

    private var fields: [Element]

    public init() {
        fields = []
    }

    public init(_ fields: [(String, String)]) {
        self.fields = fields.map { (name: $0.0, value: $0.1) }
    }

    public init(dictionaryLiteral elements: (String, String)...) {
        self.init(elements)
    }

    /// The first value of the field `name`, or nil when absent.
    public subscript(name: String) -> String? {
        for field in fields where Self.namesEqual(field.name, name) {
            return field.value
        }
        return nil
    }

    /// Every value of the field `name`, in the order received (field lines are not split on commas).
    public func values(_ name: String) -> [String] {
        fields.filter { Self.namesEqual($0.name, name) }.map(\.value)
    }

    public func contains(_ name: String) -> Bool {
        fields.contains { Self.namesEqual($0.name, name) }
    }

    /// Appends a field line, keeping any existing fields of that name.
    public mutating func add(_ name: String, _ value: String) {
        fields.append((name: name, value: value))
    }

    /// Sets the field `name` to a single value: the first occurrence is replaced in place, the others removed;
    /// appended when absent.
    public mutating func replace(_ name: String, _ value: String) {
        guard let first = fields.firstIndex(where: { Self.namesEqual($0.name, name) }) else {
            fields.append((name: name, value: value))
            return
        }
        fields[first] = (name: name, value: value)
        var index = fields.index(after: first)
        while index < fields.endIndex {
            if Self.namesEqual(fields[index].name, name) {
                fields.remove(at: index)
            } else {
                index += 1
            }
        }
    }

    /// Removes every field named `name`.
    public mutating func remove(_ name: String) {
        fields.removeAll { Self.namesEqual($0.name, name) }
    }

    /// Number of field lines (not distinct names).
    public var count: Int { fields.count }

    public func makeIterator() -> IndexingIterator<[Element]> {
        fields.makeIterator()
    }

    /// Exact, order-sensitive equality (names compared as written).
    public static func == (lhs: HTTPHeaders, rhs: HTTPHeaders) -> Bool {
        lhs.fields.elementsEqual(rhs.fields) { $0.name == $1.name && $0.value == $1.value }
    }

    /// ASCII case-insensitive comparison, as field names are tokens (RFC 9110 §5.1).
    static func namesEqual(_ a: String, _ b: String) -> Bool {
        let a = a.utf8
        let b = b.utf8
        guard a.count == b.count else { return false }
        return a.elementsEqual(b) { ASCII.lowercased($0) == ASCII.lowercased($1) }
    }
}

/// Byte classes from RFC 9110 §5.6.2 and RFC 9112, shared by the parser and the serializer.
enum ASCII {
    static let cr: UInt8 = 0x0D
    static let lf: UInt8 = 0x0A
    static let sp: UInt8 = 0x20
    static let htab: UInt8 = 0x09
    static let colon: UInt8 = 0x3A

    @inline(__always)
    static func lowercased(_ byte: UInt8) -> UInt8 {
        byte >= 0x41 && byte <= 0x5A ? byte | 0x20 : byte
    }

    /// tchar = "!" / "#" / "$" / "%" / "&" / "'" / "*" / "+" / "-" / "." / "^" / "_" / "`" / "|" / "~" / DIGIT / ALPHA
    @inline(__always)
    static func isTokenChar(_ byte: UInt8) -> Bool {
        tokenTable[Int(byte)]
    }

    private static let tokenTable: [Bool] = (0..<256).map { (value: Int) -> Bool in
        switch UInt8(value) {
        case UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "a")...UInt8(ascii: "z"),
            UInt8(ascii: "A")...UInt8(ascii: "Z"):
            return true
        case UInt8(ascii: "!"), UInt8(ascii: "#"), UInt8(ascii: "$"), UInt8(ascii: "%"), UInt8(ascii: "&"),
            UInt8(ascii: "'"), UInt8(ascii: "*"), UInt8(ascii: "+"), UInt8(ascii: "-"), UInt8(ascii: "."),
            UInt8(ascii: "^"), UInt8(ascii: "_"), UInt8(ascii: "`"), UInt8(ascii: "|"), UInt8(ascii: "~"):
            return true
        default:
            return false
        }
    }

    /// A field-value byte after OWS trimming: HTAB, visible ASCII, SP or obs-text;
    /// never NUL, CR, LF, DEL or another CTL.
    @inline(__always)
    static func isFieldValueByte(_ byte: UInt8) -> Bool {
        (byte >= 0x20 && byte != 0x7F) || byte == htab
    }

    static func isToken<S: Sequence<UInt8>>(_ bytes: S) -> Bool {
        var empty = true
        for byte in bytes {
            guard isTokenChar(byte) else { return false }
            empty = false
        }
        return !empty
    }

    /// Case-insensitive equality of an ASCII string with a lowercase ASCII literal.
    static func equalsLowercase(_ string: Substring, _ lowercase: String) -> Bool {
        string.utf8.count == lowercase.utf8.count
            && string.utf8.elementsEqual(lowercase.utf8) { lowercased($0) == $1 }
    }

    /// Splits a list-valued field (RFC 9110 §5.6.1) on commas and trims OWS around each element.
    static func listElements(_ value: String) -> [Substring] {
        value.split(separator: ",", omittingEmptySubsequences: false).map { element in
            var element = element[...]
            while let first = element.first, first == " " || first == "\t" { element = element.dropFirst() }
            while let last = element.last, last == " " || last == "\t" { element = element.dropLast() }
            return element
        }
    }
}
