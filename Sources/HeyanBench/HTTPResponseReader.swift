/// Finds where one HTTP/1.1 response ends in a client's read buffer: the status line, the headers
/// up to CRLFCRLF, then a `Content-Length` body or a chunked one (which is decoded in place, so the
/// body is always one contiguous range of the buffer).
///
/// The reader keeps how far it has searched and the parsed head between calls, so a response that
/// arrives in many reads is not re-parsed from the start each time. It allocates nothing.
public struct HTTPResponseReader: Sendable {
    /// A complete response inside the buffer.
    public struct Response: Equatable, Sendable {
        public var status: Int
        /// Where the (de-chunked) body lies in the buffer.
        public var body: Range<Int>
        /// Bytes of the buffer this response used; what follows belongs to the next response.
        public var consumed: Int
        /// The server said `Connection: close`.
        public var close: Bool
    }

    public enum Progress: Equatable, Sendable {
        case needMore
        case complete(Response)
        /// Not HTTP/1.1 as heyan reads it; the connection must be dropped.
        case invalid(String)
    }

    enum Framing: Equatable, Sendable {
        case length(Int)
        case chunked
    }

    struct Head: Equatable, Sendable {
        var status: Int
        var length: Int  // bytes up to and including CRLFCRLF
        var framing: Framing
        var close: Bool
    }

    /// Longest head accepted (status line and headers).
    public static let maxHeadBytes = 65_536

    private var head: Head?
    private var searchedTo = 0

    public init() {}

    /// Forgets the current response (after it was consumed, or when the connection is replaced).
    public mutating func reset() {
        head = nil
        searchedTo = 0
    }

    /// Looks at `buffer` (the bytes read so far, starting at the first byte of this response).
    /// A chunked body is compacted in place when complete.
    /// An interim (1xx) response comes back as complete too: drop its `consumed` bytes, ``reset()``
    /// and parse again.
    public mutating func parse(_ buffer: UnsafeMutableRawBufferPointer) -> Progress {
        if head == nil {
            guard let end = Self.headEnd(buffer, from: searchedTo) else {
                searchedTo = max(0, buffer.count - 3)
                return buffer.count > Self.maxHeadBytes ? .invalid("response head over 64 KiB") : .needMore
            }
            switch Self.parseHead(UnsafeRawBufferPointer(rebasing: buffer[0..<end])) {
            case .success(let parsed): head = parsed
            case .failure(let failure): return .invalid(failure.reason)
            }
        }
        guard let head else { return .needMore }
        if head.status >= 100 && head.status < 200 {
            // An interim response (100 Continue): the caller drops it and reads on.
            guard head.status != 101 else { return .invalid("unexpected 101 Switching Protocols") }
            return .complete(Response(status: head.status, body: head.length..<head.length, consumed: head.length, close: false))
        }
        switch head.framing {
        case .length(let length):
            let total = head.length + length
            guard buffer.count >= total else { return .needMore }
            return .complete(Response(status: head.status, body: head.length..<total, consumed: total, close: head.close))
        case .chunked:
            return Self.decodeChunked(buffer, head: head)
        }
    }

    // MARK: head

    struct Failure: Error { let reason: String }

    /// The index just past the first CRLFCRLF at or after `from`.
    static func headEnd(_ buffer: UnsafeMutableRawBufferPointer, from: Int) -> Int? {
        guard buffer.count >= 4 else { return nil }
        var index = from
        let last = buffer.count - 4
        while index <= last {
            if buffer[index + 3] != 10 {
                index += buffer[index + 3] == 13 ? 1 : 4
                continue
            }
            if buffer[index] == 13 && buffer[index + 1] == 10 && buffer[index + 2] == 13 { return index + 4 }
            index += 1
        }
        return nil
    }

