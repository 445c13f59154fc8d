import FoundationEssentials

/// Counts working days in China Standard Time (UTC+8): Monday to Friday, except public holidays,
/// plus the weekend days worked instead of a holiday (调休). Used for the `dueAt` of department
/// verifications, whose time limits are set in working days.
///
/// The State Council publishes each year's schedule in November of the year before. A day after
/// ``coveredThrough`` (or any day, when no schedule is configured) is counted as Monday to Friday
/// only: heyan cannot know that year's holidays yet, and says so (docs/configuration.md).
public struct WorkingCalendar: Hashable, Sendable {
    public var holidays: Set<CalendarDate>
    /// Saturdays and Sundays that are working days.
    public var makeupWorkdays: Set<CalendarDate>
    public init(holidays: Set<CalendarDate> = [], makeupWorkdays: Set<CalendarDate> = []) {
        self.holidays = holidays
        self.makeupWorkdays = makeupWorkdays
    }

    /// The last day an official schedule covers: 31 December of the latest year with a listed
    /// holiday (every yearly notice has some). Nil when no holiday is listed at all.
    public var coveredThrough: CalendarDate? {
        holidays.lazy.map(\.year).max().flatMap { CalendarDate(year: $0, month: 12, day: 31) }
    }

    /// Whether `date` is after the last day an official schedule covers (weekends only there).
    public func isBeyondCoverage(_ date: CalendarDate) -> Bool {
        guard let coveredThrough else { return true }
        return date > coveredThrough
    }

    /// The instant the covered days end: midnight China Standard Time after ``coveredThrough``
    /// (unix seconds); nil when nothing is covered.
    public var coverageEndsAt: Int64? {
        coveredThrough.map { Int64(($0.daysSince1970 + 1) * 86_400 - CalendarDate.chinaStandardTimeOffset) }
    }

    public func isWorkingDay(_ date: CalendarDate) -> Bool {
        if makeupWorkdays.contains(date) { return true }
        return date.weekday <= 5 && !holidays.contains(date)
    }

    /// The instant `workingDays` working days after `start`, at the same clock time in UTC+8.
    ///
    /// The start day itself is not counted, whatever it is: a request on Friday 16:00 with one
    /// working day is due Monday 16:00, and one on Saturday is due Monday too. Zero returns `start`.
    public func adding(workingDays: Int, to start: Date) -> Date {
        precondition(workingDays >= 0, "a time limit cannot be negative")
        let startDay = CalendarDate(chinaStandardTimeAt: start)
        var day = startDay
        var remaining = workingDays
        while remaining > 0 {
            day = day.adding(days: 1)
            if isWorkingDay(day) { remaining -= 1 }
        }
        return start.addingTimeInterval(Double(day.daysSince1970 - startDay.daysSince1970) * 86_400)
    }
}
