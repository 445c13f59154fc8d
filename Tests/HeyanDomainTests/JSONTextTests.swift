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

    /// appendString skips eight bytes at a time: an escaped byte at every position of a word, in long
    /// mostly plain strings (with non-ASCII UTF-8 beside them), is escaped as a byte-wise reference does.
    @Test func longStringsEscapeAtEveryPositionOfAWord() {
        func reference(_ string: String) -> [UInt8] {
            var out: [UInt8] = [0x22]
            for byte in string.utf8 {
                switch byte {
                case 0x22: out += Array(#"\""#.utf8)
                case 0x5C: out += Array(#"\\"#.utf8)
                case 0x0A: out += Array(#"\n"#.utf8)
                case 0x0D: out += Array(#"\r"#.utf8)
                case 0x09: out += Array(#"\t"#.utf8)
                case 0x08: out += Array(#"\b"#.utf8)
                case 0x0C: out += Array(#"\f"#.utf8)
                case ..<0x20: out += Array(String(format: "\\u%04x", Int(byte)).utf8)
                default: out.append(byte)
                }
            }
            return out + [0x22]
        }
        var generator = SplitMix64(seed: 16)
        let specials: [Character] = ["\"", "\\", "\n", "\u{0}", "\u{1F}", "\u{7F}", "é", "核", "~", " ", "!", "#", "[", "]"]
        // Every position up to 80 bytes: the scan takes 32-byte blocks, then 8-byte words, then bytes.
        for length in 0..<80 {
            for special in specials {
                for position in 0..<max(length, 1) {
                    var characters = (0..<length).map { _ in Character(Unicode.Scalar(UInt8.random(in: 0x23...0x5B, using: &generator))) }
                    if position < length { characters[position] = special }
                    let string = String(characters)
                    var buffer: [UInt8] = []
                    JSONText.appendString(string, to: &buffer)
                    #expect(buffer == reference(string), "\(string.debugDescription)")
                }
            }
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
