import HeyanDomain
import Testing

/// `appendCanonicalJSON` (what the payload, the response and the stored columns write) against
/// `canonicalJSON` (the `JSONValue` tree it replaced on those paths): the same bytes for every set.
@Suite struct ClaimSetCanonicalJSONTests {
    static let sets: [ClaimSet] = [
        [:],
        ["hasCriminalRecord": .bool(false)],
        ["maritalStatus": .string("married")],
        ["count": .integer(-9_223_372_036_854_775_808)],
        ["note": .string("a \"quote\", a \\ backslash, a tab\t, a newline\n and \u{01}")],
        ["姓名": .string("张三"), "婚姻状况": .string("已婚"), "age": .integer(42), "Zeta": .bool(true), "alpha": .bool(false)],
        // Keys whose order depends on the comparison: a precomposed and a combining é, a digit, upper case.
        ["e\u{301}": .integer(1), "\u{e9}x": .integer(2), "E": .integer(3), "1": .integer(4), "ea": .integer(5)],
    ]

    @Test(arguments: sets)
    func bytesAreTheTreesBytes(_ claims: ClaimSet) {
        var written: [UInt8] = []
        claims.appendCanonicalJSON(to: &written)
        #expect(written == claims.canonicalJSON.jsonBytes())
        #expect(claims.canonicalJSONText == String(decoding: claims.canonicalJSON.jsonBytes(), as: UTF8.self))
    }

    @Test(arguments: sets)
    func storedTextReadsBack(_ claims: ClaimSet) {
        #expect(ClaimSet.decode(canonicalText: claims.canonicalJSONText) == claims)
    }

    @Test func aNullOrForeignColumnIsNoClaims() {
        #expect(ClaimSet.decode(canonicalText: nil) == nil)
        #expect(ClaimSet.decode(canonicalText: #"{"a":[1]}"#) == nil)
        #expect(ClaimSet.decode(canonicalText: "not json") == nil)
    }

    @Test func appendsAfterWhatTheBufferHolds() {
        var buffer = Array("x:".utf8)
        ClaimSet(dictionaryLiteral: ("b", .integer(2)), ("a", .integer(1))).appendCanonicalJSON(to: &buffer)
        #expect(String(decoding: buffer, as: UTF8.self) == #"x:{"a":1,"b":2}"#)
    }
}
