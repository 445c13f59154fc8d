import Foundation
import HeyanDomain
import Testing

/// An instant given as China Standard Time wall-clock values.
func chinaTime(_ year: Int, _ month: Int, _ day: Int, _ hour: Int = 0, _ minute: Int = 0) -> Date {
    let days = CalendarDate(year: year, month: month, day: day)!.daysSince1970
    return Date(timeIntervalSince1970: Double(days * 86_400 + hour * 3600 + minute * 60 - 8 * 3600))
}

@Suite struct CalendarDateTests {
    @Test func parsesOnlyRealDates() {
        #expect(CalendarDate(iso8601: "2024-02-29") == CalendarDate(year: 2024, month: 2, day: 29))
        #expect(CalendarDate(iso8601: "2023-02-29") == nil)
        #expect(CalendarDate(iso8601: "1900-02-29") == nil)
        #expect(CalendarDate(iso8601: "2000-02-29") != nil)
        #expect(CalendarDate(iso8601: "2025-04-31") == nil)
        #expect(CalendarDate(iso8601: "2025-13-01") == nil)
        #expect(CalendarDate(iso8601: "2025-1-01") == nil)
        #expect(CalendarDate(iso8601: "2025/01/01") == nil)
        #expect(CalendarDate(iso8601: "２025-01-01") == nil)
        #expect(CalendarDate(compact: "19491231") == CalendarDate(year: 1949, month: 12, day: 31))
        #expect(CalendarDate(compact: "19490231") == nil)
    }

    @Test func dayNumbersRoundTrip() {
        #expect(CalendarDate(year: 1970, month: 1, day: 1)!.daysSince1970 == 0)
        #expect(CalendarDate(year: 2000, month: 3, day: 1)!.daysSince1970 == 11_017)
        for days in stride(from: -30_000, through: 30_000, by: 17) {
            #expect(CalendarDate(daysSince1970: days).daysSince1970 == days)
        }
        #expect(CalendarDate(daysSince1970: -1).description == "1969-12-31")
    }

    @Test func weekdays() {
        #expect(CalendarDate(year: 1970, month: 1, day: 1)!.weekday == 4)  // Thursday
        #expect(CalendarDate(year: 2025, month: 6, day: 6)!.weekday == 5)  // Friday
        #expect(CalendarDate(year: 2025, month: 6, day: 8)!.weekday == 7)  // Sunday
        #expect(CalendarDate(year: 1949, month: 10, day: 1)!.weekday == 6)  // Saturday
    }

    @Test func todayIsTheDateInUTCPlus8() {
        // 2025-06-01 16:30 UTC is already 2 June in Beijing.
        let instant = Date(
            timeIntervalSince1970: Double(
                CalendarDate(year: 2025, month: 6, day: 1)!.daysSince1970 * 86_400 + 16 * 3600 + 1800))
        #expect(CalendarDate(chinaStandardTimeAt: instant) == CalendarDate(year: 2025, month: 6, day: 2))
        #expect(
            CalendarDate(chinaStandardTimeAt: chinaTime(2025, 6, 1, 23, 59))
                == CalendarDate(year: 2025, month: 6, day: 1))
    }
}

@Suite struct WorkingCalendarTests {
    let plain = WorkingCalendar()

    @Test func fridayPlusOneIsMonday() {
        #expect(plain.adding(workingDays: 1, to: chinaTime(2025, 6, 6, 16, 0)) == chinaTime(2025, 6, 9, 16, 0))
    }

    @Test func weekdayPlusOneIsTheNextDay() {
        #expect(plain.adding(workingDays: 1, to: chinaTime(2025, 6, 3, 9, 30)) == chinaTime(2025, 6, 4, 9, 30))
        #expect(plain.adding(workingDays: 5, to: chinaTime(2025, 6, 3, 9, 30)) == chinaTime(2025, 6, 10, 9, 30))
        #expect(plain.adding(workingDays: 0, to: chinaTime(2025, 6, 7, 9, 30)) == chinaTime(2025, 6, 7, 9, 30))
    }

    @Test func weekendStartCountsFromMonday() {
        #expect(plain.adding(workingDays: 1, to: chinaTime(2025, 6, 7, 10, 0)) == chinaTime(2025, 6, 9, 10, 0))
        #expect(plain.adding(workingDays: 1, to: chinaTime(2025, 6, 8, 10, 0)) == chinaTime(2025, 6, 9, 10, 0))
    }

