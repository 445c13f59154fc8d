/// What ``HTTPRequestParser/next()`` found in the bytes received so far.
public enum HTTPParserEvent: Sendable, Equatable {
    /// A complete request, body included.
    case request(HTTPRequest)
    /// The header section of an HTTP/1.1 request with `Expect: 100-continue` and a body (Content-Length > 0 or
    /// chunked) is complete: send `100 Continue` (``HTTPResponse/continueBytes``) unless refusing. Emitted once,
    /// before that request's ``request(_:)``.
    case continueExpected
    /// The request is refused; answer with ``Problem/from(_:)`` and close the connection.
    case error(HTTPParseError)
}

/// Incremental, pipelining-aware HTTP/1.1 request parser for one connection (RFC 9112, strict).
///
/// Feed received bytes with ``append(_:)-([UInt8])`` and call ``next()`` until it returns nil; requests come out
/// in the order they were sent. heyan is an origin server for machines, so anything ambiguous is refused rather
/// than guessed: bare CR or LF, obs-fold, whitespace before a colon, duplicate Content-Length or Host,
/// Transfer-Encoding together with Content-Length, and every coding but `chunked`. The error codes are the
/// static members of ``HTTPParseError``.
///
/// Memory: the parser never needs more than one request line, one header section and one body allowance buffered
/// for the request it is reading; an over-long line or section fails without waiting for its end. Bytes of later
/// pipelined requests stay buffered until ``next()`` reaches them, so a connection stops reading while it holds
/// requests it has not answered (``bufferedByteCount`` says how much is waiting).
///
/// After an error: ``next()`` returns `.error` once and then nil forever, ``failure`` keeps the error, and
/// appended bytes are discarded. Framing is lost, so the connection must be closed after the error response.
public struct HTTPRequestParser: Sendable {
    /// Most empty lines (CRLF) ignored before a request line; RFC 9112 §2.2 asks for at least one.
    public static let maxLeadingEmptyLines = 4
    /// Longest chunk-size line, extensions and CRLF included.
    public static let maxChunkLineBytes = 1024
    /// Consumed bytes kept at the front of the buffer before it is compacted on the next ``append(_:)-([UInt8])``.
    static let compactionThreshold = 4096

    private enum State: Sendable, Equatable {
        case requestLine(emptyLinesSkipped: Int)
        case headers
        case contentLengthBody(length: Int)
        case chunkSize
        case chunkData(remaining: Int)
        case chunkDataEnd
        case trailers
        case failed
    }

    /// What the request being read has shown so far.
    private struct RequestInProgress: Sendable {
        var method = ""
        var target = ""
        var path = ""
        var query: String? = nil
        var version = HTTPVersion.http1_1
        var headers = HTTPHeaders()
        /// Bytes and lines of the current field section (headers, then trailers).
        var sectionBytes = 0
        var sectionFields = 0
        var hostCount = 0
        var contentLength: Int? = nil
        var sawTransferEncoding = false
        var sawExpect = false
        var sawConnection = false
        var bodyLimit = 0
        var body: [UInt8] = []
        var chunkExtensionBytes = 0
    }

    /// A field name heyan's framing rules look at.
    private enum FramingField {
        case host, contentLength, transferEncoding, expect, connection, other
    }

    private enum LineScan {
        case needMore
        /// Content from `start` to `end` (the index of the CR); the LF is at `end + 1`.
        case line(start: Int, end: Int)
        case error(HTTPParseError)
    }

    private let limits: HTTPParserLimits
    private var buffer: [UInt8] = []
    /// First byte not yet consumed.
    private var readIndex = 0
    /// Where the search for the current line's LF resumes (everything in `readIndex..<scanIndex` is line content).
    private var scanIndex = 0
    private var state = State.requestLine(emptyLinesSkipped: 0)
    private var request = RequestInProgress()

    /// The error that stopped the parser, if any.
    public private(set) var failure: HTTPParseError?

