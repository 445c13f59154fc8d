import HeyanTestSupport
import Testing
@testable import HeyanBench

@Suite struct HTTPResponseReaderTests {
    /// Feeds `bytes` in the given pieces, as a connection's reads would, and returns every
    /// response (status, body) found, in order.
    static func responses(_ bytes: [UInt8], splits: [Int]) -> ([(Int, String, Bool)], String?) {
        var buffer: [UInt8] = []
        var reader = HTTPResponseReader()
        var found: [(Int, String, Bool)] = []
        var offset = 0
        var pieces = splits
        while offset < bytes.count {
            let size = pieces.isEmpty ? bytes.count - offset : min(pieces.removeFirst(), bytes.count - offset)
            buffer += bytes[offset..<(offset + size)]
            offset += size
            while !buffer.isEmpty {
                let progress = buffer.withUnsafeMutableBytes { reader.parse($0) }
                switch progress {
                case .needMore:
                    break
                case .invalid(let reason):
                    return (found, reason)
                case .complete(let response):
                    found.append((response.status, String(decoding: buffer[response.body], as: UTF8.self), response.close))
                    buffer.removeFirst(response.consumed)
                    reader.reset()
                    continue
                }
                break
            }
        }
        return (found, buffer.isEmpty ? nil : "incomplete")
    }

    static let sample = Array(
        ("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 15\r\n\r\n{\"status\":\"ok\"}"
            + "HTTP/1.1 100 Continue\r\n\r\n"
            + "HTTP/1.1 201 Created\r\ntransfer-encoding: chunked\r\n\r\n5;ext=1\r\nhello\r\n6\r\n world\r\n0\r\nX-Trailer: 1\r\n\r\n"
            + "HTTP/1.1 204 No Content\r\n\r\n"
            + "HTTP/1.1 503 Service Unavailable\r\nconnection: close\r\ncontent-length: 3\r\n\r\nbye").utf8)

    static func check(_ result: ([(Int, String, Bool)], String?)) {
        #expect(result.1 == nil)
        #expect(result.0.map(\.0) == [200, 100, 201, 204, 503])
        #expect(result.0.map(\.1) == ["{\"status\":\"ok\"}", "", "hello world", "", "bye"])
        #expect(result.0.map(\.2) == [false, false, false, false, true])
    }

    @Test func wholeInput() { Self.check(Self.responses(Self.sample, splits: [])) }

    @Test func byteByByte() { Self.check(Self.responses(Self.sample, splits: Array(repeating: 1, count: Self.sample.count))) }

    @Test func randomSplits() {
        var random = SplitMix64(seed: 0x5EED)
        for _ in 0..<200 {
            var splits: [Int] = []
            var total = 0
            while total < Self.sample.count {
                let size = Int(random.next() % 40) + 1
                splits.append(size)
                total += size
            }
            Self.check(Self.responses(Self.sample, splits: splits))
        }
    }

    @Test(arguments: [
        "HTTP/1.1 200 OK\r\nContent-Length: -5\r\n\r\n",
        "HTTP/1.1 200 OK\r\nContent-Length: +5\r\n\r\n",
        "HTTP/1.1 200 OK\r\nContent-Length: 99999999999999999999\r\n\r\n",
        "HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
        "HTTP/1.1 200 OK\r\n\r\n",
        "HTTP/1.1 2x0 OK\r\nContent-Length: 0\r\n\r\n",
        "HTTX/1.1 200 OK\r\nContent-Length: 0\r\n\r\n",
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n",
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabcX\r\n",
        "HTTP/1.1 200 OK\r\n: nameless\r\nContent-Length: 0\r\n\r\n",
    ])
    func malformedResponsesAreRejected(_ text: String) {
        let result = Self.responses(Array(text.utf8), splits: [])
        #expect(result.0.isEmpty)
        #expect(result.1 != nil && result.1 != "incomplete", "\(text.debugDescription) → \(result.1 ?? "accepted")")
    }

    @Test func incompleteBodyWaits() {
        let result = Self.responses(Array("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n12345".utf8), splits: [])
        #expect(result.0.isEmpty)
        #expect(result.1 == "incomplete")
    }

    @Test func jsonStringValueFindsIdentifiers() {
        let body = Array(#"{"items":[{"id":"qi_01ABC","kind":"verification","verification":{"id":"ver_9"},"leaseToken":"tok-1"}]}"#.utf8)
        body.withUnsafeBytes { raw in
            #expect(jsonStringValue(in: raw, after: "\"id\":\"", prefix: "qi_").map { String(decoding: $0, as: UTF8.self) } == "qi_01ABC")
            #expect(jsonStringValue(in: raw, after: "\"leaseToken\":\"").map { String(decoding: $0, as: UTF8.self) } == "tok-1")
            #expect(jsonStringValue(in: raw, after: "\"id\":\"", prefix: "att_") == nil)
        }
        Array(#"{"items":[]}"#.utf8).withUnsafeBytes { raw in
            #expect(jsonStringValue(in: raw, after: "\"id\":\"", prefix: "qi_") == nil)
        }
    }
}
