import HeyanTestSupport
import Testing

@testable import HeyanHTTP


/// Feeds one input to fresh parsers whole, byte by byte and in seeded random splits, and checks that every
/// way gives the same events (after swift-nio's `ByteToMessageDecoderVerifier`).
enum ParserVerifier {
    /// Events from feeding `input` in pieces of the given sizes, draining `next()` after every piece.
    /// Alternates the `[UInt8]` and `UnsafeRawBufferPointer` entry points.
    static func events(_ input: [UInt8], pieces: [Int], limits: HTTPParserLimits) -> [HTTPParserEvent] {
        var parser = HTTPRequestParser(limits: limits)
        var events: [HTTPParserEvent] = []
        var offset = 0
        for (number, size) in pieces.enumerated() {
            let piece = Array(input[offset..<offset + size])
            offset += size
            if number % 2 == 0 {
                parser.append(piece)
            } else {
                piece.withUnsafeBytes { parser.append($0) }
            }
            while let event = parser.next() { events.append(event) }
        }
        precondition(offset == input.count)
        return events
    }

    static func randomPieces(count: Int, using generator: inout SplitMix64) -> [Int] {
        var pieces: [Int] = []
        var remaining = count
        while remaining > 0 {
            let size = Int.random(
                in: 1...max(1, min(remaining, Int.random(in: 1...64, using: &generator))),
                using: &generator)
            pieces.append(size)
            remaining -= size
        }
        return pieces
    }

    /// The events of `input`, after checking that whole, byte-by-byte and `splits` random splits agree.
    @discardableResult
    static func verify(
        _ input: [UInt8], limits: HTTPParserLimits = .init(), splits: Int = 50, seed: UInt64 = 0x6865_7961_6E,
        sourceLocation: SourceLocation = #_sourceLocation
    ) -> [HTTPParserEvent] {
        let whole = events(input, pieces: input.isEmpty ? [] : [input.count], limits: limits)
        let byteByByte = events(input, pieces: Array(repeating: 1, count: input.count), limits: limits)
        #expect(byteByByte == whole, "byte by byte differs from whole", sourceLocation: sourceLocation)
        var generator = SplitMix64(seed: seed)
        for attempt in 0..<splits {
            let pieces = randomPieces(count: input.count, using: &generator)
            if events(input, pieces: pieces, limits: limits) != whole {
                Issue.record("split \(attempt) \(pieces) differs from whole", sourceLocation: sourceLocation)
                break
            }
        }
        return whole
    }

    static func verify(
        _ input: String, limits: HTTPParserLimits = .init(), splits: Int = 50,
        sourceLocation: SourceLocation = #_sourceLocation
    ) -> [HTTPParserEvent] {
        verify(Array(input.utf8), limits: limits, splits: splits, sourceLocation: sourceLocation)
    }
}

func request(_ event: HTTPParserEvent?) -> HTTPRequest? {
    if case .request(let request) = event { return request }
    return nil
}

