import FoundationEssentials

/// When an owner must have answered a queued verification: the type's time limit in working days
/// (China Standard Time, holidays and make-up workdays from the ``WorkingCalendar``), counted
/// from the next day, at the same clock time as the submission.
public enum DueDate {
    /// The time limit when a type sets none (the catalog requires one wherever an owner answers).
    public static let defaultWorkingDays = 5

    public static func dueAt(for type: CertificateType, submittedAt: Millis, calendar: WorkingCalendar) -> Millis {
        let days = max(0, type.timeLimitWorkingDays ?? defaultWorkingDays)
        let start = Date(timeIntervalSince1970: Double(submittedAt) / 1000)
        let due = calendar.adding(workingDays: days, to: start)
        // `adding` moves by whole days; keep the milliseconds exact rather than round-trip a Double.
        let wholeDays = Int64((due.timeIntervalSince(start) / 86_400).rounded())
        return submittedAt + wholeDays * 86_400_000
    }

    /// Whether `dueAt` was counted past the calendar's last covered day: some of the working days
    /// it counts fall in a year whose official schedule heyan does not have, so weekends only were
    /// skipped there and a public holiday may have been counted as a working day.
    public static func isBeyondCalendar(dueAt: Millis, calendar: WorkingCalendar) -> Bool {
        let seconds = dueAt >= 0 ? dueAt / 1000 : -((-dueAt + 999) / 1000)
        return calendar.isBeyondCoverage(CalendarDate(chinaStandardTimeAt: Date(timeIntervalSince1970: Double(seconds))))
    }
}
