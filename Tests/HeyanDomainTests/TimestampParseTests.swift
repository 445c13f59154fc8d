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

    /// `rfc3339` writes its bytes in place (issue 16); the text is what string interpolation gave, for
    /// instants across and outside years 0...9999, and `parse` reads it back.
    @Test func formatMatchesInterpolatedForm() {
        func pad(_ value: Int, _ width: Int) -> String {
            let digits = String(value)
            return String(repeating: "0", count: max(0, width - digits.count)) + digits
        }
        func reference(_ millis: Millis) -> String {
            let days = Int(millis >= 0 ? millis / 86_400_000 : -((-millis + 86_400_000 - 1) / 86_400_000))
            let inDay = Int(millis - Int64(days) * 86_400_000)
            let date = CalendarDate(daysSince1970: days)
            let day = "\(pad(date.year, 4))-\(pad(date.month, 2))-\(pad(date.day, 2))"
            let time = "\(pad(inDay / 3_600_000, 2)):\(pad(inDay / 60_000 % 60, 2)):\(pad(inDay / 1000 % 60, 2))"
            return "\(day)T\(time).\(pad(inDay % 1000, 3))Z"
        }
        #expect(Timestamp.rfc3339(1_795_424_400_123) == "2026-11-23T09:00:00.123Z")
        #expect(Timestamp.rfc3339(0) == "1970-01-01T00:00:00.000Z")
        #expect(Timestamp.rfc3339(-1) == "1969-12-31T23:59:59.999Z")
        #expect(CalendarDate(year: 7, month: 3, day: 9)!.description == "0007-03-09")
        var generator = SystemRandomNumberGenerator()
        let bounds: [ClosedRange<Int64>] = [
            -62_167_219_200_000...253_402_300_799_999,  // 0000-01-01 ... 9999-12-31
            -70_000_000_000_000...(-62_167_219_200_001), 253_402_300_800_000...300_000_000_000_000,
        ]
        for range in bounds {
            for _ in 0..<2_000 {
                let millis = Int64.random(in: range, using: &generator)
                let text = Timestamp.rfc3339(millis)
                #expect(text == reference(millis), "\(millis)")
                if range == bounds[0] && !text.hasPrefix("0000") { #expect(Timestamp.parse(text) == millis, "\(text)") }
            }
        }
    }
}
