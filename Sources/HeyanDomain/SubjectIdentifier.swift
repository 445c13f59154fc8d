/// The kind of identifier a subject (当事人) is known by.
public enum SubjectIDType: String, Codable, Sendable, CaseIterable {
    /// 18-character resident identity number of a person (居民身份号码, GB 11643).
    case residentID = "resident-id"
    /// 18-character unified social credit code of an organisation (统一社会信用代码, GB 32100).
    case uscc

    public init(from decoder: any Decoder) throws { self = try decoder.decodeKeyword(Self.self) }
}

/// Why a subject identifier was refused. `code` is stable (`subject-id.wrong-check-character`);
/// `message` is the reason for a person (`wrong check character, expected 'X'`).
public struct SubjectIdentifierError: HeyanError, Hashable {
    public let code: String
    public let message: String

    static func empty() -> Self { .init(code: "subject-id.empty", message: "empty") }
    static func wrongLength(_ count: Int) -> Self {
        .init(code: "subject-id.wrong-length", message: "wrong length: \(count) characters, expected 18")
    }
    static func invalidCharacter(_ character: Unicode.Scalar, at position: Int, hint: String = "") -> Self {
        .init(
            code: "subject-id.invalid-character",
            message: "invalid character '\(character.escaped(asASCII: false))' at position \(position)\(hint)")
    }
    static func invalidDate(_ digits: String, _ why: String = "") -> Self {
        .init(code: "subject-id.invalid-date", message: "not a real date \(digits)\(why)")
    }
    static func wrongCheckCharacter(expected: Character) -> Self {
        .init(code: "subject-id.wrong-check-character", message: "wrong check character, expected '\(expected)'")
    }
}

/// A validated subject identifier: a resident ID (GB 11643) or a unified social credit code
/// (GB 32100). Holding one means its length, alphabet, check character and, for a resident ID,
/// its birth date have been checked.
public struct SubjectIdentifier: Hashable, Sendable, CustomStringConvertible {
    public let type: SubjectIDType
    /// The identifier exactly as given (no case folding: a lowercase `x` is refused, not fixed).
    public let value: String

    /// Checks `value` as an identifier of `type`.
    ///
    /// - Parameter today: the current date in China Standard Time; a resident ID's birth date may
    ///   not be after it. Injected so that tests and replays do not depend on the clock.
    public init(validating value: String, as type: SubjectIDType, today: CalendarDate)
        throws(SubjectIdentifierError)
    {
        switch type {
        case .residentID: try Self.checkResidentID(value, today: today)
        case .uscc: try Self.checkUnifiedSocialCreditCode(value)
        }
        self.type = type
        self.value = value
    }

    /// The birth date inside a resident ID; `nil` for an organisation.
    public var birthDate: CalendarDate? {
        guard type == .residentID else { return nil }
        return CalendarDate(compact: String(String.UnicodeScalarView(value.unicodeScalars.dropFirst(6).prefix(8))))
    }

    public var description: String { value }

    // MARK: GB 11643

