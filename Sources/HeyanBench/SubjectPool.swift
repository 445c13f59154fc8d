import HeyanDomain

/// Distinct, valid 18-digit resident IDs (GB 11643), generated deterministically: subject `i`
/// is born `i / 1000` days after 1950-01-01 with sequence number `i % 1000`, in district 110105.
/// The same index always gives the same ID, so a seeded run and a later run agree.
public struct SubjectPool: Sendable {
    /// Every ID, 18 ASCII bytes each, back to back.
    public let bytes: [UInt8]
    public let count: Int
    public static let idLength = 18
    /// The most subjects the birth-date range allows (1950-01-01 plus 25,000 days).
    public static let maximum = 25_000_000

    public init(count: Int) {
        precondition(count > 0 && count <= Self.maximum)
        self.count = count
        var bytes = [UInt8]()
        bytes.reserveCapacity(count * Self.idLength)
        var digits = [Int](repeating: 0, count: 17)
        let region = [1, 1, 0, 1, 0, 5]
        for index in 0..<count {
            let (year, month, day) = Self.civilDate(daysSince1950: index / 1000)
            let sequence = index % 1000
            let fields = [year / 1000, year / 100 % 10, year / 10 % 10, year % 10, month / 10, month % 10, day / 10, day % 10,
                          sequence / 100, sequence / 10 % 10, sequence % 10]
            for position in 0..<6 { digits[position] = region[position] }
            for position in 0..<11 { digits[6 + position] = fields[position] }
            for digit in digits { bytes.append(UInt8(48 + digit)) }
            bytes.append(SubjectIdentifier.residentIDCheckCharacter(for: digits).asciiValue!)
        }
        self.bytes = bytes
    }

    /// Subject `index` as a string (for messages and tests).
    public func id(_ index: Int) -> String {
        String(decoding: bytes[(index * Self.idLength)..<((index + 1) * Self.idLength)], as: UTF8.self)
    }

    /// The proleptic Gregorian date `days` after 1950-01-01 (Howard Hinnant's civil_from_days).
    static func civilDate(daysSince1950 days: Int) -> (Int, Int, Int) {
        let z = days - 7_305 + 719_468  // days since 1970-01-01, shifted to 0000-03-01
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let dayOfEra = z - era * 146_097
        let yearOfEra = (dayOfEra - dayOfEra / 1_460 + dayOfEra / 36_524 - dayOfEra / 146_096) / 365
        let dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100)
        let monthIndex = (5 * dayOfYear + 2) / 153
        let day = dayOfYear - (153 * monthIndex + 2) / 5 + 1
        let month = monthIndex < 10 ? monthIndex + 3 : monthIndex - 9
        return (yearOfEra + era * 400 + (month <= 2 ? 1 : 0), month, day)
    }
}