    public init(limits: HTTPParserLimits = .init()) {
        self.limits = limits
    }

    /// Some bytes of an unfinished request are buffered or have been consumed (used for the whole-request
    /// timeout). False between requests, including after skipped empty lines, and after a failure.
    public var hasPartialRequest: Bool {
        switch state {
        case .failed: return false
        case .requestLine: return buffer.count > readIndex
        default: return true
        }
    }

    /// Input bytes received but not yet consumed by ``next()``.
    public var bufferedByteCount: Int { buffer.count - readIndex }

    public mutating func append(_ bytes: UnsafeRawBufferPointer) {
        guard state != .failed else { return }
        compactIfUseful()
        buffer.append(contentsOf: bytes)
    }

    public mutating func append(_ bytes: [UInt8]) {
        guard state != .failed else { return }
        compactIfUseful()
        buffer.append(contentsOf: bytes)
    }

    private mutating func compactIfUseful() {
        if readIndex == buffer.count {
            if buffer.capacity > 64 * 1024 {
                buffer = []
            } else {
                buffer.removeAll(keepingCapacity: true)
            }
            readIndex = 0
            scanIndex = 0
        } else if readIndex >= Self.compactionThreshold && readIndex >= buffer.count / 2 {
            buffer.removeSubrange(0..<readIndex)
            scanIndex -= readIndex
            readIndex = 0
        }
    }

    /// The next complete event, or nil when more bytes are needed (or after an error was returned).
    public mutating func next() -> HTTPParserEvent? {
        while true {
            switch state {
            case .failed:
                return nil

            case .requestLine(let skipped):
                switch scanLine(maxLength: limits.requestLineBytes + 2, tooLong: .requestLineTooLong) {
                case .needMore: return nil
                case .error(let error): return fail(error)
                case .line(let start, let end):
                    consumeLine(end: end)
                    if start == end {
                        guard skipped < Self.maxLeadingEmptyLines else { return fail(.tooManyEmptyLines) }
                        state = .requestLine(emptyLinesSkipped: skipped + 1)
                        continue
                    }
                    if let error = parseRequestLine(start: start, end: end) { return fail(error) }
                    state = .headers
                }

            case .headers:
                let allowance = max(limits.headerBytes - request.sectionBytes, 2)
                switch scanLine(maxLength: allowance, tooLong: .headerTooLarge) {
                case .needMore: return nil
                case .error(let error): return fail(error)
                case .line(let start, let end):
                    consumeLine(end: end)
                    if start == end {
                        if let event = headerSectionComplete() { return event }
                        continue
                    }
                    request.sectionFields += 1
                    guard request.sectionFields <= limits.headerCount else { return fail(.tooManyFields) }
                    request.sectionBytes += end - start + 2
                    if let error = parseField(start: start, end: end, isTrailer: false) { return fail(error) }
                }

            case .contentLengthBody(let length):
                guard buffer.count - readIndex >= length else { return nil }
                request.body = Array(buffer[readIndex..<readIndex + length])
                readIndex += length
                scanIndex = readIndex
                return .request(finishRequest())

            case .chunkSize:
                switch scanLine(maxLength: Self.maxChunkLineBytes, tooLong: .chunkLineTooLong) {
                case .needMore: return nil
                case .error(let error): return fail(error)
                case .line(let start, let end):
                    consumeLine(end: end)
                    let size: Int
                    switch parseChunkSizeLine(start: start, end: end) {
                    case .success(let parsed): size = parsed
                    case .failure(let error): return fail(error)
                    }
                    if size == 0 {
                        request.sectionBytes = 0
                        request.sectionFields = 0
                        state = .trailers
                    } else {
                        guard size <= request.bodyLimit - request.body.count else { return fail(.bodyTooLarge) }
                        state = .chunkData(remaining: size)
                    }
                }

            case .chunkData(let remaining):
                let available = buffer.count - readIndex
                guard available > 0 else { return nil }
                let taken = min(available, remaining)
                request.body.append(contentsOf: buffer[readIndex..<readIndex + taken])
                readIndex += taken
                scanIndex = readIndex
                guard taken == remaining else {
                    state = .chunkData(remaining: remaining - taken)
                    return nil
                }
                state = .chunkDataEnd

            case .chunkDataEnd:
                let available = buffer.count - readIndex
                guard available > 0 else { return nil }
                guard buffer[readIndex] == ASCII.cr else { return fail(.chunkMissingCRLF) }
                guard available > 1 else { return nil }
                guard buffer[readIndex + 1] == ASCII.lf else { return fail(.chunkMissingCRLF) }
                readIndex += 2
                scanIndex = readIndex
                state = .chunkSize

            case .trailers:
                let allowance = max(limits.headerBytes - request.sectionBytes, 2)
                switch scanLine(maxLength: allowance, tooLong: .trailerTooLarge) {
                case .needMore: return nil
                case .error(let error): return fail(error)
                case .line(let start, let end):
                    consumeLine(end: end)
                    if start == end { return .request(finishRequest()) }
                    request.sectionFields += 1
                    guard request.sectionFields <= limits.headerCount else { return fail(.tooManyTrailerFields) }
                    request.sectionBytes += end - start + 2
                    if let error = parseField(start: start, end: end, isTrailer: true) { return fail(error) }
                }
            }
        }
    }