    static func parseHead(_ bytes: UnsafeRawBufferPointer) -> Result<Head, Failure> {
        // "HTTP/1.1 200 OK\r\n"
        guard bytes.count >= 16, bytes[0] == 72, bytes[1] == 84, bytes[2] == 84, bytes[3] == 80, bytes[4] == 47,
            bytes[5] == 49, bytes[6] == 46, bytes[8] == 32
        else { return .failure(Failure(reason: "bad status line")) }
        var status = 0
        for index in 9...11 {
            let digit = Int(bytes[index]) - 48
            guard digit >= 0 && digit <= 9 else { return .failure(Failure(reason: "bad status code")) }
            status = status * 10 + digit
        }
        guard bytes[12] == 32 || bytes[12] == 13 else { return .failure(Failure(reason: "bad status line")) }
        var close = bytes[7] == 48  // HTTP/1.0 closes unless it says keep-alive; heyan speaks 1.1
        var contentLength: Int?
        var chunked = false
        // Header lines start after the first CRLF.
        var lineStart = 12
        while lineStart < bytes.count && bytes[lineStart] != 10 { lineStart += 1 }
        lineStart += 1
        while lineStart < bytes.count - 2 {  // the final CRLF ends the head
            var lineEnd = lineStart
            while lineEnd < bytes.count && bytes[lineEnd] != 13 { lineEnd += 1 }
            guard lineEnd + 1 < bytes.count, bytes[lineEnd + 1] == 10 else { return .failure(Failure(reason: "bare CR or LF in head")) }
            var colon = lineStart
            while colon < lineEnd && bytes[colon] != 58 { colon += 1 }
            guard colon < lineEnd, colon > lineStart else { return .failure(Failure(reason: "header line without a name")) }
            var valueStart = colon + 1
            while valueStart < lineEnd && (bytes[valueStart] == 32 || bytes[valueStart] == 9) { valueStart += 1 }
            var valueEnd = lineEnd
            while valueEnd > valueStart && (bytes[valueEnd - 1] == 32 || bytes[valueEnd - 1] == 9) { valueEnd -= 1 }
            let name = UnsafeRawBufferPointer(rebasing: bytes[lineStart..<colon])
            let value = UnsafeRawBufferPointer(rebasing: bytes[valueStart..<valueEnd])
            if equalsIgnoringCase(name, "content-length") {
                guard let length = decimal(value) else { return .failure(Failure(reason: "bad Content-Length")) }
                if let contentLength, contentLength != length { return .failure(Failure(reason: "conflicting Content-Length")) }
                contentLength = length
            } else if equalsIgnoringCase(name, "transfer-encoding") {
                guard endsWithIgnoringCase(value, "chunked") else {
                    return .failure(Failure(reason: "unsupported Transfer-Encoding"))
                }
                chunked = true
            } else if equalsIgnoringCase(name, "connection") {
                if containsIgnoringCase(value, "close") { close = true }
                if containsIgnoringCase(value, "keep-alive") { close = false }
            }
            lineStart = lineEnd + 2
        }
        let framing: Framing
        if chunked {
            guard contentLength == nil else { return .failure(Failure(reason: "both Content-Length and chunked")) }
            framing = .chunked
        } else if let contentLength {
            framing = .length(contentLength)
        } else if status == 204 || status == 304 || (status >= 100 && status < 200) {
            framing = .length(0)
        } else {
            return .failure(Failure(reason: "response without Content-Length or chunked encoding"))
        }
        return .success(Head(status: status, length: bytes.count, framing: framing, close: close))
    }

    /// A non-negative decimal without sign, spaces or overflow.
    static func decimal(_ bytes: UnsafeRawBufferPointer) -> Int? {
        guard !bytes.isEmpty, bytes.count <= 18 else { return nil }
        var value = 0
        for byte in bytes {
            guard byte >= 48 && byte <= 57 else { return nil }
            value = value * 10 + Int(byte - 48)
        }
        return value
    }

    static func equalsIgnoringCase(_ bytes: UnsafeRawBufferPointer, _ lowercase: StaticString) -> Bool {
        guard bytes.count == lowercase.utf8CodeUnitCount else { return false }
        let expected = lowercase.utf8Start
        for index in 0..<bytes.count where bytes[index] | 0x20 != expected[index] | 0x20 { return false }
        return true
    }