    /// Friday 23:30 in Beijing is Friday 15:30 UTC: the weekday is taken in UTC+8.
    @Test func lateFridayInBeijingIsStillFriday() {
        #expect(plain.adding(workingDays: 1, to: chinaTime(2025, 6, 6, 23, 30)) == chinaTime(2025, 6, 9, 23, 30))
    }

    @Test func holidaysAreSkipped() {
        // Dragon Boat Festival 2025: Monday 2 June is a holiday.
        let calendar = WorkingCalendar(holidays: [CalendarDate(year: 2025, month: 6, day: 2)!])
        #expect(calendar.adding(workingDays: 1, to: chinaTime(2025, 5, 30, 16, 0)) == chinaTime(2025, 6, 3, 16, 0))
        #expect(plain.adding(workingDays: 1, to: chinaTime(2025, 5, 30, 16, 0)) == chinaTime(2025, 6, 2, 16, 0))
    }

    @Test func nationalDayWeekWithMakeupWorkdays() {
        // 2025: 1-8 October off; Sunday 28 September and Saturday 11 October are working days.
        let holidays = (1...8).map { CalendarDate(year: 2025, month: 10, day: $0)! }
        let calendar = WorkingCalendar(
            holidays: Set(holidays),
            makeupWorkdays: [
                CalendarDate(year: 2025, month: 9, day: 28)!, CalendarDate(year: 2025, month: 10, day: 11)!,
            ])
        #expect(calendar.adding(workingDays: 1, to: chinaTime(2025, 9, 27, 10, 0)) == chinaTime(2025, 9, 28, 10, 0))
        #expect(calendar.adding(workingDays: 2, to: chinaTime(2025, 9, 29, 10, 0)) == chinaTime(2025, 10, 9, 10, 0))
        #expect(calendar.adding(workingDays: 3, to: chinaTime(2025, 9, 30, 10, 0)) == chinaTime(2025, 10, 11, 10, 0))
        #expect(calendar.isWorkingDay(CalendarDate(year: 2025, month: 10, day: 11)!))
        #expect(!calendar.isWorkingDay(CalendarDate(year: 2025, month: 10, day: 6)!))
    }

    @Test func exampleConfigurationCalendar() throws {
        let configuration = try ServiceConfiguration.decode(try packageFile("config/heyan.json"), file: "heyan.json")
        let calendar = configuration.calendar.workingCalendar
        // Tuesday 30 September 2025 + 1 working day → Thursday 9 October.
        #expect(calendar.adding(workingDays: 1, to: chinaTime(2025, 9, 30, 17, 0)) == chinaTime(2025, 10, 9, 17, 0))
    }
}

/// The edge of the official schedules: the last covered day, and due dates past it.
@Suite struct CalendarCoverageEdgeTests {
    @Test func coverageEndsWithTheLatestYearThatListsAHoliday() {
        #expect(WorkingCalendar().coveredThrough == nil)
        #expect(WorkingCalendar().isBeyondCoverage(CalendarDate(year: 2000, month: 1, day: 1)!))
        let calendar = WorkingCalendar(
            holidays: [CalendarDate(year: 2025, month: 10, day: 1)!, CalendarDate(year: 2026, month: 1, day: 1)!],
            makeupWorkdays: [CalendarDate(year: 2027, month: 1, day: 3)!])  // a make-up day alone covers nothing
        #expect(calendar.coveredThrough == CalendarDate(year: 2026, month: 12, day: 31))
        // Midnight UTC+8 after 31 December 2026 is 2026-12-31T16:00:00Z.
        #expect(calendar.coverageEndsAt == 1_798_732_800)
    }

    @Test func dueDatesPastTheLastCoveredDayAreMarked() {
        let calendar = WorkingCalendar(holidays: [CalendarDate(year: 2026, month: 10, day: 1)!])
        let millis = { (date: Date) in Millis(date.timeIntervalSince1970 * 1000) }
        #expect(!DueDate.isBeyondCalendar(dueAt: millis(chinaTime(2026, 12, 31, 23, 59)), calendar: calendar))
        #expect(DueDate.isBeyondCalendar(dueAt: millis(chinaTime(2027, 1, 1, 0, 0)), calendar: calendar))
        // Weekends only beyond the edge: 1 January 2027 (元旦, not yet published) counts as a working day.
        let due = calendar.adding(workingDays: 1, to: chinaTime(2026, 12, 31, 10, 0))
        #expect(due == chinaTime(2027, 1, 1, 10, 0))
    }
}
