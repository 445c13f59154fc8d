import HeyanDomain
import Testing

/// Syntax errors in a hand-edited file name the line and column; `JSONDecoder` alone would not,
/// and would accept a trailing comma or silently keep the second of two equal fields.
@Suite struct StrictJSONTests {
    @Test(arguments: [
        ("{\"listen\": \"a:1\",}", "not valid JSON at line 1, column 18: expected a field name in double quotes"),
        ("{\n  \"a\": 1\n  \"b\": 2\n}", "not valid JSON at line 3, column 3: expected ',' or '}'"),
        ("{\"a\": [1, 2,]}", "not valid JSON at line 1, column 13: unexpected character, expected a value"),
        ("{\"a\": 01}", "not valid JSON at line 1, column 8: a number must not start with a leading zero"),
        ("{\"a\": 'x'}", "not valid JSON at line 1, column 7: unexpected character, expected a value"),
        (
            "{\"a\": \"tab\there\"}",
            "not valid JSON at line 1, column 11: control character inside a string; write it as an escape such as \\n"
        ),
        ("{\"a\": \"\\q\"}", "not valid JSON at line 1, column 9: invalid escape sequence"),
        ("{\"a\": \"\\ud800\"}", "not valid JSON at line 1, column 14: unpaired surrogate in \\u escape"),
        ("{\"名称\": tru}", "not valid JSON at line 1, column 8: unexpected character, expected a value"),
        ("{\"a\": 1", "not valid JSON at line 1, column 8: unexpected end of file, expected ',' or '}'"),
        ("{} {}", "not valid JSON at line 1, column 4: unexpected text after the end of the document"),
        ("", "not valid JSON at line 1, column 1: unexpected end of file, expected a value"),
    ])
    func syntaxErrorsNameLineAndColumn(_ text: String, _ message: String) {
        #expect(throws: ValidationIssue(path: "", message: message)) {
            try StrictJSON.decode([String: Int].self, from: Array(text.utf8))
        }
    }

    @Test func duplicateFieldsAreRefusedWithTheirPath() {
        let text = #"{"items": [{"code": "A"}, {"code": "B", "code": "C"}]}"#
        #expect(throws: ValidationIssue(path: "items[1].code", message: "duplicate field")) {
            try StrictJSON.decode([String: [[String: String]]].self, from: Array(text.utf8))
        }
        let escaped = #"{"a": 1, "\u0061": 2}"#  // the same name, once escaped
        #expect(throws: ValidationIssue(path: "a", message: "duplicate field")) {
            try StrictJSON.decode([String: Int].self, from: Array(escaped.utf8))
        }
    }

    @Test func validDocumentsDecode() throws {
        let text = "\u{FEFF}{\"s\": \"\\u00e9\\ud83d\\ude00\\n\", \"n\": -1.5e3, \"t\": [true, false, null]}"
        struct Document: Decodable, Equatable {
            let s: String
            let n: Double
            let t: [Bool?]
        }
        #expect(
            try StrictJSON.decode(Document.self, from: Array(text.utf8))
                == Document(s: "é😀\n", n: -1500, t: [true, false, nil]))
    }

    @Test func invalidUTF8IsRefused() {
        #expect(throws: ValidationIssue(path: "", message: "not valid UTF-8")) {
            try StrictJSON.decode([String: String].self, from: [0x7B, 0x22, 0xFF, 0x22, 0x3A, 0x22, 0x22, 0x7D])
        }
    }

    @Test func deepNestingIsRefusedWithoutCrashing() {
        let text = String(repeating: "[", count: 100_000)
        #expect(throws: ValidationIssue.self) { try StrictJSON.decode([Int].self, from: Array(text.utf8)) }
    }

    /// Every truncation of the example catalog is refused with a message, never a crash.
    @Test func everyPrefixOfTheExampleCatalogIsRefused() throws {
        let bytes = try packageFile("config/catalog.json")
        let departments = try exampleDepartments()
        var end = 0
        while end < bytes.count - 2 {
            #expect(throws: ConfigurationError.self) {
                try Catalog.decode(Array(bytes[..<end]), file: "catalog.json", departments: departments)
            }
            end += 1 + end / 40
        }
    }

    @Test func jsonPathsQuoteOddNames() {
        #expect(JSONPath.appending("maritalStatus", to: "claims") == "claims.maritalStatus")
        #expect(JSONPath.appending("婚姻", to: "claims") == "claims[\"婚姻\"]")
        #expect(JSONPath.appending("a \"b\"", to: "") == "[\"a \\\"b\\\"\"]")
        #expect(JSONPath.appending("first", to: "") == "first")
    }
}
