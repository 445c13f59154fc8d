/// The bytes of one HTTP request, in memory that stays put while a (possibly partial) TLS write
/// is in progress. Built once per scenario or virtual user and then patched in place (a subject
/// ID) or rebuilt into the same storage (a queue answer), so sending a request allocates nothing.
///
/// Owned by one worker thread.
final class RequestBuffer {
    private(set) var pointer: UnsafeMutableRawPointer
    private(set) var capacity: Int
    private(set) var count = 0

    init(capacity: Int = 1024) {
        self.capacity = max(64, capacity)
        pointer = .allocate(byteCount: self.capacity, alignment: 16)
    }

    convenience init(_ bytes: [UInt8]) {
        self.init(capacity: bytes.count)
        append(bytes)
    }

    deinit { pointer.deallocate() }

    var bytes: UnsafeRawBufferPointer { UnsafeRawBufferPointer(start: pointer, count: count) }

    func removeAll() { count = 0 }

    private func reserve(_ extra: Int) {
        guard count + extra > capacity else { return }
        var newCapacity = capacity * 2
        while newCapacity < count + extra { newCapacity *= 2 }
        let grown = UnsafeMutableRawPointer.allocate(byteCount: newCapacity, alignment: 16)
        grown.copyMemory(from: pointer, byteCount: count)
        pointer.deallocate()
        pointer = grown
        capacity = newCapacity
    }

    func append(_ bytes: UnsafeRawBufferPointer) {
        reserve(bytes.count)
        if let base = bytes.baseAddress { (pointer + count).copyMemory(from: base, byteCount: bytes.count) }
        count += bytes.count
    }

    func append(_ bytes: [UInt8]) { bytes.withUnsafeBytes { append($0) } }

    func append(_ text: StaticString) {
        append(UnsafeRawBufferPointer(start: text.utf8Start, count: text.utf8CodeUnitCount))
    }

    func append(decimal value: Int) {
        var digits: (UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8) =
            (0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)
        withUnsafeMutableBytes(of: &digits) { raw in
            var remaining = max(0, value)
            var position = raw.count
            repeat {
                position -= 1
                raw[position] = UInt8(48 + remaining % 10)
                remaining /= 10
            } while remaining > 0
            append(UnsafeRawBufferPointer(rebasing: raw[position...]))
        }
    }

    /// Overwrites `source.count` bytes at `offset` (e.g. the subject ID inside a body).
    func overwrite(at offset: Int, with source: UnsafeRawBufferPointer) {
        precondition(offset + source.count <= count)
        if let base = source.baseAddress { (pointer + offset).copyMemory(from: base, byteCount: source.count) }
    }

    /// Where `needle` first occurs, or nil.
    func firstOffset(of needle: [UInt8]) -> Int? {
        let haystack = bytes
        guard needle.count <= haystack.count else { return nil }
        for start in 0...(haystack.count - needle.count) {
            var match = true
            for index in 0..<needle.count where haystack[start + index] != needle[index] {
                match = false
                break
            }
            if match { return start }
        }
        return nil
    }

    /// A whole HTTP/1.1 request: request line, `Host`, `User-Agent`, a JSON body's
    /// `Content-Type`/`Content-Length`, extra header lines, then the body.
    static func request(method: String, target: String, body: [UInt8]?, extraHeaders: String = "") -> [UInt8] {
        var head = "\(method) \(target) HTTP/1.1\r\nHost: localhost\r\nUser-Agent: heyan-bench\r\n" + extraHeaders
        if let body { head += "Content-Type: application/json\r\nContent-Length: \(body.count)\r\n" }
        head += "\r\n"
        return Array(head.utf8) + (body ?? [])
    }
}

/// Finds `"name":"` in a JSON body and returns the string value that follows (up to the next
/// quote), requiring it to start with `prefix`. Good for heyan's identifiers and tokens, which
/// never contain escapes; not a JSON parser.
func jsonStringValue(in body: UnsafeRawBufferPointer, after key: StaticString, prefix: StaticString = "")
    -> UnsafeRawBufferPointer?
{
    let keyBytes = UnsafeRawBufferPointer(start: key.utf8Start, count: key.utf8CodeUnitCount)
    let prefixBytes = UnsafeRawBufferPointer(start: prefix.utf8Start, count: prefix.utf8CodeUnitCount)
    let needle = keyBytes.count + prefixBytes.count
    guard body.count > needle else { return nil }
    var start = 0
    outer: while start + needle <= body.count {
        for index in 0..<keyBytes.count where body[start + index] != keyBytes[index] {
            start += 1
            continue outer
        }
        for index in 0..<prefixBytes.count where body[start + keyBytes.count + index] != prefixBytes[index] {
            start += 1
            continue outer
        }
        let valueStart = start + keyBytes.count
        var valueEnd = valueStart
        while valueEnd < body.count && body[valueEnd] != 34 && body[valueEnd] != 92 { valueEnd += 1 }
        guard valueEnd < body.count, body[valueEnd] == 34, valueEnd > valueStart else { return nil }
        return UnsafeRawBufferPointer(rebasing: body[valueStart..<valueEnd])
    }
    return nil
}
