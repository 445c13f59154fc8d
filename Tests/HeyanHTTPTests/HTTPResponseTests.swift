import Foundation
import HeyanTestSupport
import Testing

@testable import HeyanHTTP

private let date = "Sun, 06 Nov 1994 08:49:37 GMT"

private func text(_ bytes: [UInt8]) -> String {
    String(decoding: bytes, as: UTF8.self)
}

@Suite("HTTP response serialization")
struct HTTPResponseTests {
    @Test func jsonKeepAlive() {
        let bytes = HTTPResponse.json(200, Array("{}".utf8)).serialized(keepAlive: true, date: date)
        #expect(
            text(bytes)
                == "HTTP/1.1 200 OK\r\nDate: Sun, 06 Nov 1994 08:49:37 GMT\r\nContent-Type: application/json\r\n"
                + "Content-Length: 2\r\n\r\n{}")
    }

    @Test func textCloseWithoutDate() {
        let bytes = HTTPResponse.text(503, "draining").serialized(keepAlive: false, date: nil)
        #expect(
            text(bytes)
                == "HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/plain; charset=utf-8\r\n"
                + "Content-Length: 8\r\nConnection: close\r\n\r\ndraining")
    }

    @Test func appendsToExistingBuffer() {
        var buffer = Array("previous".utf8)
        HTTPResponse(status: 201, body: [1, 2, 3]).serialize(into: &buffer, keepAlive: true, date: nil)
        #expect(buffer == Array("previousHTTP/1.1 201 Created\r\nContent-Length: 3\r\n\r\n".utf8) + [1, 2, 3])
    }

    @Test func framingHeadersFromCallersAreNotWritten() {
        let response = HTTPResponse(
            status: 200,
            headers: [
                "Content-Length": "999", "transfer-encoding": "chunked", "Connection": "keep-alive", "Date": "old",
                "X-A": "1",
            ], body: Array("ok".utf8))
        #expect(
            text(response.serialized(keepAlive: false, date: date))
                == "HTTP/1.1 200 OK\r\nDate: \(date)\r\nX-A: 1\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok")
        #expect(
            text(response.serialized(keepAlive: true, date: nil))
                == "HTTP/1.1 200 OK\r\nConnection: keep-alive\r\nDate: old\r\nX-A: 1\r\nContent-Length: 2\r\n\r\nok")
    }

    @Test func headOnlyKeepsTheLengthButNotTheBody() {
        let bytes = HTTPResponse.json(200, Array("[1,2]".utf8)).serialized(keepAlive: true, date: nil, headOnly: true)
        #expect(text(bytes) == "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 5\r\n\r\n")
    }

    @Test func noContentAndNotModifiedHaveNoLengthNorBody() {
        #expect(
            text(HTTPResponse(status: 204, body: [1]).serialized(keepAlive: true, date: nil))
                == "HTTP/1.1 204 No Content\r\n\r\n")
        #expect(
            text(HTTPResponse(status: 304).serialized(keepAlive: false, date: nil))
                == "HTTP/1.1 304 Not Modified\r\nConnection: close\r\n\r\n")
        #expect(text(HTTPResponse.continueBytes) == "HTTP/1.1 100 Continue\r\n\r\n")
    }

    @Test func valuesCannotInjectHeaderLines() {
        let response = HTTPResponse(
            status: 302, headers: HTTPHeaders([("Location", "/a\r\nSet-Cookie: x=1"), ("Bad Name", "v")]))
        #expect(
            text(response.serialized(keepAlive: true, date: nil))
                == "HTTP/1.1 302 Found\r\nLocation: /a  Set-Cookie: x=1\r\nContent-Length: 0\r\n\r\n")
    }

    @Test func unregisteredStatusHasAnEmptyReason() {
        #expect(
            text(HTTPResponse(status: 599).serialized(keepAlive: true, date: nil))
                == "HTTP/1.1 599 \r\nContent-Length: 0\r\n\r\n")
        #expect(HTTPStatus.reason(422) == "Unprocessable Content")
        #expect(HTTPStatus.reason(431) == "Request Header Fields Too Large")
    }

    @Test func problemResponsesCarryTheirHeaders() {
        let notAllowed = HTTPResponse.problem(.methodNotAllowed(allowed: ["GET", "HEAD"]))
        #expect(notAllowed.status == 405)
        #expect(notAllowed.headers["Allow"] == "GET, HEAD")
        #expect(notAllowed.headers["Content-Type"] == "application/problem+json")
        let limited = HTTPResponse.problem(.tooManyRequests(retryAfter: 7))
        #expect(limited.headers["Retry-After"] == "7")
        #expect(HTTPResponse.problem(.serviceUnavailable(detail: "draining")).headers["Retry-After"] == nil)
        #expect(HTTPResponse.problem(.notFound()).headers.count == 1)
        #expect(HTTPResponse.problem(.notFound()).body == Problem.notFound().jsonBytes())
    }
}

