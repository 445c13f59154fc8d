import HeyanTestSupport
import Testing

@testable import HeyanHTTP

/// One request heyan must refuse, with the exact error.
struct NastyRequest: Sendable, CustomTestStringConvertible {
    let name: String
    let input: [UInt8]
    let expected: HTTPParseError
    var testDescription: String { name }

    init(_ name: String, _ input: String, _ expected: HTTPParseError) {
        self.name = name
        self.input = Array(input.utf8)
        self.expected = expected
    }

    init(_ name: String, bytes: [UInt8], _ expected: HTTPParseError) {
        self.name = name
        self.input = bytes
        self.expected = expected
    }
}

private let get = "GET / HTTP/1.1\r\n"
private let host = "Host: h\r\n"
private let post = "POST /v1/verifications HTTP/1.1\r\nHost: h\r\n"

let nastyRequests: [NastyRequest] = [
    // Request line.
    NastyRequest("HTTP/0.9 request line", "GET /\r\n\r\n", .requestLineInvalid),
    NastyRequest("two spaces before target", "GET  / HTTP/1.1\r\n" + host + "\r\n", .requestLineInvalid),
    NastyRequest("trailing space after version", "GET / HTTP/1.1 \r\n" + host + "\r\n", .versionInvalid),
    NastyRequest("space inside target", "GET /a b HTTP/1.1\r\n" + host + "\r\n", .versionInvalid),
    NastyRequest("leading space before method", " GET / HTTP/1.1\r\n" + host + "\r\n", .methodInvalid),
    NastyRequest("method not a token", "G(T / HTTP/1.1\r\n" + host + "\r\n", .methodInvalid),
    NastyRequest("NUL in method", "\u{0}GET / HTTP/1.1\r\n" + host + "\r\n", .methodInvalid),
    NastyRequest("NUL in target", "GET /a\u{0}b HTTP/1.1\r\n" + host + "\r\n", .targetInvalid),
    NastyRequest("TAB in target", "GET /a\tb HTTP/1.1\r\n" + host + "\r\n", .targetInvalid),
    NastyRequest("fragment in target", "GET /a#b HTTP/1.1\r\n" + host + "\r\n", .targetInvalid),
    NastyRequest("non-ASCII target", "GET /核验 HTTP/1.1\r\n" + host + "\r\n", .targetInvalid),
    NastyRequest("absolute-form", "GET http://h/v1/catalog HTTP/1.1\r\n" + host + "\r\n", .targetForm),
    NastyRequest("authority-form", "CONNECT h:443 HTTP/1.1\r\n" + host + "\r\n", .targetForm),
    NastyRequest("asterisk for GET", "GET * HTTP/1.1\r\n" + host + "\r\n", .targetForm),
    NastyRequest("HTTP/2.0", "GET / HTTP/2.0\r\n" + host + "\r\n", .versionUnsupported),
    NastyRequest("HTTP/0.9 version", "GET / HTTP/0.9\r\n" + host + "\r\n", .versionUnsupported),
    NastyRequest("HTTP/1", "GET / HTTP/1\r\n" + host + "\r\n", .versionInvalid),
    NastyRequest("HTTP/1.10", "GET / HTTP/1.10\r\n" + host + "\r\n", .versionInvalid),
    NastyRequest("lowercase version", "GET / http/1.1\r\n" + host + "\r\n", .versionInvalid),
    NastyRequest("too many empty lines", "\r\n\r\n\r\n\r\n\r\n" + get + host + "\r\n", .tooManyEmptyLines),
    NastyRequest("bare LF empty line before request", "\n" + get + host + "\r\n", .bareLF),
    NastyRequest(
        "request line over 8 KiB", "GET /" + String(repeating: "a", count: 9000) + " HTTP/1.1\r\n" + host + "\r\n",
        .requestLineTooLong),

    // Line endings and field lines.
    NastyRequest("bare LF after request line", "GET / HTTP/1.1\n" + host + "\r\n", .bareLF),
    NastyRequest("bare LF after field", get + "Host: h\n\r\n", .bareLF),
    NastyRequest("bare LF as final empty line", get + host + "\n", .bareLF),
    NastyRequest("bare CR after request line", "GET / HTTP/1.1\r" + host + "\r\n", .bareCR),
    NastyRequest("bare CR inside field value", get + "Host: h\rX: y\r\n\r\n", .bareCR),
    NastyRequest("obs-fold", get + host + "X: a\r\n b\r\n\r\n", .obsFold),
    NastyRequest("first field starts with space", get + " Host: h\r\n\r\n", .obsFold),
    NastyRequest("field without colon", get + host + "Foo\r\n\r\n", .fieldMissingColon),
    NastyRequest("space before colon", get + "Host : h\r\n\r\n", .fieldNameWhitespace),
    NastyRequest("tab before colon", get + host + "X\t: y\r\n\r\n", .fieldNameWhitespace),
    NastyRequest("empty field name", get + host + ": y\r\n\r\n", .fieldNameInvalid),
    NastyRequest("NUL in field name", get + host + "X\u{0}Y: z\r\n\r\n", .fieldNameInvalid),
    NastyRequest("NUL in field value", get + host + "X: a\u{0}b\r\n\r\n", .fieldValueInvalid),
    NastyRequest("DEL in field value", get + host + "X: a\u{7F}b\r\n\r\n", .fieldValueInvalid),
    NastyRequest("ESC in field value", get + host + "X: a\u{1B}b\r\n\r\n", .fieldValueInvalid),
    NastyRequest(
        "header section over 16 KiB", get + host + "X: " + String(repeating: "v", count: 16_400) + "\r\n\r\n",
        .headerTooLarge),
    NastyRequest(
        "101 fields", get + host + (1...100).map { "X-\($0): v\r\n" }.joined() + "\r\n", .tooManyFields),

    // Host.
    NastyRequest("missing Host", get + "Accept: */*\r\n\r\n", .hostMissing),
    NastyRequest("two Hosts", get + host + "Host: other\r\n\r\n", .hostDuplicate),
    NastyRequest("two Hosts in HTTP/1.0", "GET / HTTP/1.0\r\nHost: a\r\nhost: b\r\n\r\n", .hostDuplicate),

    // Content-Length.
    NastyRequest(
        "two equal Content-Length", post + "Content-Length: 5\r\nContent-Length: 5\r\n\r\nhello",
        .contentLengthDuplicate),
    NastyRequest(
        "conflicting Content-Length", post + "Content-Length: 5\r\ncontent-length: 6\r\n\r\nhello!",
        .contentLengthDuplicate),
    NastyRequest("Content-Length list", post + "Content-Length: 5, 5\r\n\r\nhello", .contentLengthInvalid),
    NastyRequest("negative Content-Length", post + "Content-Length: -1\r\n\r\n", .contentLengthInvalid),
    NastyRequest("signed Content-Length", post + "Content-Length: +5\r\n\r\nhello", .contentLengthInvalid),
    NastyRequest("space inside Content-Length", post + "Content-Length: 1 5\r\n\r\nhello", .contentLengthInvalid),
    NastyRequest("hex Content-Length", post + "Content-Length: 0x10\r\n\r\n", .contentLengthInvalid),
    NastyRequest("exponent Content-Length", post + "Content-Length: 1e3\r\n\r\n", .contentLengthInvalid),
    NastyRequest("empty Content-Length", post + "Content-Length:\r\n\r\n", .contentLengthInvalid),
    NastyRequest(
        "overflowing Content-Length", post + "Content-Length: 99999999999999999999999\r\n\r\n", .contentLengthInvalid),
    NastyRequest("Content-Length over 1 MiB", post + "Content-Length: 1048577\r\n\r\n", .bodyTooLarge),

    // Transfer-Encoding and smuggling shapes.
    NastyRequest(
        "CL.TE", post + "Content-Length: 6\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nX",
        .transferEncodingWithContentLength),
    NastyRequest(
        "TE.CL", post + "Transfer-Encoding: chunked\r\nContent-Length: 6\r\n\r\n0\r\n\r\nX",
        .transferEncodingWithContentLength),
    NastyRequest("TE gzip", post + "Transfer-Encoding: gzip\r\n\r\n", .transferEncodingUnsupported),
    NastyRequest(
        "TE gzip, chunked", post + "Transfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n", .transferEncodingUnsupported),
    NastyRequest("TE xchunked", post + "Transfer-Encoding: xchunked\r\n\r\n", .transferEncodingUnsupported),
    NastyRequest("TE identity", post + "Transfer-Encoding: identity\r\n\r\n", .transferEncodingUnsupported),
    NastyRequest(
        "TE chunked, identity", post + "Transfer-Encoding: chunked, identity\r\n\r\n", .transferEncodingInvalid),
    NastyRequest(
        "TE chunked twice", post + "Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n",
        .transferEncodingInvalid),
    NastyRequest("TE empty element", post + "Transfer-Encoding: chunked,\r\n\r\n", .transferEncodingInvalid),
    NastyRequest("TE empty value", post + "Transfer-Encoding:\r\n\r\n", .transferEncodingInvalid),
    NastyRequest(
        "TE in HTTP/1.0", "POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", .transferEncodingInHTTP10),
    NastyRequest("TE with space before colon", post + "Transfer-Encoding : chunked\r\n\r\n", .fieldNameWhitespace),
    NastyRequest("TE as obs-fold continuation", post + "X: y\r\n Transfer-Encoding: chunked\r\n\r\n", .obsFold),
    NastyRequest("TE value folded", post + "Transfer-Encoding:\r\n chunked\r\n\r\n", .obsFold),
    NastyRequest("TE with vertical tab", post + "Transfer-Encoding: \u{0B}chunked\r\n\r\n", .fieldValueInvalid),

    // Chunked framing.
    NastyRequest("chunk size -1", post + "Transfer-Encoding: chunked\r\n\r\n-1\r\n\r\n", .chunkSizeInvalid),
    NastyRequest("chunk size 0x10", post + "Transfer-Encoding: chunked\r\n\r\n0x10\r\n", .chunkSizeInvalid),
    NastyRequest(
        "chunk size with leading space", post + "Transfer-Encoding: chunked\r\n\r\n 5\r\nhello\r\n0\r\n\r\n",
        .chunkSizeInvalid),
    NastyRequest("empty chunk size", post + "Transfer-Encoding: chunked\r\n\r\n\r\n", .chunkSizeInvalid),
    NastyRequest(
        "overflowing chunk size", post + "Transfer-Encoding: chunked\r\n\r\nFFFFFFFFFFFFFFFFFF\r\n", .chunkSizeInvalid),
    NastyRequest("huge chunk size", post + "Transfer-Encoding: chunked\r\n\r\nFFFFFFFF\r\n", .bodyTooLarge),
    NastyRequest(
        "chunk data without CRLF", post + "Transfer-Encoding: chunked\r\n\r\n5\r\nhelloX\r\n0\r\n\r\n",
        .chunkMissingCRLF),
    NastyRequest(
        "chunk data with bare LF", post + "Transfer-Encoding: chunked\r\n\r\n5\r\nhello\n0\r\n\r\n", .chunkMissingCRLF),
    NastyRequest("chunk size line with bare LF", post + "Transfer-Encoding: chunked\r\n\r\n5\nhello\r\n", .bareLF),
    NastyRequest(
        "chunk extension with NUL", post + "Transfer-Encoding: chunked\r\n\r\n5;a=\u{0}\r\nhello\r\n",
        .chunkExtensionInvalid),
    NastyRequest(
        "chunk line over 1 KiB",
        post + "Transfer-Encoding: chunked\r\n\r\n5;" + String(repeating: "e", count: 1100) + "\r\n",
        .chunkLineTooLong),
    NastyRequest("obs-fold in trailer", post + "Transfer-Encoding: chunked\r\n\r\n0\r\nX: a\r\n b\r\n\r\n", .obsFold),
    NastyRequest(
        "trailer without colon", post + "Transfer-Encoding: chunked\r\n\r\n0\r\nbogus\r\n\r\n", .fieldMissingColon),
    NastyRequest(
        "101 trailer fields",
        post + "Transfer-Encoding: chunked\r\n\r\n0\r\n" + (0...100).map { "T\($0): v\r\n" }.joined() + "\r\n",
        .tooManyTrailerFields),

    // Expect.
    NastyRequest("Expect: foo", post + "Expect: foo\r\nContent-Length: 1\r\n\r\nx", .expectationUnsupported),
    NastyRequest(
        "Expect with an extra expectation", post + "Expect: 100-continue, foo\r\nContent-Length: 1\r\n\r\nx",
        .expectationUnsupported),
    NastyRequest("empty Expect", get + host + "Expect:\r\n\r\n", .expectationUnsupported),
]

