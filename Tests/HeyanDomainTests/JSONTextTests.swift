import Foundation
import HeyanTestSupport
import Testing

@testable import HeyanDomain

@Suite("JSON output")
struct JSONTextTests {
    @Test(arguments: [
        ("plain", #""plain""#),
        ("say \"hi\"", #""say \"hi\"""#),
        (#"C:\path"#, #""C:\\path""#),
        ("a/b", #""a/b""#),
        ("line\nnext\r\ttab", #""line\nnext\r\ttab""#),
        ("\u{8}\u{C}", #""\b\f""#),
        ("\u{0}\u{1}\u{1F}", #""\u0000\u0001\u001f""#),
        ("\u{7F}", "\"\u{7F}\""),
        ("核验 电子证明 ✓ 🇨🇳", "\"核验 电子证明 ✓ 🇨🇳\""),
        ("\u{2028}", "\"\u{2028}\""),
        ("", #""""#),
    ])
    func escaping(input: String, expected: String) {
        #expect(JSONText.quoted(input) == expected)
    }

    @Test func everyStringRoundTripsThroughFoundation() throws {
        var generator = SplitMix64(seed: 8259)
        let alphabet: [Character] =
            (0..<0x30).map { Character(Unicode.Scalar($0)!) } + ["\\", "\"", "/", "核", "é", "😀"]
        for _ in 0..<500 {
            let string = String(
                (0..<Int.random(in: 0...40, using: &generator)).map { _ in
                    alphabet.randomElement(using: &generator)!
                })
            var buffer = Array("[".utf8)
            JSONText.appendString(string, to: &buffer)
            buffer.append(UInt8(ascii: "]"))
            let decoded = try JSONSerialization.jsonObject(with: Data(buffer)) as? [String]
            #expect(decoded == [string])
        }
    }

    @Test func valuesSerializeCompactlyAndInOrder() {
        let value: JSONValue = [
            "z": 1, "a": [true, false, nil], "n": -12.5, "big": .int(9_007_199_254_740_993), "s": "核",
            "empty": [:], "list": [],
        ]
        #expect(
            String(decoding: value.jsonBytes(), as: UTF8.self)
                == #"{"z":1,"a":[true,false,null],"n":-12.5,"big":9007199254740993,"s":"核","empty":{},"list":[]}"#)
    }

    @Test(arguments: [
        (3.0, "3"), (-0.0, "0"), (0.1, "0.1"), (1e-7, "1e-07"), (1e300, "1e+300"),
        (Double.nan, "null"), (Double.infinity, "null"), (9_007_199_254_740_992.0, "9007199254740992.0"),
    ])
    func doubles(value: Double, expected: String) throws {
        let bytes = JSONValue.number(value).jsonBytes()
        #expect(String(decoding: bytes, as: UTF8.self) == expected)
        let parsed = try JSONSerialization.jsonObject(with: Data(bytes), options: .fragmentsAllowed)
        if value.isFinite {
            #expect((parsed as? NSNumber)?.doubleValue == value)
        } else {
            #expect(parsed is NSNull)
        }
    }

    @Test func equalityIsOrderAndKindSensitive() {
        #expect(JSONValue.object([("a", 1), ("b", 2)]) != .object([("b", 2), ("a", 1)]))
        #expect(JSONValue.int(1) != .number(1))
        #expect(JSONValue.array(["x", nil]) == .array([.string("x"), .null]))
    }
}