    private mutating func fail(_ error: HTTPParseError) -> HTTPParserEvent {
        state = .failed
        failure = error
        buffer = []
        readIndex = 0
        scanIndex = 0
        request = RequestInProgress()
        return .error(error)
    }

    private mutating func consumeLine(end: Int) {
        readIndex = end + 2
        scanIndex = readIndex
    }

    /// Finds the CRLF ending the line that starts at `readIndex`; the line may hold `maxLength` bytes, CRLF
    /// included. A CR must be followed by LF and an LF preceded by CR, wherever they are, and a content byte past
    /// the allowance fails at once; errors are reported at the first offending byte, so the outcome never depends
    /// on how the bytes were split.
    private mutating func scanLine(maxLength: Int, tooLong: HTTPParseError) -> LineScan {
        let lineStart = readIndex
        let contentEnd = lineStart + maxLength - 2  // first index that may only hold the CR
        var index = scanIndex
        let found: LineScan? = buffer.withUnsafeBufferPointer { bytes in
            while index < bytes.count {
                let byte = bytes[index]
                if byte == ASCII.lf {
                    guard index > lineStart, bytes[index - 1] == ASCII.cr else { return .error(.bareLF) }
                    return .line(start: lineStart, end: index - 1)
                }
                if byte == ASCII.cr {
                    guard index + 1 < bytes.count else { return nil }  // wait for the byte after CR
                    guard bytes[index + 1] == ASCII.lf else { return .error(.bareCR) }
                } else if index >= contentEnd {
                    return .error(tooLong)
                }
                index += 1
            }
            return nil
        }
        if let found { return found }
        scanIndex = index
        return .needMore
    }

    // MARK: Request line

