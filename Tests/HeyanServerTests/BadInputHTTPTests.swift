import HeyanHTTP
import HeyanTestSupport
import Testing

/// One malformed request, sent raw over an mTLS connection of a known department.
struct RawHTTPCase: Sendable {
    let name: String
    let bytes: [UInt8]
    let status: Int
    /// The HTTP layer refuses (and closes: framing is lost); otherwise the service answers the
    /// department (audited as `request.refused`) and the connection stays open.
    let closes: Bool

    init(_ name: String, _ text: String, _ status: Int, closes: Bool = true) {
        self.name = name
        self.bytes = Array(text.utf8)
        self.status = status
        self.closes = closes
    }
}

private let host = "Host: heyan\r\n"
private let get = "GET /v1/catalog HTTP/1.1\r\n"
private let post = "POST /v1/verifications HTTP/1.1\r\n" + host + "Content-Type: application/json\r\n"
private let smuggled = "GET /v1/audit HTTP/1.1\r\nHost: heyan\r\n\r\n"
private let chunked = post + "Transfer-Encoding: chunked\r\n\r\n"

let badHTTPRequests: [RawHTTPCase] = [
    // Request line.
    RawHTTPCase("HTTP/0.9 request line", "GET /v1/catalog\r\n\r\n", 400),
    RawHTTPCase("two spaces before target", "GET  /v1/catalog HTTP/1.1\r\n" + host + "\r\n", 400),
    RawHTTPCase("trailing space after version", "GET /v1/catalog HTTP/1.1 \r\n" + host + "\r\n", 400),
    RawHTTPCase("space inside target", "GET /v1/cat alog HTTP/1.1\r\n" + host + "\r\n", 400),
    RawHTTPCase("leading space before method", " GET /v1/catalog HTTP/1.1\r\n" + host + "\r\n", 400),
    RawHTTPCase("method not a token", "G(T /v1/catalog HTTP/1.1\r\n" + host + "\r\n", 400),
    RawHTTPCase("NUL in method", "GE\u{0}T /v1/catalog HTTP/1.1\r\n" + host + "\r\n", 400),
    RawHTTPCase("NUL in target", "GET /v1/cat\u{0}alog HTTP/1.1\r\n" + host + "\r\n", 400),
    RawHTTPCase("non-ASCII target", "GET /v1/核验 HTTP/1.1\r\n" + host + "\r\n", 400),
    RawHTTPCase("fragment in target", "GET /v1/catalog#x HTTP/1.1\r\n" + host + "\r\n", 400),
    RawHTTPCase("absolute-form target", "GET https://heyan/v1/catalog HTTP/1.1\r\n" + host + "\r\n", 400),
    RawHTTPCase("CONNECT authority-form", "CONNECT heyan:443 HTTP/1.1\r\n" + host + "\r\n", 400),
    RawHTTPCase("HTTP/2.0", "GET /v1/catalog HTTP/2.0\r\n" + host + "\r\n", 505),
    RawHTTPCase("HTTP/0.9 version", "GET /v1/catalog HTTP/0.9\r\n" + host + "\r\n", 505),
    RawHTTPCase("HTTP/1.10", "GET /v1/catalog HTTP/1.10\r\n" + host + "\r\n", 400),
    RawHTTPCase("lowercase version", "GET /v1/catalog http/1.1\r\n" + host + "\r\n", 400),
    RawHTTPCase("too many empty lines", "\r\n\r\n\r\n\r\n\r\n" + get + host + "\r\n", 400),
    RawHTTPCase(
        "request line over 8 KiB", "GET /v1/catalog/" + String(repeating: "A", count: 9000) + " HTTP/1.1\r\n" + host + "\r\n",
        414),

    // Line endings and field lines.
    RawHTTPCase("bare LF after request line", "GET /v1/catalog HTTP/1.1\n" + host + "\r\n", 400),
    RawHTTPCase("bare LF after field", get + "Host: heyan\n\r\n", 400),
    RawHTTPCase("bare LF as final empty line", get + host + "\n", 400),
    RawHTTPCase("bare CR inside a field", get + "Host: heyan\rX: y\r\n\r\n", 400),
    RawHTTPCase("obs-fold", get + host + "X-Note: a\r\n b\r\n\r\n", 400),
    RawHTTPCase("field without colon", get + host + "Idempotency-Key\r\n\r\n", 400),
    RawHTTPCase("space before colon", get + "Host : heyan\r\n\r\n", 400),
    RawHTTPCase("NUL in field name", get + host + "X\u{0}Y: z\r\n\r\n", 400),
    RawHTTPCase("NUL in field value", get + host + "Idempotency-Key: a\u{0}b\r\n\r\n", 400),
    RawHTTPCase("DEL in field value", get + host + "X: a\u{7F}b\r\n\r\n", 400),
    RawHTTPCase("header section over 16 KiB", get + host + "X: " + String(repeating: "v", count: 16_400) + "\r\n\r\n", 431),
    RawHTTPCase("101 header fields", get + host + (1...100).map { "X-\($0): v\r\n" }.joined() + "\r\n", 431),
    RawHTTPCase("missing Host", get + "Accept: */*\r\n\r\n", 400),
    RawHTTPCase("two Hosts", get + host + "Host: other\r\n\r\n", 400),

    // Content-Length.
    RawHTTPCase("conflicting Content-Length", post + "Content-Length: 2\r\nContent-Length: 3\r\n\r\n{} ", 400),
    RawHTTPCase("equal Content-Length twice", post + "Content-Length: 2\r\nContent-Length: 2\r\n\r\n{}", 400),
    RawHTTPCase("Content-Length list", post + "Content-Length: 2, 2\r\n\r\n{}", 400),
    RawHTTPCase("negative Content-Length", post + "Content-Length: -1\r\n\r\n", 400),
    RawHTTPCase("signed Content-Length", post + "Content-Length: +2\r\n\r\n{}", 400),
    RawHTTPCase("hex Content-Length", post + "Content-Length: 0x2\r\n\r\n{}", 400),
    RawHTTPCase("overflowing Content-Length", post + "Content-Length: 184467440737095516160\r\n\r\n", 400),
    RawHTTPCase("Content-Length over 1 MiB", post + "Content-Length: 1048577\r\n\r\n", 413),
    RawHTTPCase(
        "records:batch Content-Length over 16 MiB",
        "POST /v1/records:batch HTTP/1.1\r\n" + host + "Content-Length: 16777217\r\n\r\n", 413),

    // Transfer-Encoding and smuggling shapes.
    RawHTTPCase("CL.TE", post + "Content-Length: 6\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nG", 400),
    RawHTTPCase("TE.CL", post + "Transfer-Encoding: chunked\r\nContent-Length: 6\r\n\r\n0\r\n\r\nG", 400),
    RawHTTPCase("TE gzip", post + "Transfer-Encoding: gzip\r\n\r\n", 501),
    RawHTTPCase("TE xchunked", post + "Transfer-Encoding: xchunked\r\n\r\n", 501),
    RawHTTPCase("TE chunked, identity", post + "Transfer-Encoding: chunked, identity\r\n\r\n", 400),
    RawHTTPCase("TE chunked twice", post + "Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n", 400),
    RawHTTPCase("TE in HTTP/1.0", "POST /v1/verifications HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400),
    RawHTTPCase("TE hidden in obs-fold", post + "X: y\r\n Transfer-Encoding: chunked\r\n\r\n", 400),
    RawHTTPCase("TE with space before colon", post + "Transfer-Encoding : chunked\r\n\r\n", 400),
    RawHTTPCase("TE with vertical tab", post + "Transfer-Encoding: \u{0B}chunked\r\n\r\n", 400),

    // Chunked framing.
    RawHTTPCase("chunk size -1", chunked + "-1\r\n\r\n", 400),
    RawHTTPCase("chunk size 0x10", chunked + "0x10\r\n", 400),
    RawHTTPCase("empty chunk size", chunked + "\r\n", 400),
    RawHTTPCase("overflowing chunk size", chunked + "FFFFFFFFFFFFFFFFFF\r\n", 400),
    RawHTTPCase("chunk size over 1 MiB", chunked + "100001\r\n", 413),
    RawHTTPCase("chunk data without CRLF", chunked + "2\r\n{}X\r\n0\r\n\r\n", 400),
    RawHTTPCase("chunk extension with NUL", chunked + "2;a=\u{0}\r\n{}\r\n0\r\n\r\n", 400),
    RawHTTPCase("101 trailer fields", chunked + "0\r\n" + (0...100).map { "T\($0): v\r\n" }.joined() + "\r\n", 431),

    // Expect.
    RawHTTPCase("Expect: foo", post + "Expect: foo\r\nContent-Length: 2\r\n\r\n{}", 417),

    // Well framed, but no such method or route: the service answers and the connection stays.
    RawHTTPCase("unknown method on a route", "BREW /v1/catalog HTTP/1.1\r\n" + host + "\r\n", 405, closes: false),
    RawHTTPCase("DELETE on the catalog", "DELETE /v1/catalog HTTP/1.1\r\n" + host + "\r\n", 405, closes: false),
    RawHTTPCase("TRACE", "TRACE /healthz HTTP/1.1\r\n" + host + "\r\n", 405, closes: false),
    RawHTTPCase("OPTIONS *", "OPTIONS * HTTP/1.1\r\n" + host + "\r\n", 404, closes: false),
    RawHTTPCase("unknown version prefix", "GET /v2/catalog HTTP/1.1\r\n" + host + "\r\n", 404, closes: false),
    RawHTTPCase("dot segments", "GET /v1/../v1/audit HTTP/1.1\r\n" + host + "\r\n", 404, closes: false),
    RawHTTPCase("encoded NUL in a path parameter", "GET /v1/catalog/%00 HTTP/1.1\r\n" + host + "\r\n", 404, closes: false),
    RawHTTPCase(
        "request smuggled in a body",
        post + "Content-Length: \(smuggled.utf8.count)\r\n\r\n" + smuggled, 400, closes: false),
]

extension BadInputMatrix {
    @Suite(.serialized) struct BadInputHTTPTests {
        @Test func malformedRequestsGetTheirExactStatusAndChangeNothing() throws {
            let fixture = try BadInputFixture(limits: #""requestTimeoutSeconds": 1"#)
            try fixture.whileProbingHealth("HTTP") {
                for nasty in badHTTPRequests {
                    try fixture.expectNothingChanged(nasty.name, refusals: nasty.closes ? 0 : 1) {
                        let connection = try fixture.service.connect("housing-fund")
                        let response = try connection.exchangeRaw(nasty.bytes)
                        #expect(response.status == nasty.status, "\(nasty.name): \(response.status) \(response.bodyText)")
                        #expect(response.headers["Content-Type"] == "application/problem+json", "\(nasty.name)")
                        if nasty.closes {
                            #expect(response.headers["Connection"]?.lowercased() == "close", "\(nasty.name)")
                            #expect(connection.isClosedByPeer(), "\(nasty.name): connection left open")
                        } else {
                            // Framing is intact: the next request on the same connection is answered.
                            #expect(try connection.request("GET", "/healthz").status == 200, "\(nasty.name)")
                        }
                    }
                }
                // A valid request followed by garbage: the first is answered, the garbage refused.
                try fixture.expectNothingChanged("valid request then garbage", refusals: 0) {
                    let connection = try fixture.service.connect("housing-fund")
                    try connection.send("GET /healthz HTTP/1.1\r\n" + host + "\r\n" + "\u{1}\u{2}garbage\r\n\r\n")
                    #expect(try connection.readResponse().status == 200)
                    #expect(try connection.readResponse().status == 400)
                    #expect(connection.isClosedByPeer())
                }
                // A body shorter than its Content-Length: the request times out with 408.
                try fixture.expectNothingChanged("body shorter than Content-Length", refusals: 0) {
                    let connection = try fixture.service.connect("housing-fund")
                    try connection.send(post + "Content-Length: 100\r\n\r\n{\"certificateType\":")
                    #expect(try connection.readResponse().status == 408)
                    #expect(connection.isClosedByPeer())
                }
            }
            #expect(badHTTPRequests.count >= 40)
            #expect(fixture.cases >= 60)
        }
    }
}