@Suite("HTTP request parser: refused requests")
struct HTTPRequestParserCorpusTests {
    @Test func corpusIsLargeAndNamesAreUnique() {
        #expect(nastyRequests.count >= 40)
        #expect(Set(nastyRequests.map(\.name)).count == nastyRequests.count)
    }

    @Test(arguments: nastyRequests)
    func refused(_ nasty: NastyRequest) {
        let events = ParserVerifier.verify(nasty.input, splits: 50)
        #expect(events == [.error(nasty.expected)])
    }

    /// Every status and code the parser can produce maps to a problem with that status.
    @Test(arguments: nastyRequests)
    func problemForRefusal(_ nasty: NastyRequest) {
        let problem = Problem.from(nasty.expected)
        #expect(problem.status == nasty.expected.status)
        #expect(problem.extraValue("code") == .string(nasty.expected.code))
        #expect(problem.type.hasPrefix(Problem.typeBase))
    }
}

@Suite("HTTP request parser: fuzz")
struct HTTPRequestParserFuzzTests {
    /// Pieces that make random inputs look like HTTP often enough to reach the deep states.
    static let fragments: [[UInt8]] = [
        "GET", "POST", "OPTIONS", " ", "  ", "/", "/v1/catalog", "?a=1", "*", "HTTP/1.1", "HTTP/1.0", "HTTP/2.0",
        "\r\n", "\r", "\n", "Host: h", "Content-Length: ", "Transfer-Encoding: chunked", "Expect: 100-continue",
        "Connection: close", ":", "0", "5", "1F", ";ext", "hello", "\t", "\u{0}", "\u{7F}", "核",
    ].map { Array($0.utf8) }