@Suite("HTTP request parser: valid requests")
struct HTTPRequestParserTests {
    @Test func simpleGet() {
        let events = ParserVerifier.verify(
            "GET /v1/catalog?kind=a%20b&x=1 HTTP/1.1\r\nHost: heyan.example\r\nAccept: application/json\r\n"
                + "X-Empty:\r\nX-Tab:\t tabbed value \t\r\n\r\n")
        #expect(events.count == 1)
        let parsed = try! #require(request(events.first))
        #expect(parsed.method == "GET")
        #expect(parsed.target == "/v1/catalog?kind=a%20b&x=1")
        #expect(parsed.path == "/v1/catalog")
        #expect(parsed.query == "kind=a%20b&x=1")
        #expect(parsed.version == .http1_1)
        #expect(parsed.keepAlive)
        #expect(parsed.body.isEmpty)
        #expect(
            parsed.headers
                == HTTPHeaders([
                    ("Host", "heyan.example"), ("Accept", "application/json"), ("X-Empty", ""),
                    ("X-Tab", "tabbed value"),
                ]))
        #expect(parsed.headers["host"] == "heyan.example")
        #expect(parsed.queryValue("kind") == "a b")
    }

    @Test func postWithContentLength() {
        let events = ParserVerifier.verify(
            "POST /v1/verifications HTTP/1.1\r\nHost: h\r\nContent-Length:  11 \r\n"
                + "Content-Type: application/json\r\n\r\n{\"a\":\"核\"}")
        let parsed = try! #require(request(events.first))
        #expect(events.count == 1)
        #expect(parsed.method == "POST")
        #expect(parsed.query == nil)
        #expect(parsed.body == Array("{\"a\":\"核\"}".utf8))
        #expect(parsed.headers["content-length"] == "11")
    }

    @Test func chunkedWithExtensionsAndTrailers() {
        let events = ParserVerifier.verify(
            "POST /v1/records:batch HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: Chunked\r\n\r\n"
                + "5;name=value;flag\r\nhello\r\n" + "00006 ; q=\"quoted string\"\r\n world\r\n"
                + "A\r\n0123456789\r\n" + "0\r\nX-Checksum: abc\r\nX-Other: def\r\n\r\n")
        #expect(events.count == 1)
        let parsed = try! #require(request(events.first))
        #expect(String(decoding: parsed.body, as: UTF8.self) == "hello world0123456789")
        #expect(parsed.headers["X-Checksum"] == nil, "trailers are dropped")
        #expect(parsed.headers["Transfer-Encoding"] == "Chunked")
    }

    @Test func optionsAsteriskAndHTTP10() {
        let events = ParserVerifier.verify(
            "OPTIONS * HTTP/1.1\r\nHost: h\r\n\r\nGET /healthz HTTP/1.0\r\n\r\n")
        #expect(events.count == 2)
        let options = try! #require(request(events.first))
        #expect(options.target == "*" && options.path == "*" && options.keepAlive)
        let old = try! #require(request(events.last))
        #expect(old.version == .http1_0)
        #expect(old.keepAlive == false)
        #expect(old.headers.count == 0)
    }

    @Test func leadingEmptyLinesAreSkipped() {
        let events = ParserVerifier.verify("\r\n\r\nGET / HTTP/1.1\r\nHost: h\r\n\r\n")
        #expect(events.map { request($0)?.path } == ["/"])
    }

    @Test func utf8AndObsTextInFieldValues() {
        let events = ParserVerifier.verify("GET / HTTP/1.1\r\nHost: h\r\nX-Name: 核验 部门\r\nX-Raw: \u{7E}\r\n\r\n")
        let parsed = try! #require(request(events.first))
        #expect(parsed.headers["x-name"] == "核验 部门")
    }

    @Test func pipelinedRequestsComeOutInOrder() {
        let input =
            "GET /1 HTTP/1.1\r\nHost: h\r\n\r\n"
            + "POST /2 HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\n\r\nabc"
            + "PUT /3 HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nde\r\n0\r\n\r\n"
            + "DELETE /4?x HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n"
        let events = ParserVerifier.verify(input)
        let requests = events.compactMap(request)
        #expect(events.count == 4)
        #expect(requests.map(\.method) == ["GET", "POST", "PUT", "DELETE"])
        #expect(requests.map(\.path) == ["/1", "/2", "/3", "/4"])
        #expect(requests.map(\.body) == [[], Array("abc".utf8), Array("de".utf8), []])
        #expect(requests.map(\.keepAlive) == [true, true, true, false])
    }

    @Test func requestsBeforeAnErrorAreStillDelivered() {
        let events = ParserVerifier.verify(
            "GET /ok HTTP/1.1\r\nHost: h\r\n\r\nGET /bad HTTP/1.1\nHost: h\r\n\r\nGET /never HTTP/1.1\r\nHost: h\r\n\r\n"
        )
        #expect(events.count == 2)
        #expect(request(events.first)?.path == "/ok")
        #expect(events.last == .error(.bareLF))
    }

    @Test(arguments: [
        ("GET / HTTP/1.1\r\nHost: h\r\n\r\n", true),
        ("GET / HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n", false),
        ("GET / HTTP/1.1\r\nHost: h\r\nConnection: keep-alive, CLOSE\r\n\r\n", false),
        ("GET / HTTP/1.1\r\nHost: h\r\nConnection: keep-alive\r\nConnection: Close\r\n\r\n", false),
        ("GET / HTTP/1.1\r\nHost: h\r\nConnection: keep-alive, closed\r\n\r\n", true),
        ("GET / HTTP/1.0\r\n\r\n", false),
        ("GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n", false),
    ])
    func keepAlive(input: String, expected: Bool) {
        let events = ParserVerifier.verify(input, splits: 10)
        #expect(request(events.first)?.keepAlive == expected)
        #expect(events.count == 1)
    }

    @Test func continueExpectedBeforeTheBody() {
        var parser = HTTPRequestParser()
        parser.append(
            Array(
                "POST /v1/verifications HTTP/1.1\r\nHost: h\r\nExpect: 100-Continue\r\nContent-Length: 2\r\n\r\n".utf8))
        #expect(parser.next() == .continueExpected)
        #expect(parser.next() == nil)
        #expect(parser.hasPartialRequest)
        parser.append(Array("{}".utf8))
        #expect(request(parser.next())?.body == Array("{}".utf8))
        #expect(parser.next() == nil)
        #expect(!parser.hasPartialRequest)
    }

    @Test func continueExpectedOnlyWithABodyOnHTTP11() {
        let chunked = ParserVerifier.verify(
            "POST / HTTP/1.1\r\nHost: h\r\nExpect: 100-continue\r\nTransfer-Encoding: chunked\r\n\r\n1\r\nx\r\n0\r\n\r\n"
        )
        #expect(chunked.count == 2 && chunked.first == .continueExpected && request(chunked.last)?.body == [0x78])
        let noBody = ParserVerifier.verify(
            "POST / HTTP/1.1\r\nHost: h\r\nExpect: 100-continue\r\nContent-Length: 0\r\n\r\n")
        #expect(noBody.count == 1 && request(noBody.first) != nil)
        let http10 = ParserVerifier.verify("POST / HTTP/1.0\r\nExpect: 100-continue\r\nContent-Length: 1\r\n\r\nx")
        #expect(http10.count == 1 && request(http10.first)?.body == [0x78])
    }

    @Test func bodyLimitOverrideForOneRoute() {
        var limits = HTTPParserLimits()
        limits.bodyBytes = 10
        limits.bodyLimitOverride = { method, path in method == "POST" && path == "/v1/records:batch" ? 100 : nil }
        let body = String(repeating: "x", count: 50)
        let batch = ParserVerifier.verify(
            "POST /v1/records:batch?dry=1 HTTP/1.1\r\nHost: h\r\nContent-Length: 50\r\n\r\n" + body, limits: limits,
            splits: 10)
        #expect(request(batch.first)?.body.count == 50)
        let other = ParserVerifier.verify(
            "POST /v1/verifications HTTP/1.1\r\nHost: h\r\nContent-Length: 50\r\n\r\n" + body, limits: limits,
            splits: 10)
        #expect(other == [.error(.bodyTooLarge)])
        let chunkedBatch = ParserVerifier.verify(
            "POST /v1/records:batch HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n32\r\n\(body)\r\n0\r\n\r\n",
            limits: limits, splits: 10)
        #expect(request(chunkedBatch.first)?.body.count == 50)
        let chunkedOther = ParserVerifier.verify(
            "POST /v1/x HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n6\r\nxxxxxx\r\n5\r\nxxxxx\r\n0\r\n\r\n",
            limits: limits, splits: 10)
        #expect(chunkedOther == [.error(.bodyTooLarge)])
    }

    @Test func bodyTooLargeIsReportedBeforeTheBodyArrives() {
        var parser = HTTPRequestParser()
        parser.append(Array("PUT /v1/records/t/s HTTP/1.1\r\nHost: h\r\nContent-Length: 1048577\r\n\r\n".utf8))
        #expect(parser.next() == .error(.bodyTooLarge))
        var exact = HTTPRequestParser()
        exact.append(Array("PUT /v1/records/t/s HTTP/1.1\r\nHost: h\r\nContent-Length: 1048576\r\n\r\n".utf8))
        #expect(exact.next() == nil, "exactly the limit is allowed")
        #expect(exact.hasPartialRequest)
    }

    @Test func requestLineTooLongWithoutWaitingForItsEnd() {
        var parser = HTTPRequestParser()
        parser.append(Array(("GET /" + String(repeating: "a", count: 8187)).utf8))
        #expect(parser.next() == nil, "8192 bytes: the line may still end within the limit")
        parser.append([UInt8(ascii: "a")])
        #expect(parser.next() == .error(.requestLineTooLong))
        #expect(parser.bufferedByteCount == 0, "a failed parser releases its buffer")
    }

    @Test func requestLineAtTheLimitIsAccepted() {
        let line = "GET /" + String(repeating: "a", count: 8192 - 14) + " HTTP/1.1"
        #expect(line.utf8.count == 8192)
        let events = ParserVerifier.verify(line + "\r\nHost: h\r\n\r\n", splits: 5)
        #expect(request(events.first)?.target.utf8.count == 8192 - 13)
    }

    @Test func headerSectionAtTheLimitIsAcceptedAndOneByteMoreIsNot() {
        var limits = HTTPParserLimits()
        limits.headerBytes = 64
        let host = "Host: h\r\n"  // 9 bytes
        let filler = "X: " + String(repeating: "v", count: 64 - 9 - 5) + "\r\n"  // 55 bytes
        let fits = ParserVerifier.verify("GET / HTTP/1.1\r\n" + host + filler + "\r\n", limits: limits, splits: 10)
        #expect(request(fits.first) != nil)
        let tooBig = ParserVerifier.verify(
            "GET / HTTP/1.1\r\n" + host + "X: v" + filler.dropFirst(3) + "\r\n", limits: limits, splits: 10)
        #expect(tooBig == [.error(.headerTooLarge)])
    }

    @Test func afterAnErrorTheParserStaysFailedAndSilent() {
        var parser = HTTPRequestParser()
        parser.append(Array("GET / HTTP/9.9\r\n".utf8))
        #expect(parser.next() == .error(.versionUnsupported))
        #expect(parser.next() == nil)
        #expect(parser.failure == .versionUnsupported)
        parser.append(Array("GET / HTTP/1.1\r\nHost: h\r\n\r\n".utf8))
        #expect(parser.next() == nil)
        #expect(parser.bufferedByteCount == 0)
        #expect(!parser.hasPartialRequest)
    }

    @Test func partialRequestAndBufferedBytes() {
        var parser = HTTPRequestParser()
        #expect(!parser.hasPartialRequest)
        parser.append(Array("\r\n".utf8))
        #expect(parser.next() == nil)
        #expect(!parser.hasPartialRequest, "a skipped empty line is not a request")
        parser.append(Array("GET / HT".utf8))
        #expect(parser.next() == nil)
        #expect(parser.hasPartialRequest)
        #expect(parser.bufferedByteCount == 8)
        parser.append(Array("TP/1.1\r\nHost: h\r\n\r\nGET /2".utf8))
        #expect(request(parser.next())?.path == "/")
        #expect(parser.next() == nil)
        #expect(parser.hasPartialRequest)
        #expect(parser.bufferedByteCount == 6)
    }

    @Test func manyPipelinedRequestsSurviveBufferCompaction() {
        var input: [UInt8] = []
        for number in 0..<1000 {
            let body = String(repeating: "b", count: number % 37)
            input += Array(
                "POST /r/\(number) HTTP/1.1\r\nHost: h\r\nContent-Length: \(body.utf8.count)\r\n\r\n\(body)".utf8)
        }
        var generator = SplitMix64(seed: 7)
        let pieces = ParserVerifier.randomPieces(count: input.count, using: &generator)
        let events = ParserVerifier.events(input, pieces: pieces, limits: .init())
        let requests = events.compactMap(request)
        #expect(requests.count == 1000)
        #expect(requests.map(\.path) == (0..<1000).map { "/r/\($0)" })
        #expect(requests.map(\.body.count) == (0..<1000).map { $0 % 37 })
    }

    @Test func chunkedBodyLargerThanTheCompactionThreshold() {
        let chunk = String(repeating: "z", count: 3000)
        var input = "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n"
        for _ in 0..<20 { input += "BB8\r\n\(chunk)\r\n" }
        input += "0\r\n\r\n"
        let events = ParserVerifier.verify(input, splits: 5)
        #expect(request(events.first)?.body.count == 60_000)
    }
}
