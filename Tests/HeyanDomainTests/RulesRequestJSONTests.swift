import HeyanDomain
import Testing

/// The request limits of the JSON parser, seen through a route's rules: every body that breaks
/// them is a 400 `malformed-request`, and none of them costs more than a scan of the bytes.
@Suite struct RulesRequestJSONTests {
    /// The simplest route: `{"reason"}`.
    static func revoke(_ bytes: [UInt8]) -> Result<String, Refusal> { RevocationRules.evaluate(body: bytes) }
    static func revoke(_ text: String) -> Result<String, Refusal> { revoke(Array(text.utf8)) }

    static func malformed(_ bytes: [UInt8]) throws -> Refusal {
        let refusal = try #require(revoke(bytes).refusal)
        #expect(refusal.status == 400)
        #expect(refusal.slug == "malformed-request")
        #expect(refusal.title == "Malformed request")
        return refusal
    }

    @Test func aWellFormedBodyPasses() {
        #expect(Self.revoke(#"{"reason": "签发错误"}"#).value == "签发错误")
        #expect(Self.revoke(#" {"reason":"\u7b7e\u53d1\u9519\u8bef \ud83d\ude00"} "#).value == "签发错误 😀")
    }

    @Test func emptyBodiesAndNonObjectsAreMalformed() throws {
        #expect(try Self.malformed([]).detail == "The request body is empty; expected a JSON object.")
        #expect(
            try Self.malformed(Array("  \n".utf8)).detail
                == "Not valid JSON at line 2, column 1: unexpected end of file, expected a value.")
        #expect(try Self.malformed(Array("[]".utf8)).detail == "The request body must be a JSON object, found an array.")
        #expect(try Self.malformed(Array("null".utf8)).detail == "The request body must be a JSON object, found null.")
        #expect(try Self.malformed(Array(#""reason""#.utf8)).detail == "The request body must be a JSON object, found a string.")
        #expect(
            try Self.malformed(Array(#"{"reason": "x",}"#.utf8)).detail
                == "Not valid JSON at line 1, column 16: expected a field name in double quotes.")
        // A byte order mark is tolerated in configuration files, not in requests.
        #expect(
            try Self.malformed([0xEF, 0xBB, 0xBF] + Array(#"{"reason": "x"}"#.utf8)).detail
                == "Not valid JSON at line 1, column 1: unexpected character, expected a value.")
    }

    @Test(arguments: [100_000, 33])
    func deepNestingFailsFastWithoutRecursion(levels: Int) throws {
        let arrays = [UInt8](repeating: UInt8(ascii: "["), count: levels) + [UInt8](repeating: UInt8(ascii: "]"), count: levels)
        let objects = Array(String(repeating: #"{"a":"#, count: levels).utf8) + [UInt8](repeating: UInt8(ascii: "}"), count: levels)
        for body in [Array(#"{"reason":"#.utf8) + arrays + [UInt8(ascii: "}")], objects] {
            let clock = ContinuousClock()
            var refusal: Refusal?
            let elapsed = try clock.measure { refusal = try Self.malformed(body) }
            #expect(refusal?.detail.hasSuffix("nested too deeply (at most 32 levels).") == true)
            #expect(elapsed < .milliseconds(200))
        }
    }

    @Test func thirtyTwoLevelsAreAllowed() throws {
        // The top-level object is level 1; "reason" holds 31 more.
        let body = Array(#"{"reason":"#.utf8) + [UInt8](repeating: UInt8(ascii: "["), count: 30) + Array("1".utf8)
            + [UInt8](repeating: UInt8(ascii: "]"), count: 30) + [UInt8(ascii: "}")]
        let refusal = try #require(Self.revoke(body).refusal)
        #expect(refusal.status == 422)  // parsed; the reason is not a string
        let tooDeep = Array(#"{"reason":"#.utf8) + [UInt8](repeating: UInt8(ascii: "["), count: 31) + Array("1".utf8)
            + [UInt8](repeating: UInt8(ascii: "]"), count: 31) + [UInt8(ascii: "}")]
        #expect(try Self.malformed(tooDeep).detail.hasSuffix("nested too deeply (at most 32 levels)."))
    }

    @Test(arguments: [
        ("1e999", "number 1e999 is too large to represent"),
        ("-1E+400", "number -1E+400 is too large to represent"),
        ("9223372036854775808", "integer 9223372036854775808 does not fit in 64 bits"),
        ("-9223372036854775809", "integer -9223372036854775809 does not fit in 64 bits"),
        (String(repeating: "9", count: 50), "integer 9999999999999999999999999999999999999... does not fit in 64 bits"),
    ])
    func unrepresentableNumbersAreRefused(_ literal: String, _ message: String) throws {
        let refusal = try Self.malformed(Array(#"{"reason": \#(literal)}"#.utf8))
        #expect(refusal.detail == "Not valid JSON at line 1, column 12: \(message).")
    }

    @Test func representableNumbersParse() throws {
        for literal in ["9223372036854775807", "-9223372036854775808", "1e308", "1e-999", "-0.0"] {
            // Parsed, then refused only because a reason is a string.
            let refusal = try #require(Self.revoke(#"{"reason": \#(literal)}"#).refusal)
            #expect(refusal.status == 422, "\(literal)")
        }
    }

    @Test func duplicateFieldsAreRefusedWithTheirPath() throws {
        let refusal = try Self.malformed(Array(#"{"reason": "a", "reason": "b"}"#.utf8))
        #expect(refusal.detail == "Reason: duplicate field.")
        #expect(refusal.errors == [ValidationIssue(path: "reason", message: "duplicate field")])
        // The same name written with an escape is the same name.
        let escaped = try Self.malformed(Array(#"{"reason": "a", "re\u0061son": "b"}"#.utf8))
        #expect(escaped.errors == [ValidationIssue(path: "reason", message: "duplicate field")])
        // Deep inside, and in a large object where a set finds it.
        var fields = (0..<40).map { #""f\#($0)": 0"# }
        fields.append(#""f7": 1"#)
        let large = try Self.malformed(Array(#"{"x": [0, {"reason": {\#(fields.joined(separator: ","))}}]}"#.utf8))
        #expect(large.errors == [ValidationIssue(path: "x[1].reason.f7", message: "duplicate field")])
    }

    @Test(arguments: [
        [0xFF] as [UInt8],  // never valid
        [0xC3],  // truncated two-byte sequence
        [0xC0, 0x80],  // overlong NUL
        [0xED, 0xA0, 0x80],  // a surrogate, encoded
        [0x80],  // a lone continuation byte
        [0xE2, 0x82, 0x5C, 0x6E],  // truncated, then an escape
    ])
    func invalidUTF8IsRefused(_ bad: [UInt8]) throws {
        let refusal = try Self.malformed(Array(#"{"reason": "ab"#.utf8) + bad + Array(#""}"#.utf8))
        #expect(refusal.detail == "Not valid JSON at line 1, column 13: string is not valid UTF-8.")
        // In a field name too.
        let inName = try Self.malformed([UInt8(ascii: "{"), UInt8(ascii: "\"")] + bad + Array(#"": 1}"#.utf8))
        #expect(inName.detail == "Not valid JSON at line 1, column 3: string is not valid UTF-8.")
    }

    @Test func invalidUTF8OutsideStringsIsASyntaxError() throws {
        let refusal = try Self.malformed(Array(#"{"reason": "#.utf8) + [0xFF] + Array("}".utf8))
        #expect(refusal.detail == "Not valid JSON at line 1, column 12: unexpected character, expected a value.")
    }

    /// Strings are bounded at 64 KiB of JSON text: a 10 MB value is refused after the first 64 KiB,
    /// without building it.
    @Test func aTenMegabyteStringIsRefused() throws {
        let body = Array(#"{"reason": ""#.utf8) + [UInt8](repeating: UInt8(ascii: "a"), count: 10_000_000)
            + Array(#""}"#.utf8)
        let clock = ContinuousClock()
        var refusal: Refusal?
        let elapsed = try clock.measure { refusal = try Self.malformed(body) }
        #expect(refusal?.detail == "Reason: string longer than 65536 bytes.")
        #expect(refusal?.errors == [ValidationIssue(path: "reason", message: "string longer than 65536 bytes")])
        #expect(elapsed < .milliseconds(200))

        // With escapes, and as a field name.
        let escaped = Array(#"{"reason": ""#.utf8) + Array(String(repeating: #"\n"#, count: 40_000).utf8) + Array(#""}"#.utf8)
        #expect(try Self.malformed(escaped).errors.map(\.path) == ["reason"])
        let name = Array(#"{""#.utf8) + [UInt8](repeating: UInt8(ascii: "a"), count: 70_000) + Array(#"": 1}"#.utf8)
        #expect(try Self.malformed(name).detail == "String longer than 65536 bytes.")
    }

    @Test func aStringAtTheLimitParsesAndMeetsTheFieldRule() throws {
        let body = Array(#"{"reason": ""#.utf8) + [UInt8](repeating: UInt8(ascii: "a"), count: 65_536) + Array(#""}"#.utf8)
        let refusal = try #require(Self.revoke(body).refusal)
        #expect(refusal.status == 422)
        #expect(refusal.errors == [ValidationIssue(path: "reason", message: "too long: 65536 characters, at most 500")])
    }

    @Test func revocationReasons() throws {
        #expect(Self.revoke(#"{"reason": "第一行\n第二行"}"#).value == "第一行\n第二行")
        #expect(Self.revoke(#"{"reason": "\#(String(repeating: "因", count: 500))"}"#).value != nil)
        let cases: [(String, [ValidationIssue])] = [
            (#"{}"#, [.init(path: "reason", message: "missing field")]),
            (#"{"reason": " "}"#, [.init(path: "reason", message: "must not be empty")]),
            (#"{"reason": 1}"#, [.init(path: "reason", message: "expected a string, found 1")]),
            (
                #"{"reason": "\#(String(repeating: "因", count: 501))"}"#,
                [.init(path: "reason", message: "too long: 501 characters, at most 500")]
            ),
            (
                #"{"reason": "a\u0000"}"#,
                [.init(path: "reason", message: "must not contain control characters other than line breaks and tabs")]
            ),
            (
                #"{"reason": "x", "reasn": "y"}"#,
                [.init(path: "reasn", message: "unknown field, did you mean 'reason'?")]
            ),
        ]
        for (body, errors) in cases {
            let refusal = try #require(Self.revoke(body).refusal)
            #expect(refusal.status == 422)
            #expect(refusal.slug == "validation-failed")
            #expect(refusal.errors == errors, "\(body)")
        }
    }
}
