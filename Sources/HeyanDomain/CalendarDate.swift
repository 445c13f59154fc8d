import FoundationEssentials

/// A day of the proleptic Gregorian calendar, without a time or zone: a birth date inside a
/// resident ID, a catalog cancellation date, a public holiday. Written `yyyy-mm-dd` in JSON.
public struct CalendarDate: Hashable, Comparable, Sendable, Codable, CustomStringConvertible {
    public let year: Int
    public let month: Int
    public let day: Int

    /// A date, or `nil` when the day does not exist (`2023-02-29`, month 13, day 0).
    /// Years 1...9999, so that every date has a four-digit `yyyy-mm-dd` form.
    public init?(year: Int, month: Int, day: Int) {
        guard (1...9999).contains(year), (1...12).contains(month),
            (1...CalendarDate.daysInMonth(year: year, month: month)).contains(day)
        else { return nil }
        self.year = year
        self.month = month
        self.day = day
    }

    /// Parses exactly `yyyy-mm-dd` (ASCII digits, a real date).
    public init?(iso8601 text: String) {
        let utf8 = Array(text.utf8)
        guard utf8.count == 10, utf8[4] == UInt8(ascii: "-"), utf8[7] == UInt8(ascii: "-"),
            let year = CalendarDate.number(utf8[0..<4]), let month = CalendarDate.number(utf8[5..<7]),
            let day = CalendarDate.number(utf8[8..<10])
        else { return nil }
        self.init(year: year, month: month, day: day)
    }

    /// Parses exactly `yyyymmdd`, the form inside a resident ID.
    public init?(compact text: some StringProtocol) {
        let utf8 = Array(text.utf8)
        guard utf8.count == 8, let year = CalendarDate.number(utf8[0..<4]),
            let month = CalendarDate.number(utf8[4..<6]), let day = CalendarDate.number(utf8[6..<8])
        else { return nil }
        self.init(year: year, month: month, day: day)
    }

    /// The day with this number, counting 1970-01-01 as day 0.
    public init(daysSince1970 days: Int) {
        // Howard Hinnant's civil_from_days.
        let z = days + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let dayOfEra = z - era * 146_097
        let yearOfEra = (dayOfEra - dayOfEra / 1460 + dayOfEra / 36524 - dayOfEra / 146_096) / 365
        let dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100)
        let shiftedMonth = (5 * dayOfYear + 2) / 153
        let day = dayOfYear - (153 * shiftedMonth + 2) / 5 + 1
        let month = shiftedMonth < 10 ? shiftedMonth + 3 : shiftedMonth - 9
        self.year = yearOfEra + era * 400 + (month <= 2 ? 1 : 0)
        self.month = month
        self.day = day
    }

    /// The calendar day in China Standard Time (UTC+8, no daylight saving) at an instant.
    public init(chinaStandardTimeAt instant: Date) {
        let seconds = Int((instant.timeIntervalSince1970).rounded(.down)) + CalendarDate.chinaStandardTimeOffset
        self.init(daysSince1970: Int((Double(seconds) / 86_400).rounded(.down)))
    }

    /// Seconds east of UTC of China Standard Time, the zone of every date heyan computes.
    public static let chinaStandardTimeOffset = 8 * 3600

    /// The day number, counting 1970-01-01 as day 0.
    public var daysSince1970: Int {
        // Howard Hinnant's days_from_civil.
        let y = month <= 2 ? year - 1 : year
        let era = (y >= 0 ? y : y - 399) / 400
        let yearOfEra = y - era * 400
        let dayOfYear = (153 * (month > 2 ? month - 3 : month + 9) + 2) / 5 + day - 1
        let dayOfEra = yearOfEra * 365 + yearOfEra / 4 - yearOfEra / 100 + dayOfYear
        return era * 146_097 + dayOfEra - 719_468
    }

    /// ISO weekday: 1 Monday … 7 Sunday.
    public var weekday: Int {
        let mondayBased = (daysSince1970 + 3) % 7  // 1970-01-01 was a Thursday
        return (mondayBased < 0 ? mondayBased + 7 : mondayBased) + 1
    }

    public func adding(days: Int) -> CalendarDate { CalendarDate(daysSince1970: daysSince1970 + days) }

    public static func isLeapYear(_ year: Int) -> Bool { year % 4 == 0 && (year % 100 != 0 || year % 400 == 0) }

    public static func daysInMonth(year: Int, month: Int) -> Int {
        switch month {
        case 2: return isLeapYear(year) ? 29 : 28
        case 4, 6, 9, 11: return 30
        default: return 31
        }
    }

    public var description: String {
        guard (0...9999).contains(year) else {
            // Only a date computed from an instant outside years 1...9999 gets here.
            func pad(_ value: Int, _ width: Int) -> String {
                let digits = String(value)
                return String(repeating: "0", count: max(0, width - digits.count)) + digits
            }
            return "\(pad(year, 4))-\(pad(month, 2))-\(pad(day, 2))"
        }
        return String(unsafeUninitializedCapacity: 10) { buffer in
            write(to: buffer.baseAddress!)
            return 10
        }
    }

    /// Writes the ten bytes `yyyy-mm-dd` at `start`; the year must be in 0...9999. Used where a date
    /// is written on a hot path (``Timestamp/rfc3339(_:)``) without building strings to interpolate.
    func write(to start: UnsafeMutablePointer<UInt8>) {
        ASCIIDigits.write(year, width: 4, to: start)
        start[4] = UInt8(ascii: "-")
        ASCIIDigits.write(month, width: 2, to: start + 5)
        start[7] = UInt8(ascii: "-")
        ASCIIDigits.write(day, width: 2, to: start + 8)
    }

    public static func < (lhs: CalendarDate, rhs: CalendarDate) -> Bool {
        (lhs.year, lhs.month, lhs.day) < (rhs.year, rhs.month, rhs.day)
    }

    public init(from decoder: any Decoder) throws {
        let text = try decoder.singleValueContainer().decode(String.self)
        guard let date = CalendarDate(iso8601: text) else {
            throw ValidationIssue(
                path: JSONPath.render(decoder.codingPath),
                message: "expected a real date as yyyy-mm-dd, found '\(text)'")
        }
        self = date
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(description)
    }

    private static func number(_ digits: ArraySlice<UInt8>) -> Int? {
        var value = 0
        for byte in digits {
            guard byte >= UInt8(ascii: "0"), byte <= UInt8(ascii: "9") else { return nil }
            value = value * 10 + Int(byte - UInt8(ascii: "0"))
        }
        return value
    }
}

/// Fixed-width decimal digits written in place, for the date and time forms heyan writes per request.
enum ASCIIDigits {
    /// Writes the last `width` decimal digits of `value` (which is not negative), zero-padded.
    @inline(__always)
    static func write(_ value: Int, width: Int, to start: UnsafeMutablePointer<UInt8>) {
        var rest = value
        var index = width
        while index > 0 {
            index -= 1
            start[index] = UInt8(ascii: "0") &+ UInt8(truncatingIfNeeded: rest % 10)
            rest /= 10
        }
    }
}
