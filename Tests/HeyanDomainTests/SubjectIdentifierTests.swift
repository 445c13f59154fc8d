import HeyanDomain
import Testing

/// The day the tables below are checked against: a resident ID born after it is refused.
private let today = CalendarDate(year: 2025, month: 6, day: 1)!

@Suite struct ResidentIDTests {
    @Test(arguments: [
        "11010519491231002X",  // the design's example, check character X
        "440304199001011233",
        "310101200002294569",  // 29 February of 2000, a leap year (divisible by 400)
        "320106202402290316",  // 29 February of 2024
        "11010519000101001X",  // 1 January 1900, the first accepted date
        "110105199003071239",
        "510107202506010018",  // born today
    ])
    func accepts(_ id: String) throws {
        let identifier = try SubjectIdentifier(validating: id, as: .residentID, today: today)
        #expect(identifier.value == id)
        #expect(identifier.type == .residentID)
        #expect(identifier.birthDate != nil)
    }

    @Test(arguments: [
        ("110105194912310021", "subject-id.wrong-check-character", "wrong check character, expected 'X'"),
        ("440304199001011234", "subject-id.wrong-check-character", "wrong check character, expected '3'"),
        ("110105194902290029", "subject-id.invalid-date", "not a real date 19490229"),  // 1949 is no leap year
        ("110105190002290017", "subject-id.invalid-date", "not a real date 19000229"),  // nor is 1900
        ("110105194902300020", "subject-id.invalid-date", "not a real date 19490230"),
        ("110105194913010029", "subject-id.invalid-date", "not a real date 19491301"),
        ("110105189912310058", "subject-id.invalid-date", "not a real date 18991231 (before 1900)"),
        ("510107202506020013", "subject-id.invalid-date", "not a real date 20250602 (in the future)"),
        ("220102203001010040", "subject-id.invalid-date", "not a real date 20300101 (in the future)"),
        (
            "11010519491231002x", "subject-id.invalid-character",
            "invalid character 'x' at position 18 (the check character must be an uppercase 'X')"
        ),
        (
            "1101051949123100AX", "subject-id.invalid-character",
            "invalid character 'A' at position 17 (expected a digit 0-9)"
        ),
        (
            "１1010519491231002X", "subject-id.invalid-character",
            "invalid character '１' at position 1 (expected a digit 0-9)"
        ),
        ("11010519491231002", "subject-id.wrong-length", "wrong length: 17 characters, expected 18"),
        ("11010519491231002XX", "subject-id.wrong-length", "wrong length: 19 characters, expected 18"),
        ("", "subject-id.empty", "empty"),
    ])
    func refuses(_ id: String, code: String, message: String) {
        let error = #expect(throws: SubjectIdentifierError.self) {
            try SubjectIdentifier(validating: id, as: .residentID, today: today)
        }
        #expect(error?.code == code)
        #expect(error?.message == message)
    }

    @Test func birthDateIsReadFromCharacters7To14() throws {
        let identifier = try SubjectIdentifier(validating: "11010519491231002X", as: .residentID, today: today)
        #expect(identifier.birthDate == CalendarDate(year: 1949, month: 12, day: 31))
    }
}

@Suite struct UnifiedSocialCreditCodeTests {
    @Test(arguments: [
        "91350100M000100Y43",  // the design's example
        "91110000600037341L",
        "91440300MA5DXXXX0N",
        "12100000400000243M",
        "52310115MJ49583012",
        "91330106MA27XUM0PK",
    ])
    func accepts(_ code: String) throws {
        let identifier = try SubjectIdentifier(validating: code, as: .uscc, today: today)
        #expect(identifier.value == code)
        #expect(identifier.birthDate == nil)
    }

    @Test(arguments: [
        ("91350100M000100Y44", "subject-id.wrong-check-character", "wrong check character, expected '3'"),
        ("91110000600037341M", "subject-id.wrong-check-character", "wrong check character, expected 'L'"),
        (
            "91350100I000100Y43", "subject-id.invalid-character",
            "invalid character 'I' at position 9 (I, O, S, V and Z are not used in credit codes)"
        ),
        (
            "91350100O000100Y43", "subject-id.invalid-character",
            "invalid character 'O' at position 9 (I, O, S, V and Z are not used in credit codes)"
        ),
        (
            "91350100M000100S43", "subject-id.invalid-character",
            "invalid character 'S' at position 16 (I, O, S, V and Z are not used in credit codes)"
        ),
        (
            "V1350100M000100Y43", "subject-id.invalid-character",
            "invalid character 'V' at position 1 (I, O, S, V and Z are not used in credit codes)"
        ),
        (
            "91350100M000100Y4Z", "subject-id.invalid-character",
            "invalid character 'Z' at position 18 (I, O, S, V and Z are not used in credit codes)"
        ),
        (
            "91350100m000100Y43", "subject-id.invalid-character",
            "invalid character 'm' at position 9 (letters must be uppercase)"
        ),
        ("9135010０M000100Y43", "subject-id.invalid-character", "invalid character '０' at position 8"),
        ("91350100M000100Y4", "subject-id.wrong-length", "wrong length: 17 characters, expected 18"),
        ("", "subject-id.empty", "empty"),
    ])
    func refuses(_ code: String, errorCode: String, message: String) {
        let error = #expect(throws: SubjectIdentifierError.self) {
            try SubjectIdentifier(validating: code, as: .uscc, today: today)
        }
        #expect(error?.code == errorCode)
        #expect(error?.message == message)
    }

    /// Every value of the alphabet can be a check character, and changing any one character of a
    /// valid code to another alphabet character breaks the check.
    @Test func checkCharacterDetectsEverySingleSubstitution() throws {
        let valid = Array("91350100M000100Y43")
        for position in 0..<17 {
            for replacement in SubjectIdentifier.creditCodeAlphabet where replacement != valid[position] {
                var changed = valid
                changed[position] = replacement
                #expect(throws: SubjectIdentifierError.self) {
                    try SubjectIdentifier(validating: String(changed), as: .uscc, today: today)
                }
            }
        }
    }
}