    private mutating func parseRequestLine(start: Int, end: Int) -> HTTPParseError? {
        struct Parts {
            var methodEnd = 0
            var targetStart = 0
            var targetEnd = 0
            var questionMark: Int? = nil
            var version = HTTPVersion.http1_1
        }
        let parsed: Result<Parts, HTTPParseError> = buffer.withUnsafeBufferPointer { bytes in
            var parts = Parts()
            var index = start
            while index < end && ASCII.isTokenChar(bytes[index]) { index += 1 }
            guard index < end else { return .failure(index == start ? .methodInvalid : .requestLineInvalid) }
            guard index > start, bytes[index] == ASCII.sp else { return .failure(.methodInvalid) }
            parts.methodEnd = index
            index += 1
            parts.targetStart = index
            while index < end {
                let byte = bytes[index]
                if byte == ASCII.sp { break }
                guard byte > 0x20 && byte < 0x7F && byte != UInt8(ascii: "#") else { return .failure(.targetInvalid) }
                if byte == UInt8(ascii: "?") && parts.questionMark == nil { parts.questionMark = index }
                index += 1
            }
            guard index > parts.targetStart, index < end else { return .failure(.requestLineInvalid) }
            parts.targetEnd = index
            index += 1
            // HTTP-version = "HTTP/" DIGIT "." DIGIT, case-sensitive, and nothing after it.
            guard end - index == 8,
                bytes[index] == UInt8(ascii: "H"), bytes[index + 1] == UInt8(ascii: "T"),
                bytes[index + 2] == UInt8(ascii: "T"), bytes[index + 3] == UInt8(ascii: "P"),
                bytes[index + 4] == UInt8(ascii: "/"), bytes[index + 6] == UInt8(ascii: "."),
                let major = Self.digit(bytes[index + 5]), let minor = Self.digit(bytes[index + 7])
            else { return .failure(.versionInvalid) }
            switch (major, minor) {
            case (1, 1): parts.version = .http1_1
            case (1, 0): parts.version = .http1_0
            default: return .failure(.versionUnsupported)
            }
            let first = bytes[parts.targetStart]
            let isAsterisk = first == UInt8(ascii: "*") && parts.targetEnd - parts.targetStart == 1
            let isOptions =
                parts.methodEnd - start == 7
                && UnsafeBufferPointer(rebasing: bytes[start..<parts.methodEnd]).elementsEqual("OPTIONS".utf8)
            guard first == UInt8(ascii: "/") || (isAsterisk && isOptions) else { return .failure(.targetForm) }
            return .success(parts)
        }
        let parts: Parts
        switch parsed {
        case .success(let value): parts = value
        case .failure(let error): return error
        }
        request.method = string(start..<parts.methodEnd)
        request.target = string(parts.targetStart..<parts.targetEnd)
        if let question = parts.questionMark {
            request.path = string(parts.targetStart..<question)
            request.query = string(question + 1..<parts.targetEnd)
        } else {
            request.path = request.target
            request.query = nil
        }
        request.version = parts.version
        request.bodyLimit = limits.bodyLimitOverride?(request.method, request.path) ?? limits.bodyBytes
        return nil
    }

    @inline(__always)
    private static func digit(_ byte: UInt8) -> Int? {
        byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9") ? Int(byte &- UInt8(ascii: "0")) : nil
    }

    @inline(__always)
    private func string(_ range: Range<Int>) -> String {
        String(decoding: buffer[range], as: UTF8.self)
    }

    // MARK: Field lines

