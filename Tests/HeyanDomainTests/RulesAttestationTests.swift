import HeyanDomain
import Testing

/// An instant given as China Standard Time wall-clock values, in milliseconds.
func cstMillis(_ year: Int, _ month: Int, _ day: Int, _ hour: Int, _ minute: Int = 0, millis: Int = 0) -> Millis {
    let days = CalendarDate(year: year, month: month, day: day)!.daysSince1970
    return Millis(days * 86_400 + hour * 3600 + minute * 60 - 8 * 3600) * 1000 + Millis(millis)
}

@Suite struct RulesAttestationPayloadTests {
    static let answered = Verification(
        id: "ver_01", certificateType: "CIV-MARRIAGE", method: .departmentVerification, requester: "housing-fund",
        owner: "civil-affairs", matterCode: "HF-WITHDRAW-001", purpose: "提取住房公积金",
        subject: Subject(idType: .residentID, id: RulesFixture.residentID, name: "张\"三"),
        claims: ["maritalStatus": .string("married")],
        state: .answered(
            VerificationAnswer(
                outcome: .denied, disclosed: ["maritalStatus": .string("divorced")], note: "not in the payload",
                answeredAt: 2, attestationID: "att_01")),
        createdAt: 1, catalogVersion: 1)

    @Test func payloadBytesAreCanonical() {
        let issuedAt: Millis = 1_768_000_000_123
        let expiresAt = AttestationPayload.expiry(for: RulesFixture.type("CIV-MARRIAGE"), issuedAt: issuedAt)
        #expect(expiresAt == issuedAt + 30 * 86_400_000)
        let payload = AttestationPayload.make(
            verification: Self.answered, attestationID: "att_01", issuer: "urn:heyan:service",
            legalBasis: "《婚姻登记条例》第二条、第四条", issuedAt: issuedAt, expiresAt: expiresAt)
        let expected =
            #"{"certificateType":"CIV-MARRIAGE","claims":{"maritalStatus":"married"},"disclosed":{"maritalStatus":"divorced"},"#
            + #""exp":1770592000,"iat":1768000000,"iss":"urn:heyan:service","issuer":"civil-affairs","jti":"att_01","#
            + #""legalBasis":"《婚姻登记条例》第二条、第四条","matterCode":"HF-WITHDRAW-001","method":"department-verification","#
            + #""nbf":1768000000,"outcome":"denied","requester":"housing-fund","#
            + #""subject":{"id":"11010519491231002X","idType":"resident-id","name":"张\"三"},"verification":"ver_01"}"#
        #expect(String(decoding: payload, as: UTF8.self) == expected)
    }

    @Test func claimsAreSortedAndNothingUndisclosedAppears() {
        var verification = Self.answered
        verification.certificateType = "HEALTH-BIRTH-MEDICAL"
        verification.method = .dataSharing
        verification.claims = [
            "bornInHospital": .bool(true), "birthPlace": .string("110105"), "birthDate": .string("2024-02-29"),
        ]
        verification.state = .answered(
            VerificationAnswer(
                outcome: .confirmed, disclosed: [:], note: "not in the payload", answeredAt: 2, attestationID: "att_01"))
        let payload = String(
            decoding: AttestationPayload.make(
                verification: verification, attestationID: "att_02", issuer: "urn:heyan:service", legalBasis: "L",
                issuedAt: 999, expiresAt: 1_999),
            as: UTF8.self)
        #expect(
            payload.hasPrefix(
                #"{"certificateType":"HEALTH-BIRTH-MEDICAL","claims":{"birthDate":"2024-02-29","birthPlace":"110105","bornInHospital":true},"disclosed":{},"exp":1,"iat":0,"#
            ))
        #expect(payload.contains(#""outcome":"confirmed""#))
    }

    @Test func expiryFollowsValidityDays() {
        #expect(AttestationPayload.expiry(for: RulesFixture.type("NR-REAL-ESTATE"), issuedAt: 0) == 15 * 86_400_000)
        var noValidity = RulesFixture.type("NR-REAL-ESTATE")
        noValidity.validityDays = nil
        #expect(AttestationPayload.expiry(for: noValidity, issuedAt: 5) == 5 + 30 * 86_400_000)
    }
}

@Suite struct RulesDueDateTests {
    static func due(_ code: String, _ submittedAt: Millis, _ calendar: WorkingCalendar = WorkingCalendar()) -> Millis {
        DueDate.dueAt(for: RulesFixture.type(code), submittedAt: submittedAt, calendar: calendar)
    }

    @Test func workingDaysSkipTheWeekend() {
        // CIV-MARRIAGE: 1 working day. Friday 16:00 → Monday 16:00, milliseconds kept.
        #expect(Self.due("CIV-MARRIAGE", cstMillis(2026, 1, 16, 16, millis: 123)) == cstMillis(2026, 1, 19, 16, millis: 123))
        // PSB-KINSHIP: 3 working days. Friday → Wednesday.
        #expect(Self.due("PSB-KINSHIP", cstMillis(2026, 1, 16, 9)) == cstMillis(2026, 1, 21, 9))
        // Saturday → Monday; Sunday → Monday.
        #expect(Self.due("CIV-MARRIAGE", cstMillis(2026, 1, 17, 10)) == cstMillis(2026, 1, 19, 10))
        #expect(Self.due("CIV-MARRIAGE", cstMillis(2026, 1, 18, 10)) == cstMillis(2026, 1, 19, 10))
        // EDU-DEGREE: 5 working days. Thursday → next Thursday.
        #expect(Self.due("EDU-DEGREE", cstMillis(2026, 1, 15, 11)) == cstMillis(2026, 1, 22, 11))
    }

    @Test func theDayIsTheDayInChinaStandardTime() {
        // Saturday 07:00 in Beijing is still Friday in UTC: the count starts from Saturday.
        let saturdayMorning = cstMillis(2026, 1, 17, 7)
        #expect(Self.due("CIV-MARRIAGE", saturdayMorning) == cstMillis(2026, 1, 19, 7))
        // Friday 23:30 in Beijing: Monday 23:30.
        #expect(Self.due("CIV-MARRIAGE", cstMillis(2026, 1, 16, 23, 30)) == cstMillis(2026, 1, 19, 23, 30))
    }

    @Test func holidaysAndMakeupWorkdays() {
        let monday = CalendarDate(year: 2026, month: 1, day: 19)!
        let saturday = CalendarDate(year: 2026, month: 1, day: 17)!
        #expect(
            Self.due("CIV-MARRIAGE", cstMillis(2026, 1, 16, 16), WorkingCalendar(holidays: [monday]))
                == cstMillis(2026, 1, 20, 16))
        #expect(
            Self.due("CIV-MARRIAGE", cstMillis(2026, 1, 16, 16), WorkingCalendar(makeupWorkdays: [saturday]))
                == cstMillis(2026, 1, 17, 16))
    }

    @Test func aTypeWithoutATimeLimitGetsTheDefault() {
        // PSB-NO-CRIMINAL-RECORD has none: 5 working days.
        #expect(Self.due("PSB-NO-CRIMINAL-RECORD", cstMillis(2026, 1, 16, 16)) == cstMillis(2026, 1, 23, 16))
    }
}