    static let residentIDWeights = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2]

    /// The check character for the first 17 digits of a resident ID (`0`–`9` or `X`).
    public static func residentIDCheckCharacter(for digits: [Int]) -> Character {
        precondition(digits.count == 17)
        let sum = zip(digits, residentIDWeights).reduce(0) { $0 + $1.0 * $1.1 }
        let check = (12 - sum % 11) % 11
        return check == 10 ? "X" : Character(String(check))
    }

    static func checkResidentID(_ value: String, today: CalendarDate) throws(SubjectIdentifierError) {
        // The usual case, a valid ID, is decided on its bytes (~14,000 instructions fewer per request
        // than the scalars, strings and characters below, which name what is wrong with any other).
        if isValidResidentID(value.utf8, today: today) { return }
        let scalars = Array(value.unicodeScalars)
        guard !scalars.isEmpty else { throw .empty() }
        guard scalars.count == 18 else { throw .wrongLength(scalars.count) }
        var digits: [Int] = []
        for (offset, scalar) in scalars.enumerated() {
            let position = offset + 1
            if let digit = asciiDigit(scalar) {
                digits.append(digit)
            } else if position == 18 && scalar == "X" {
                digits.append(10)
            } else if position == 18 && scalar == "x" {
                throw .invalidCharacter(scalar, at: position, hint: " (the check character must be an uppercase 'X')")
            } else {
                throw .invalidCharacter(scalar, at: position, hint: position == 18 ? "" : " (expected a digit 0-9)")
            }
        }
        let dateDigits = String(String.UnicodeScalarView(scalars[6..<14]))
        guard let birth = CalendarDate(compact: dateDigits) else { throw .invalidDate(dateDigits) }
        guard birth.year >= 1900 else { throw .invalidDate(dateDigits, " (before 1900)") }
        guard birth <= today else { throw .invalidDate(dateDigits, " (in the future)") }
        let expected = residentIDCheckCharacter(for: Array(digits[0..<17]))
        guard Character(scalars[17]) == expected else { throw .wrongCheckCharacter(expected: expected) }
    }

    /// True exactly when ``checkResidentID(_:today:)`` accepts `utf8` and it is ASCII: 17 digits
    /// holding a birth date from 1900 to `today`, then the right check character (a digit or `X`).
    private static func isValidResidentID(_ utf8: String.UTF8View, today: CalendarDate) -> Bool {
        guard utf8.count == 18 else { return false }
        var sum = 0
        var birth = 0  // yyyymmdd
        var check: UInt8 = 0
        for (offset, byte) in utf8.enumerated() {
            if offset == 17 {
                check = byte
                break
            }
            guard byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9") else { return false }
            let digit = Int(byte - UInt8(ascii: "0"))
            sum += digit * residentIDWeights[offset]
            if offset >= 6 && offset < 14 { birth = birth * 10 + digit }
        }
        guard let date = CalendarDate(year: birth / 10_000, month: birth / 100 % 100, day: birth % 100),
            date.year >= 1900, date <= today
        else { return false }
        let expected = (12 - sum % 11) % 11
        return check == (expected == 10 ? UInt8(ascii: "X") : UInt8(ascii: "0") + UInt8(expected))
    }

    // MARK: GB 32100

    /// The 31 characters of a unified social credit code, in value order (no I, O, S, V, Z).
    public static let creditCodeAlphabet: [Character] = Array("0123456789ABCDEFGHJKLMNPQRTUWXY")
    static let creditCodeWeights = [1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28]

    /// The check character for the first 17 characters (as alphabet values 0–30) of a credit code.
    public static func creditCodeCheckCharacter(for values: [Int]) -> Character {
        precondition(values.count == 17)
        let sum = zip(values, creditCodeWeights).reduce(0) { $0 + $1.0 * $1.1 }
        return creditCodeAlphabet[(31 - sum % 31) % 31]
    }

    static func checkUnifiedSocialCreditCode(_ value: String) throws(SubjectIdentifierError) {
        let scalars = Array(value.unicodeScalars)
        guard !scalars.isEmpty else { throw .empty() }
        guard scalars.count == 18 else { throw .wrongLength(scalars.count) }
        var values: [Int] = []
        for (offset, scalar) in scalars.enumerated() {
            guard let index = creditCodeAlphabet.firstIndex(of: Character(scalar)) else {
                let hint: String
                if scalar.isASCII && scalar.properties.isLowercase {
                    hint = " (letters must be uppercase)"
                } else if "IOSVZ".unicodeScalars.contains(scalar) {
                    hint = " (I, O, S, V and Z are not used in credit codes)"
                } else {
                    hint = ""
                }
                throw .invalidCharacter(scalar, at: offset + 1, hint: hint)
            }
            values.append(index)
        }
        let expected = creditCodeCheckCharacter(for: Array(values[0..<17]))
        guard Character(scalars[17]) == expected else { throw .wrongCheckCharacter(expected: expected) }
    }

    private static func asciiDigit(_ scalar: Unicode.Scalar) -> Int? {
        guard scalar.value >= 0x30, scalar.value <= 0x39 else { return nil }
        return Int(scalar.value - 0x30)
    }
}