    /// Validates one field line (RFC 9112 §5) and, in the header section, records it.
    private mutating func parseField(start: Int, end: Int, isTrailer: Bool) -> HTTPParseError? {
        struct Field {
            var nameEnd = 0
            var valueStart = 0
            var valueEnd = 0
            var framing = FramingField.other
            var contentLength: Int? = nil
        }
        let parsed: Result<Field, HTTPParseError> = buffer.withUnsafeBufferPointer { bytes in
            var field = Field()
            let first = bytes[start]
            if first == ASCII.sp || first == ASCII.htab { return .failure(.obsFold) }
            var index = start
            while index < end && ASCII.isTokenChar(bytes[index]) { index += 1 }
            guard index < end, bytes[index] == ASCII.colon else {
                let rest = UnsafeBufferPointer(rebasing: bytes[index..<end])
                if !rest.contains(ASCII.colon) { return .failure(.fieldMissingColon) }
                let byte = bytes[index]
                return .failure(byte == ASCII.sp || byte == ASCII.htab ? .fieldNameWhitespace : .fieldNameInvalid)
            }
            guard index > start else { return .failure(.fieldNameInvalid) }
            field.nameEnd = index
            var valueStart = index + 1
            var valueEnd = end
            while valueStart < valueEnd && (bytes[valueStart] == ASCII.sp || bytes[valueStart] == ASCII.htab) {
                valueStart += 1
            }
            while valueEnd > valueStart && (bytes[valueEnd - 1] == ASCII.sp || bytes[valueEnd - 1] == ASCII.htab) {
                valueEnd -= 1
            }
            for position in valueStart..<valueEnd where !ASCII.isFieldValueByte(bytes[position]) {
                return .failure(.fieldValueInvalid)
            }
            field.valueStart = valueStart
            field.valueEnd = valueEnd
            if !isTrailer {
                field.framing = Self.framingField(UnsafeBufferPointer(rebasing: bytes[start..<index]))
                if field.framing == .contentLength {
                    field.contentLength = Self.contentLength(
                        UnsafeBufferPointer(rebasing: bytes[valueStart..<valueEnd]))
                    guard field.contentLength != nil else { return .failure(.contentLengthInvalid) }
                }
            }
            return .success(field)
        }
        let field: Field
        switch parsed {
        case .success(let value): field = value
        case .failure(let error): return error
        }
        // Trailers are validated and dropped (RFC 9112 §7.1.2: nothing in them may change framing or routing).
        guard !isTrailer else { return nil }
        switch field.framing {
        case .host:
            request.hostCount += 1
        case .contentLength:
            guard request.contentLength == nil else { return .contentLengthDuplicate }
            request.contentLength = field.contentLength
        case .transferEncoding:
            request.sawTransferEncoding = true
        case .expect:
            request.sawExpect = true
        case .connection:
            request.sawConnection = true
        case .other:
            break
        }
        request.headers.add(string(start..<field.nameEnd), string(field.valueStart..<field.valueEnd))
        return nil
    }

    /// Recognises the names whose fields frame or route the message, without building a String.
    private static func framingField(_ name: UnsafeBufferPointer<UInt8>) -> FramingField {
        func matches(_ lowercase: StaticString) -> Bool {
            guard name.count == lowercase.utf8CodeUnitCount else { return false }
            let expected = UnsafeBufferPointer(start: lowercase.utf8Start, count: lowercase.utf8CodeUnitCount)
            for index in 0..<name.count where ASCII.lowercased(name[index]) != expected[index] { return false }
            return true
        }
        switch name.count {
        case 4: return matches("host") ? .host : .other
        case 6: return matches("expect") ? .expect : .other
        case 10: return matches("connection") ? .connection : .other
        case 14: return matches("content-length") ? .contentLength : .other
        case 17: return matches("transfer-encoding") ? .transferEncoding : .other
        default: return .other
        }
    }

    /// Content-Length = 1*DIGIT, fitting in an Int; nil for anything else (sign, space, comma list, overflow).
    private static func contentLength(_ value: UnsafeBufferPointer<UInt8>) -> Int? {
        guard !value.isEmpty else { return nil }
        var length = 0
        for byte in value {
            guard let digit = digit(byte) else { return nil }
            let (shifted, overflow1) = length.multipliedReportingOverflow(by: 10)
            let (sum, overflow2) = shifted.addingReportingOverflow(digit)
            guard !overflow1 && !overflow2 else { return nil }
            length = sum
        }
        return length
    }

    // MARK: End of the header section