    static func randomInput(using generator: inout SplitMix64) -> [UInt8] {
        switch Int.random(in: 0..<3, using: &generator) {
        case 0:  // raw random bytes
            return (0..<Int.random(in: 0...200, using: &generator)).map { _ in
                UInt8.random(in: 0...255, using: &generator)
            }
        case 1:  // HTTP-ish fragments
            var input: [UInt8] = []
            for _ in 0..<Int.random(in: 1...40, using: &generator) {
                input += fragments.randomElement(using: &generator)!
            }
            return input
        default:  // a valid request, mutated
            var input = Array(
                "POST /v1/x?y=1 HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\nT: v\r\n\r\n"
                    .utf8)
            for _ in 0..<Int.random(in: 1...4, using: &generator) {
                let position = Int.random(in: 0..<input.count, using: &generator)
                switch Int.random(in: 0..<3, using: &generator) {
                case 0: input[position] = UInt8.random(in: 0...255, using: &generator)
                case 1: input.insert(contentsOf: fragments.randomElement(using: &generator)!, at: position)
                default:
                    input.removeSubrange(
                        position..<min(input.count, position + Int.random(in: 1...8, using: &generator)))
                }
                if input.isEmpty { break }
            }
            return input
        }
    }

    /// True when `input` contains the request line `request` claims to come from.
    static func containsRequestLine(_ input: [UInt8], of request: HTTPRequest) -> Bool {
        let version = request.version == .http1_1 ? "HTTP/1.1" : "HTTP/1.0"
        let line = Array("\(request.method) \(request.target) \(version)\r\n".utf8)
        guard input.count >= line.count else { return false }
        return (0...(input.count - line.count)).contains { start in
            input[start..<start + line.count].elementsEqual(line)
        }
    }

