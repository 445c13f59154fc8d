import HeyanHTTP
import HeyanTestSupport
import Testing

/// One bad JSON body for a route, with the exact status (400 syntax, 413 size, 415 media type,
/// 422 shape) and, for 422, a path that `errors` must name.
struct JSONBodyCase: Sendable {
    let name: String
    let method: String
    let target: String
    let body: [UInt8]
    let status: Int
    let path: String?
    let contentType: String

    init(
        _ name: String, _ body: [UInt8], _ status: Int, path: String? = nil, method: String = "POST",
        target: String = "/v1/verifications", contentType: String = "application/json"
    ) {
        self.name = name
        self.method = method
        self.target = target
        self.body = body
        self.status = status
        self.path = path
        self.contentType = contentType
    }

    init(
        _ name: String, _ text: String, _ status: Int, path: String? = nil, method: String = "POST",
        target: String = "/v1/verifications", contentType: String = "application/json"
    ) {
        self.init(name, Array(text.utf8), status, path: path, method: method, target: target, contentType: contentType)
    }
}

/// A valid verification body with `raw` (a JSON fragment) as the value of `purpose`.
private func withPurpose(_ raw: String) -> String {
    #"{"certificateType":"CIV-MARRIAGE","matterCode":"HF-WITHDRAW-001","purpose":"# + raw
        + #","subject":{"idType":"resident-id","id":"11010519491231002X","name":"张三"},"claims":{"maritalStatus":"married"}}"#
}