@Suite("HTTP dates")
struct HTTPDateTests {
    @Test(arguments: [
        (Int64(784_111_777), "Sun, 06 Nov 1994 08:49:37 GMT"),
        (0, "Thu, 01 Jan 1970 00:00:00 GMT"),
        (-1, "Wed, 31 Dec 1969 23:59:59 GMT"),
        (951_782_400, "Tue, 29 Feb 2000 00:00:00 GMT"),
        (1_700_000_000, "Tue, 14 Nov 2023 22:13:20 GMT"),
        (4_107_542_399, "Sun, 28 Feb 2100 23:59:59 GMT"),
        (4_107_542_400, "Mon, 01 Mar 2100 00:00:00 GMT"),
        (253_402_300_799, "Fri, 31 Dec 9999 23:59:59 GMT"),
    ])
    func knownValues(seconds: Int64, expected: String) {
        #expect(HTTPDate.format(unixSeconds: seconds) == expected)
    }

    @Test func agreesWithFoundationOnRandomInstants() {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "GMT")
        formatter.dateFormat = "EEE, dd MMM yyyy HH:mm:ss 'GMT'"
        var generator = SplitMix64(seed: 1994)
        for _ in 0..<2_000 {
            let seconds = Int64.random(in: -2_000_000_000...8_000_000_000, using: &generator)
            let expected = formatter.string(from: Date(timeIntervalSince1970: TimeInterval(seconds)))
            #expect(HTTPDate.format(unixSeconds: seconds) == expected, "\(seconds)")
        }
    }
}

@Suite("HTTP headers and query values")
struct HTTPHeadersTests {
    @Test func caseInsensitiveLookupKeepsOrderAndDuplicates() {
        var headers = HTTPHeaders([("Accept", "a"), ("X-Id", "1"), ("accept", "b")])
        #expect(headers["ACCEPT"] == "a")
        #expect(headers.values("accept") == ["a", "b"])
        #expect(headers.count == 3)
        headers.replace("ACCEPT", "c")
        #expect(Array(headers).map(\.name) == ["ACCEPT", "X-Id"])
        #expect(headers.values("accept") == ["c"])
        headers.add("X-Id", "2")
        #expect(headers.values("x-id") == ["1", "2"])
        headers.remove("x-ID")
        #expect(!headers.contains("X-Id"))
        headers.replace("New", "n")
        #expect(Array(headers).map(\.value) == ["c", "n"])
        #expect(headers["Acceptx"] == nil)
    }

    @Test func queryValuesArePercentDecoded() {
        let request = HTTPRequest(
            method: "GET", target: "/v1/audit?subject=%E6%A0%B8+%E9%AA%8C&from=&flag&x=1&x=2&bad=%zz%4&a%3Db=c")
        #expect(request.path == "/v1/audit")
        #expect(request.queryValue("subject") == "核 验")
        #expect(request.queryValue("from") == "")
        #expect(request.queryValue("flag") == "")
        #expect(request.queryValue("x") == "1")
        #expect(request.queryValue("bad") == "%zz%4")
        #expect(request.queryValue("a=b") == "c")
        #expect(request.queryValue("missing") == nil)
        #expect(HTTPRequest(method: "GET", target: "/plain").queryValue("x") == nil)
        // Empty pairs are skipped; a name with `+` or `%` is compared decoded, one without as it is.
        let sparse = HTTPRequest(method: "GET", target: "/q?&&a+b=1&&c%41=2&&last")
        #expect(sparse.queryValue("a b") == "1")
        #expect(sparse.queryValue("a+b") == nil)
        #expect(sparse.queryValue("cA") == "2")
        #expect(sparse.queryValue("c%41") == nil)
        #expect(sparse.queryValue("last") == "")
        #expect(sparse.queryValue("") == nil)
    }

    @Test func requestInitializerDerivesKeepAlive() {
        #expect(HTTPRequest(method: "GET", target: "/").keepAlive)
        #expect(!HTTPRequest(method: "GET", target: "/", headers: ["Connection": "close"]).keepAlive)
        #expect(!HTTPRequest(method: "GET", target: "/", version: .http1_0).keepAlive)
    }
}