    @Test func randomInputsNeverCrashNorInventRequests() {
        var generator = SplitMix64(seed: 20_240_601)
        var requestsSeen = 0
        var errorsSeen = 0
        for _ in 0..<10_000 {
            let input = Self.randomInput(using: &generator)
            let whole = ParserVerifier.events(input, pieces: input.isEmpty ? [] : [input.count], limits: .init())
            let pieces = ParserVerifier.randomPieces(count: input.count, using: &generator)
            let split = ParserVerifier.events(input, pieces: pieces, limits: .init())
            #expect(split == whole, "input \(input) split \(pieces)")
            for event in whole {
                switch event {
                case .request(let request):
                    requestsSeen += 1
                    #expect(ASCII.isToken(request.method.utf8))
                    #expect(request.target.hasPrefix("/") || (request.target == "*" && request.method == "OPTIONS"))
                    #expect(Self.containsRequestLine(input, of: request), "request invented from \(input)")
                case .error(let error):
                    errorsSeen += 1
                    #expect([400, 413, 414, 417, 431, 501, 505].contains(error.status))
                case .continueExpected:
                    break
                }
            }
            if whole.contains(where: { if case .error = $0 { true } else { false } }) {
                #expect(whole.last.map { if case .error = $0 { true } else { false } } == true, "error is last")
            }
        }
        // The generator must reach both outcomes, or this test proves nothing.
        #expect(requestsSeen > 100)
        #expect(errorsSeen > 1000)
    }

    @Test func rawRandomBytesNeverYieldARequest() {
        var generator = SplitMix64(seed: 42)
        for _ in 0..<2_000 {
            let input = (0..<Int.random(in: 1...300, using: &generator)).map { _ in
                UInt8.random(in: 0...255, using: &generator)
            }
            var parser = HTTPRequestParser()
            parser.append(input)
            while let event = parser.next() {
                if case .request = event { Issue.record("request from random bytes \(input)") }
            }
        }
    }
}
