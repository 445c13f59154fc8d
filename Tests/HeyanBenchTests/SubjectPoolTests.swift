import HeyanDomain
import Testing
@testable import HeyanBench

@Suite struct SubjectPoolTests {
    @Test func idsAreValidAndDistinct() throws {
        let pool = SubjectPool(count: 5_000)
        let today = CalendarDate(year: 2026, month: 1, day: 1)!
        var seen = Set<String>()
        for index in 0..<pool.count {
            let id = pool.id(index)
            _ = try SubjectIdentifier(validating: id, as: .residentID, today: today)
            seen.insert(id)
        }
        #expect(seen.count == pool.count)
        #expect(pool.id(0) == "11010519500101000" + String(SubjectIdentifier.residentIDCheckCharacter(for: [1, 1, 0, 1, 0, 5, 1, 9, 5, 0, 0, 1, 0, 1, 0, 0, 0])))
        #expect(pool.id(1_000).hasPrefix("11010519500102000"))
    }

    @Test func civilDatesCrossMonthsAndLeapYears() {
        #expect(SubjectPool.civilDate(daysSince1950: 0) == (1950, 1, 1))
        #expect(SubjectPool.civilDate(daysSince1950: 31) == (1950, 2, 1))
        #expect(SubjectPool.civilDate(daysSince1950: 365 + 365 + 59) == (1952, 2, 29))
        #expect(SubjectPool.civilDate(daysSince1950: 7_305) == (1970, 1, 1))
    }

    @Test func theLastSubjectIsStillValid() throws {
        let today = CalendarDate(year: 2026, month: 1, day: 1)!
        let date = SubjectPool.civilDate(daysSince1950: (SubjectPool.maximum - 1) / 1_000)
        #expect(date.0 < 2020)
        _ = try SubjectIdentifier(validating: SubjectPool(count: 1).id(0), as: .residentID, today: today)
    }
}