/// The same body with raw bytes as the purpose string's content.
private func withPurposeBytes(_ bytes: [UInt8]) -> [UInt8] {
    Array(#"{"certificateType":"CIV-MARRIAGE","matterCode":"HF-WITHDRAW-001","purpose":""#.utf8) + bytes
        + Array(#"","subject":{"idType":"resident-id","id":"11010519491231002X","name":"张三"},"claims":{"maritalStatus":"married"}}"#.utf8)
}

private let subject = #"{"idType":"resident-id","id":"11010519491231002X","name":"张三"}"#

let badJSONBodies: [JSONBodyCase] = [
    // Size and nesting.
    JSONBodyCase("100,000 nested arrays", String(repeating: "[", count: 100_000) + String(repeating: "]", count: 100_000), 400),
    JSONBodyCase("100,000 nested objects", String(repeating: #"{"a":"#, count: 100_000) + "1" + String(repeating: "}", count: 100_000), 400),
    JSONBodyCase("100,000 unclosed arrays", String(repeating: "[", count: 100_000), 400),
    JSONBodyCase("33 levels in claims", withPurpose(#""x""#).replacingOccurrences(
        of: #""married""#, with: String(repeating: "[", count: 33) + String(repeating: "]", count: 33)), 400),
    JSONBodyCase("a 1,000,000-byte purpose (under the 1 MiB body limit)", withPurpose("\"" + String(repeating: "a", count: 1_000_000) + "\""), 400),
    JSONBodyCase("a 65,536-byte purpose (under the string limit)", withPurpose("\"" + String(repeating: "a", count: 65_000) + "\""), 422, path: "purpose"),
    JSONBodyCase("a 1 MiB field name", "{\"" + String(repeating: "k", count: 1_000_000) + "\":1}", 400),

    // Encoding.
    JSONBodyCase("overlong '/'", withPurposeBytes([0xC0, 0xAF]), 400),
    JSONBodyCase("encoded surrogate", withPurposeBytes([0xED, 0xA0, 0x80]), 400),
    JSONBodyCase("truncated sequence", withPurposeBytes([0xE4, 0xB8]), 400),
    JSONBodyCase("stray continuation byte", withPurposeBytes([0x80]), 400),
    JSONBodyCase("byte 0xFF", withPurposeBytes([0xFF]), 400),
    JSONBodyCase("code point above U+10FFFF", withPurposeBytes([0xF4, 0x90, 0x80, 0x80]), 400),
    JSONBodyCase("byte order mark", [0xEF, 0xBB, 0xBF] + Array(withPurpose(#""x""#).utf8), 400),
    JSONBodyCase("UTF-16 body", Array(withPurpose(#""x""#).utf16.flatMap { [UInt8($0 & 0xFF), UInt8($0 >> 8)] }), 400),
    JSONBodyCase("raw control character in a string", withPurposeBytes([0x01]), 400),
    JSONBodyCase("lone surrogate escape", withPurpose(#""\ud800""#), 400),
    JSONBodyCase("bad escape", withPurpose(#""\x41""#), 400),

    // Duplicate names (refused, also through escapes).
    JSONBodyCase("duplicate purpose", withPurpose(#""a","purpose":"b""#), 400, path: "purpose"),
    JSONBodyCase("duplicate via escape", withPurpose(#""a","\u0070urpose":"b""#), 400),
    JSONBodyCase("duplicate in subject", withPurpose(#""a""#).replacingOccurrences(
        of: #""name":"张三""#, with: #""name":"张三","name":"李四""#), 400),
    JSONBodyCase("duplicate claim", withPurpose(#""a""#).replacingOccurrences(
        of: #""maritalStatus":"married""#, with: #""maritalStatus":"married","maritalStatus":"divorced""#), 400),

    // Numbers.
    JSONBodyCase("1e999", withPurpose("1e999"), 400),
    JSONBodyCase("-1e999", withPurpose("-1e999"), 400),
    JSONBodyCase("2^63", withPurpose("9223372036854775808"), 400),
    JSONBodyCase("-2^63-1", withPurpose("-9223372036854775809"), 400),
    JSONBodyCase("a 400-digit integer", withPurpose(String(repeating: "9", count: 400)), 400),
    JSONBodyCase("NaN", withPurpose("NaN"), 400),
    JSONBodyCase("Infinity", withPurpose("Infinity"), 400),
    JSONBodyCase("-Infinity", withPurpose("-Infinity"), 400),
    JSONBodyCase("leading zero", withPurpose("01"), 400),
    JSONBodyCase("leading plus", withPurpose("+1"), 400),
    JSONBodyCase("bare fraction", withPurpose(".5"), 400),
    JSONBodyCase("trailing dot", withPurpose("1."), 400),
    JSONBodyCase("hex number", withPurpose("0x10"), 400),
    JSONBodyCase("exponent without digits", withPurpose("1e"), 400),
    JSONBodyCase("-0 (a number where a string belongs)", withPurpose("-0"), 422, path: "purpose"),
    JSONBodyCase("1e-400 (underflow, read as 0)", withPurpose("1e-400"), 422, path: "purpose"),
    JSONBodyCase("2^63-1 (fits, wrong type)", withPurpose("9223372036854775807"), 422, path: "purpose"),

    // Wrong types.
    JSONBodyCase("purpose null", withPurpose("null"), 422, path: "purpose"),
    JSONBodyCase("purpose true", withPurpose("true"), 422, path: "purpose"),
    JSONBodyCase("purpose array", withPurpose(#"["a"]"#), 422, path: "purpose"),
    JSONBodyCase("subject a string", #"{"certificateType":"CIV-MARRIAGE","matterCode":"HF-WITHDRAW-001","purpose":"p","subject":"11010519491231002X","claims":{"maritalStatus":"married"}}"#, 422, path: "subject"),
    JSONBodyCase("claims an array", #"{"certificateType":"CIV-MARRIAGE","matterCode":"HF-WITHDRAW-001","purpose":"p","subject":\#(subject),"claims":["married"]}"#, 422, path: "claims"),
    JSONBodyCase("certificateType a number", #"{"certificateType":7,"matterCode":"HF-WITHDRAW-001","purpose":"p","subject":\#(subject),"claims":{"maritalStatus":"married"}}"#, 422, path: "certificateType"),
    JSONBodyCase("claim value of the wrong type", withPurpose(#""p""#).replacingOccurrences(of: #""married""#, with: "1"), 422, path: "claims.maritalStatus"),
    JSONBodyCase("top-level array", "[]", 400),
    JSONBodyCase("top-level string", #""verification""#, 400),
    JSONBodyCase("top-level null", "null", 400),

    // Unknown and missing fields.
    JSONBodyCase("misspelt field", withPurpose(#""p""#).replacingOccurrences(of: #""purpose""#, with: #""purpse""#), 422, path: "purpse"),
    JSONBodyCase("extra top-level field", withPurpose(#""p","admin":true"#), 422, path: "admin"),
    JSONBodyCase("extra subject field", withPurpose(#""p""#).replacingOccurrences(of: #""name":"张三""#, with: #""name":"张三","birth":"1949""#), 422, path: "subject.birth"),
    JSONBodyCase("empty object", "{}", 422, path: "certificateType"),

    // Framing of the document.
    JSONBodyCase("empty body", "", 400),
    JSONBodyCase("whitespace only", " \r\n\t", 400),
    JSONBodyCase("trailing garbage", withPurpose(#""p""#) + "x", 400),
    JSONBodyCase("two documents", withPurpose(#""p""#) + "{}", 400),
    JSONBodyCase("trailing comma", withPurpose(#""p","#), 400),
    JSONBodyCase("single quotes", "{'certificateType':'CIV-MARRIAGE'}", 400),
    JSONBodyCase("comment", "/* hi */" + withPurpose(#""p""#), 400),
    JSONBodyCase("unterminated string", withPurpose(#""p"#), 400),

    // Media type.
    JSONBodyCase("text/plain", withPurpose(#""p""#), 415, contentType: "text/plain"),
    JSONBodyCase("form encoded", "certificateType=CIV-MARRIAGE", 415, contentType: "application/x-www-form-urlencoded"),
    JSONBodyCase("XML", "<verification/>", 415, contentType: "application/xml"),

    // The same parser on every other body.
    JSONBodyCase("answer: 100,000 nested arrays", String(repeating: "[", count: 100_000), 400, target: "/v1/queue/{item}/answer"),
    JSONBodyCase("revoke: duplicate reason", #"{"reason":"a","reason":"b"}"#, 400, target: "/v1/attestations/{attestation}/revoke"),
    JSONBodyCase(
        "records:batch: 1e999", #"{"records":[{"certificateType":"PSB-NO-CRIMINAL-RECORD","subjectId":"11010519491231002X","claims":{"hasCriminalRecord":1e999}}]}"#,
        400, target: "/v1/records:batch"),
    JSONBodyCase(
        "records:batch: unknown field", #"{"records":[],"replace":true}"#, 422, target: "/v1/records:batch"),
    JSONBodyCase(
        "record PUT: invalid UTF-8",
        Array(#"{"claims":{"hasCriminalRecord":""#.utf8) + [0xC3, 0x28] + Array(#""}}"#.utf8), 400, method: "PUT",
        target: "/v1/records/PSB-NO-CRIMINAL-RECORD/11010519491231002X"),
    JSONBodyCase(
        "record PUT: integer for a boolean", #"{"claims":{"hasCriminalRecord":0}}"#, 422, path: "claims.hasCriminalRecord", method: "PUT",
        target: "/v1/records/PSB-NO-CRIMINAL-RECORD/11010519491231002X"),
]

extension BadInputMatrix {
    @Suite(.serialized) struct BadInputJSONTests {
        /// Who sends each body: requests as the requester, records as their owner.
        func sender(for target: String) -> String {
            if target.hasPrefix("/v1/records") { return "public-security" }
            if target.hasPrefix("/v1/queue") { return "civil-affairs" }
            if target.hasPrefix("/v1/attestations") { return "public-security" }
            return "housing-fund"
        }

        @Test func badBodiesGetTheirExactStatusAndChangeNothing() throws {
            let fixture = try BadInputFixture()
            let seeded = try fixture.seed()
            var clients: [String: DepartmentClient] = [:]
            try fixture.whileProbingHealth("JSON") {
                for bad in badJSONBodies {
                    let code = sender(for: bad.target)
                    let client = try clients[code] ?? DepartmentClient(fixture.service, code)
                    clients[code] = client
                    try fixture.expectNothingChanged(bad.name, refusals: 1) {
                        let target = bad.target.replacingOccurrences(of: "{item}", with: seeded.queueItemID)
                            .replacingOccurrences(of: "{attestation}", with: seeded.attestationID)
                        let response = try client.connection.request(
                            bad.method, target, headers: [("Content-Type", bad.contentType)], body: bad.body)
                        #expect(response.status == bad.status, "\(bad.name): \(response.status) \(response.bodyText.prefix(300))")
                        #expect(response.headers["Content-Type"] == "application/problem+json", "\(bad.name)")
                        if let path = bad.path {
                            #expect(response.errorPaths.contains(path), "\(bad.name): errors \(response.errorPaths)")
                        }
                    }
                }
                // Ten megabytes of string: refused from the declared length, before the body is read.
                try fixture.expectNothingChanged("a 10 MB string", refusals: 0) {
                    let connection = try fixture.service.connect("housing-fund")
                    let head = "POST /v1/verifications HTTP/1.1\r\nHost: heyan\r\nContent-Type: application/json\r\n"
                        + "Content-Length: \(10_000_000 + 20)\r\n\r\n"
                    try connection.send(head + #"{"purpose":""# + String(repeating: "a", count: 4096))
                    let response = try connection.readResponse()
                    #expect(response.status == 413)
                    #expect(connection.isClosedByPeer())
                }
                // The same ten megabytes sent chunked, with no length declared: cut off at 1 MiB.
                try fixture.expectNothingChanged("a 10 MB string, chunked", refusals: 0) {
                    let connection = try fixture.service.connect("housing-fund")
                    try connection.send(
                        "POST /v1/verifications HTTP/1.1\r\nHost: heyan\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n")
                    let chunk = Array(String(repeating: "a", count: 65_536).utf8)
                    var status: Int?
                    for _ in 0..<160 {  // 10 MiB
                        do {
                            try connection.send(Array("10000\r\n".utf8) + chunk + Array("\r\n".utf8))
                        } catch {
                            break  // the server answered and closed
                        }
                    }
                    status = try? connection.readResponse().status
                    #expect(status == 413)
                }
            }
            print("bad-input JSON bodies: \(badJSONBodies.count)")
            #expect(fixture.cases >= 60)
        }
    }
}
