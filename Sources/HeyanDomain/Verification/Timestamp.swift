/// Milliseconds since the unix epoch (UTC). heyan stores and compares instants as these; the API
/// shows them in RFC 3339 (``Timestamp/rfc3339(_:)``).
public typealias Millis = Int64

public enum Timestamp {
    /// `2026-11-23T09:05:32.825Z`.
    public static func rfc3339(_ millis: Millis) -> String {
        let days = Int(floorDivide(millis, 86_400_000))
        let inDay = Int(millis - Int64(days) * 86_400_000)
        let date = CalendarDate(daysSince1970: days)
        let hours = inDay / 3_600_000
        let minutes = inDay / 60_000 % 60
        let seconds = inDay / 1000 % 60
        let fraction = inDay % 1000
        guard (0...9999).contains(date.year) else {
            return "\(date)T\(pad(hours, 2)):\(pad(minutes, 2)):\(pad(seconds, 2)).\(pad(fraction, 3))Z"
        }
        // Written in place: the interpolation above cost ~7,500 instructions per call, and a data-sharing
        // verification formats four instants on the event loop (docs/performance.md, issue 16).
        return String(unsafeUninitializedCapacity: 24) { buffer in
            let start = buffer.baseAddress!
            date.write(to: start)
            start[10] = UInt8(ascii: "T")
            ASCIIDigits.write(hours, width: 2, to: start + 11)
            start[13] = UInt8(ascii: ":")
            ASCIIDigits.write(minutes, width: 2, to: start + 14)
            start[16] = UInt8(ascii: ":")
            ASCIIDigits.write(seconds, width: 2, to: start + 17)
            start[19] = UInt8(ascii: ".")
            ASCIIDigits.write(fraction, width: 3, to: start + 20)
            start[23] = UInt8(ascii: "Z")
            return 24
        }
    }

    /// Parses what ``rfc3339(_:)`` writes, and also `…Z` without fraction and `±hh:mm` offsets
    /// (query parameters such as `from=` and `to=`).
    public static func parse(_ text: String) -> Millis? {
        let bytes = Array(text.utf8)
        guard bytes.count >= 20, bytes[10] == UInt8(ascii: "T") || bytes[10] == UInt8(ascii: " "),
            let date = CalendarDate(iso8601: String(decoding: bytes[0..<10], as: UTF8.self))
        else { return nil }
        func number(_ range: Range<Int>) -> Int? {
            guard range.upperBound <= bytes.count else { return nil }
            var value = 0
            for byte in bytes[range] {
                guard byte >= 48 && byte <= 57 else { return nil }
                value = value * 10 + Int(byte - 48)
            }
            return value
        }
        guard let hour = number(11..<13), bytes[13] == UInt8(ascii: ":"), let minute = number(14..<16),
            bytes[16] == UInt8(ascii: ":"), let second = number(17..<19), hour < 24, minute < 60, second < 61
        else { return nil }
        var index = 19
        var millis = 0
        if index < bytes.count && bytes[index] == UInt8(ascii: ".") {
            index += 1
            var digits = 0
            while index < bytes.count, bytes[index] >= 48 && bytes[index] <= 57 {
                if digits < 3 { millis = millis * 10 + Int(bytes[index] - 48) }
                digits += 1
                index += 1
            }
            guard digits > 0 else { return nil }
            // More than three digits: the rest is below a millisecond (a `digits..<3` range would trap).
            if digits < 3 { for _ in digits..<3 { millis *= 10 } }
        }
        var offset = 0
        guard index < bytes.count else { return nil }
        if bytes[index] == UInt8(ascii: "Z") || bytes[index] == UInt8(ascii: "z") {
            index += 1
        } else if bytes[index] == UInt8(ascii: "+") || bytes[index] == UInt8(ascii: "-") {
            let sign = bytes[index] == UInt8(ascii: "-") ? -1 : 1
            guard let oh = number(index + 1..<index + 3), index + 3 < bytes.count, bytes[index + 3] == UInt8(ascii: ":"),
                let om = number(index + 4..<index + 6)
            else { return nil }
            offset = sign * (oh * 3600 + om * 60)
            index += 6
        } else {
            return nil
        }
        guard index == bytes.count else { return nil }
        let seconds = Int64(date.daysSince1970) * 86_400 + Int64(hour * 3600 + minute * 60 + second) - Int64(offset)
        return seconds * 1000 + Int64(millis)
    }

    private static func pad(_ value: Int, _ width: Int) -> String {
        let text = String(value)
        return text.count >= width ? text : String(repeating: "0", count: width - text.count) + text
    }

    private static func floorDivide(_ a: Int64, _ b: Int64) -> Int64 {
        a >= 0 ? a / b : -((-a + b - 1) / b)
    }
}