    /// Applies the framing rules of RFC 9112 §6 once every header field is known. Returns the event to deliver
    /// now (an error, `.continueExpected` or a body-less request), or nil to go on reading the body.
    private mutating func headerSectionComplete() -> HTTPParserEvent? {
        if request.hostCount > 1 { return fail(.hostDuplicate) }
        if request.hostCount == 0 && request.version == .http1_1 { return fail(.hostMissing) }

        var chunked = false
        if request.sawTransferEncoding {
            if request.contentLength != nil { return fail(.transferEncodingWithContentLength) }
            if request.version == .http1_0 { return fail(.transferEncodingInHTTP10) }
            let codings = request.headers.values("Transfer-Encoding").flatMap(ASCII.listElements)
            let chunkedPositions = codings.indices.filter { ASCII.equalsLowercase(codings[$0], "chunked") }
            if codings.contains(where: \.isEmpty) || chunkedPositions.contains(where: { $0 != codings.count - 1 }) {
                return fail(.transferEncodingInvalid)
            }
            guard codings.count == 1 && chunkedPositions.count == 1 else { return fail(.transferEncodingUnsupported) }
            chunked = true
        }
        let contentLength = request.contentLength ?? 0
        if contentLength > request.bodyLimit { return fail(.bodyTooLarge) }

        var continueExpected = false
        if request.sawExpect && request.version == .http1_1 {
            // RFC 9110 §10.1.1: a server MUST ignore 100-continue in an HTTP/1.0 request; heyan refuses any other.
            let expectations = request.headers.values("Expect").flatMap(ASCII.listElements)
            guard expectations.allSatisfy({ ASCII.equalsLowercase($0, "100-continue") }) else {
                return fail(.expectationUnsupported)
            }
            continueExpected = chunked || contentLength > 0
        }

        if chunked {
            state = .chunkSize
        } else if contentLength > 0 {
            state = .contentLengthBody(length: contentLength)
        } else {
            return .request(finishRequest())
        }
        return continueExpected ? .continueExpected : nil
    }

    // MARK: Chunked body

    /// chunk-size [ chunk-ext ]: 1*HEXDIG, then `*( BWS ";" BWS ext-name [ BWS "=" BWS ext-val ] )`.
    /// Extensions are checked for shape loosely (starts with ';', no control characters), counted and ignored.
    private mutating func parseChunkSizeLine(start: Int, end: Int) -> Result<Int, HTTPParseError> {
        let parsed: Result<(size: Int, extensionBytes: Int), HTTPParseError> = buffer.withUnsafeBufferPointer {
            bytes in
            var size = 0
            var index = start
            while index < end, let value = HTTPRequest.hexValue(bytes[index]) {
                guard size <= (Int.max >> 4) else { return .failure(.chunkSizeInvalid) }
                size = size << 4 | Int(value)
                index += 1
            }
            guard index > start else { return .failure(.chunkSizeInvalid) }
            guard index < end else { return .success((size, 0)) }
            let extensionStart = index
            while index < end && (bytes[index] == ASCII.sp || bytes[index] == ASCII.htab) { index += 1 }
            guard index < end, bytes[index] == UInt8(ascii: ";") else {
                // "0x10", "5 5", "5-": not a chunk size.
                return .failure(.chunkSizeInvalid)
            }
            for position in index..<end where !ASCII.isFieldValueByte(bytes[position]) {
                return .failure(.chunkExtensionInvalid)
            }
            return .success((size, end - extensionStart))
        }
        switch parsed {
        case .failure(let error):
            return .failure(error)
        case .success(let (size, extensionBytes)):
            request.chunkExtensionBytes += extensionBytes
            guard request.chunkExtensionBytes <= limits.headerBytes else { return .failure(.chunkExtensionsTooLarge) }
            return .success(size)
        }
    }

    private mutating func finishRequest() -> HTTPRequest {
        let finished = HTTPRequest(
            method: request.method, target: request.target, path: request.path, query: request.query,
            version: request.version, headers: request.headers, body: request.body,
            keepAlive: request.version == .http1_1
                && (!request.sawConnection
                    || HTTPRequest.defaultKeepAlive(version: request.version, headers: request.headers))
        )
        request = RequestInProgress()
        state = .requestLine(emptyLinesSkipped: 0)
        return finished
    }
}
