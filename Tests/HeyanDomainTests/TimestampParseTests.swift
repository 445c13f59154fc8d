import Testing

@testable import HeyanDomain

/// `Timestamp.parse` reads `from=`/`to=` of `GET /v1/audit`: any fraction length, never a trap.
@Suite struct TimestampParseTests {
    @Test func fractionsOfAnyLength() {
        #expect(Timestamp.parse("2026-11-23T09:00:00Z") == 1_795_424_400_000)
        #expect(Timestamp.parse("2026-11-23T09:00:00.5Z") == 1_795_424_400_500)
        #expect(Timestamp.parse("2026-11-23T09:00:00.123Z") == 1_795_424_400_123)
        // Schemathesis found this: more than three digits trapped (a `4..<3` range) and killed the server.
        #expect(Timestamp.parse("2026-11-23T09:00:00.12345Z") == 1_795_424_400_123)
        #expect(Timestamp.parse("1300-05-29T13:19:30.31222-08:52") != nil)
        #expect(Timestamp.parse("2026-11-23T09:00:00." + String(repeating: "9", count: 1000) + "Z") == 1_795_424_400_999)
    }

    @Test func malformedTimesAreNil() {
        for text in ["", "2026-11-23", "2026-11-23T09:00:00", "2026-11-23T09:00:00.Z", "2026-11-23T25:00:00Z", "2026-11-23T09:00:00+8"] {
            #expect(Timestamp.parse(text) == nil, "\(text)")
        }
    }
}