    static func endsWithIgnoringCase(_ bytes: UnsafeRawBufferPointer, _ lowercase: StaticString) -> Bool {
        let count = lowercase.utf8CodeUnitCount
        guard bytes.count >= count else { return false }
        return equalsIgnoringCase(UnsafeRawBufferPointer(rebasing: bytes[(bytes.count - count)...]), lowercase)
    }

    static func containsIgnoringCase(_ bytes: UnsafeRawBufferPointer, _ lowercase: StaticString) -> Bool {
        let count = lowercase.utf8CodeUnitCount
        guard bytes.count >= count else { return false }
        for start in 0...(bytes.count - count)
        where equalsIgnoringCase(UnsafeRawBufferPointer(rebasing: bytes[start..<(start + count)]), lowercase) {
            return true
        }
        return false
    }

    // MARK: chunked bodies

    /// Checks that the whole chunked body (and trailers) is in `buffer`; if so, moves the chunk
    /// data together right after the head.
    static func decodeChunked(_ buffer: UnsafeMutableRawBufferPointer, head: Head) -> Progress {
        // First pass: find the end without changing anything.
        var index = head.length
        var end: Int?
        var dataBytes = 0
        scan: while true {
            guard let (size, dataStart) = chunkHeader(buffer, at: index) else { return .needMore }
            if size < 0 { return .invalid("bad chunk size") }
            if size == 0 {
                // Trailer lines, then an empty line.
                var line = dataStart
                while true {
                    guard let lineEnd = lineEnd(buffer, from: line) else { return .needMore }
                    if lineEnd == line {
                        end = lineEnd + 2
                        break scan
                    }
                    line = lineEnd + 2
                }
            }
            guard buffer.count >= dataStart + size + 2 else { return .needMore }
            guard buffer[dataStart + size] == 13, buffer[dataStart + size + 1] == 10 else {
                return .invalid("chunk not followed by CRLF")
            }
            dataBytes += size
            guard dataBytes <= 1 << 30 else { return .invalid("chunked body over 1 GiB") }
            index = dataStart + size + 2
        }
        guard let end, let base = buffer.baseAddress else { return .needMore }
        // Second pass: compact.
        var write = head.length
        index = head.length
        while let (size, dataStart) = chunkHeader(buffer, at: index), size > 0 {
            if write != dataStart { (base + write).copyMemory(from: base + dataStart, byteCount: size) }
            write += size
            index = dataStart + size + 2
        }
        return .complete(Response(status: head.status, body: head.length..<write, consumed: end, close: head.close))
    }

    /// The size in a chunk-size line at `index` and where its data starts; nil when the line is
    /// incomplete; size -1 when malformed.
    static func chunkHeader(_ buffer: UnsafeMutableRawBufferPointer, at index: Int) -> (Int, Int)? {
        guard let end = lineEnd(buffer, from: index) else { return nil }
        var size = 0
        var digits = 0
        var position = index
        while position < end {
            let byte = buffer[position]
            let digit: Int
            switch byte {
            case 48...57: digit = Int(byte - 48)
            case 65...70: digit = Int(byte - 55)
            case 97...102: digit = Int(byte - 87)
            default: digit = -1
            }
            if digit < 0 { break }
            digits += 1
            guard digits <= 8 else { return (-1, 0) }
            size = size * 16 + digit
            position += 1
        }
        guard digits > 0, position == end || buffer[position] == 59 || buffer[position] == 32 else { return (-1, 0) }
        return (size, end + 2)
    }

    /// The index of the CR of the first CRLF at or after `from`.
    static func lineEnd(_ buffer: UnsafeMutableRawBufferPointer, from: Int) -> Int? {
        var index = from
        while index + 1 < buffer.count {
            if buffer[index] == 13 && buffer[index + 1] == 10 { return index }
            index += 1
        }
        return nil
    }
}
