import HeyanDomain
import Testing

/// The example configuration and a few valid values, shared by the `Rules*Tests` suites.
enum RulesFixture {
    static let departments: DepartmentDirectory = try! exampleDepartments()
    static let catalog: Catalog = try! Catalog.decode(
        try! packageFile("config/catalog.json"), file: "catalog.json", departments: departments)
    static let today = CalendarDate(year: 2026, month: 1, day: 15)!
    /// GB 11643 example.
    static let residentID = "11010519491231002X"
    /// GB 32100 example.
    static let uscc = "91350100M000100Y43"

    static func department(_ code: String) -> Department { departments[code]! }
    static func type(_ code: String) -> CertificateType { catalog[code]! }
}

/// Sets (or with `nil` removes) the member at a dotted path of a JSON object, appending it when new.
func setting(_ value: JSONValue, _ path: String, to newValue: JSONValue?) -> JSONValue {
    let steps = path.split(separator: ".", maxSplits: 1)
    guard case .object(var members) = value else { preconditionFailure("not an object at \(path)") }
    let key = String(steps[0])
    let index = members.firstIndex { $0.0 == key }
    if steps.count == 2 {
        members[index!].1 = setting(members[index!].1, String(steps[1]), to: newValue)
    } else if let newValue {
        if let index { members[index].1 = newValue } else { members.append((key, newValue)) }
    } else if let index {
        members.remove(at: index)
    }
    return .object(members)
}

/// A refusal's status, slug and error paths: what the tables compare.
struct RefusalSummary: Equatable, Sendable, CustomStringConvertible {
    var status: Int
    var slug: String
    var paths: [String]
    init(_ status: Int, _ slug: String, _ paths: [String] = []) {
        self.status = status
        self.slug = slug
        self.paths = paths
    }
    init(_ refusal: Refusal) { self.init(refusal.status, refusal.slug, refusal.errors.map(\.path)) }
    var description: String { "\(status) \(slug) \(paths)" }
}

extension Result {
    var refusal: Failure? {
        if case .failure(let failure) = self { return failure }
        return nil
    }
    var value: Success? {
        if case .success(let success) = self { return success }
        return nil
    }
}

@Suite struct RulesVerificationRequestTests {
    typealias F = RulesFixture

    /// No criminal record (data sharing), asked by hrss for recruitment.
    static let criminalRecord: JSONValue = [
        "certificateType": "PSB-NO-CRIMINAL-RECORD",
        "matterCode": "HR-RECRUIT-001",
        "purpose": "事业单位公开招聘资格审查",
        "subject": ["idType": "resident-id", "id": .string(F.residentID), "name": "张三"],
        "claims": ["hasCriminalRecord": false],
    ]

    /// Marital status (department verification), asked by housing-fund for a withdrawal.
    static let marriage: JSONValue = [
        "certificateType": "CIV-MARRIAGE",
        "matterCode": "HF-WITHDRAW-001",
        "purpose": "提取住房公积金",
        "subject": ["idType": "resident-id", "id": .string(F.residentID), "name": "张三"],
        "claims": ["maritalStatus": "married"],
    ]

    static func evaluate(_ body: JSONValue, by requester: String = "hrss") -> Result<VerificationDraft, Refusal> {
        evaluate(bytes: body.jsonBytes(), by: requester)
    }

    static func evaluate(bytes: [UInt8], by requester: String = "hrss") -> Result<VerificationDraft, Refusal> {
        VerificationRequestRules.evaluate(
            body: bytes, requester: F.department(requester), catalog: F.catalog, today: F.today)
    }

    @Test func aValidDataSharingRequestBecomesADraft() throws {
        let draft = try #require(Self.evaluate(Self.criminalRecord).value)
        #expect(draft.certificateType == F.type("PSB-NO-CRIMINAL-RECORD"))
        #expect(draft.grant == RequesterGrant(department: "hrss", matterCodes: ["HR-RECRUIT-001"]))
        #expect(draft.matterCode == "HR-RECRUIT-001")
        #expect(draft.purpose == "事业单位公开招聘资格审查")
        #expect(draft.subject == Subject(idType: .residentID, id: F.residentID, name: "张三"))
        #expect(draft.claims == ["hasCriminalRecord": .bool(false)])
    }

    @Test func aValidDepartmentVerificationRequestBecomesADraft() throws {
        let draft = try #require(Self.evaluate(Self.marriage, by: "housing-fund").value)
        #expect(draft.certificateType.code == "CIV-MARRIAGE")
        #expect(draft.grant.disclose == ["maritalStatus"])
        #expect(draft.claims == ["maritalStatus": .string("married")])
    }

    @Test func everyClaimTypeIsRead() throws {
        let birth = setting(
            setting(setting(Self.criminalRecord, "certificateType", to: "HEALTH-BIRTH-MEDICAL"), "matterCode",
                to: "HR-MATERNITY-001"), "claims",
            to: ["birthDate": "2024-02-29", "birthPlace": "110105", "bornInHospital": true])
        let draft = try #require(Self.evaluate(birth).value)
        #expect(
            draft.claims == [
                "birthDate": .string("2024-02-29"), "birthPlace": .string("110105"), "bornInHospital": .bool(true),
            ])

        let licence: JSONValue = [
            "certificateType": "MKT-BUSINESS-LICENSE", "matterCode": "HR-EMPLOYER-REG-001", "purpose": "用人单位参保登记",
            "subject": ["idType": "uscc", "id": .string(F.uscc), "name": "某某有限公司"],
            "claims": ["registeredCapital": -9_223_372_036_854_775_807, "status": "in-business"],
        ]
        let company = try #require(Self.evaluate(licence).value)
        #expect(company.subject.idType == .uscc)
        #expect(
            company.claims == ["registeredCapital": .integer(-9_223_372_036_854_775_807), "status": .string("in-business")])
    }

    @Test func textLengthsCountCharactersNotBytes() throws {
        let chinese = String(repeating: "证", count: 200)  // 600 bytes
        #expect(Self.evaluate(setting(Self.criminalRecord, "purpose", to: .string(chinese))).value != nil)
        let name = String(repeating: "名", count: 100)
        #expect(Self.evaluate(setting(Self.criminalRecord, "subject.name", to: .string(name))).value != nil)
    }

    struct Case: CustomTestStringConvertible, Sendable {
        var name: String
        var body: JSONValue
        var requester: String
        var expected: RefusalSummary
        var testDescription: String { name }
    }

    /// (description, body, requester, expected status, slug and error paths).
    static let refusals: [Case] = {
        let base = criminalRecord
        let table: [(String, JSONValue, String, RefusalSummary)] = [
            // 2. Shape: every problem at once.
            ("missing purpose", setting(base, "purpose", to: nil), "hrss", .init(422, "validation-failed", ["purpose"])),
            (
                "typo in a field name", setting(setting(base, "purpose", to: nil), "purpse", to: "x"), "hrss",
                .init(422, "validation-failed", ["purpse", "purpose"])
            ),
            (
                "wrong types", setting(setting(base, "certificateType", to: 7), "claims", to: ["a", "b"]), "hrss",
                .init(422, "validation-failed", ["certificateType", "claims"])
            ),
            ("subject not an object", setting(base, "subject", to: "张三"), "hrss", .init(422, "validation-failed", ["subject"])),
            (
                "subject fields", setting(setting(base, "subject.name", to: nil), "subject.nam", to: "张三"), "hrss",
                .init(422, "validation-failed", ["subject.nam", "subject.name"])
            ),
            ("null is not absent", setting(base, "matterCode", to: nil as JSONValue), "hrss",
             .init(422, "validation-failed", ["matterCode"])),
            ("shape before role", setting(base, "purpose", to: nil), "civil-affairs", .init(422, "validation-failed", ["purpose"])),
            // 3. Role.
            ("owner only", base, "civil-affairs", .init(403, "role-required")),
            ("role before catalog", setting(base, "certificateType", to: "NOPE"), "audit-office", .init(403, "role-required")),
            // 4. Catalog.
            ("unknown type", setting(base, "certificateType", to: "NOPE"), "hrss", .init(422, "validation-failed", ["certificateType"])),
            // 5, 6. Methods.
            ("cancelled", setting(base, "certificateType", to: "COMM-ALIVE"), "hrss", .init(410, "certificate-cancelled")),
            (
                "commitment", setting(setting(base, "certificateType", to: "MKT-NO-MAJOR-VIOLATION"), "matterCode", to: "X"),
                "hrss", .init(409, "commitment-required")
            ),
            // 7. Grant.
            ("type not granted", setting(base, "certificateType", to: "CIV-MARRIAGE"), "hrss", .init(403, "not-granted")),
            ("matter not granted", setting(base, "matterCode", to: "HR-MATERNITY-001"), "hrss", .init(403, "not-granted")),
            (
                "grant before values", setting(setting(base, "matterCode", to: "HR-OTHER"), "purpose", to: ""), "hrss",
                .init(403, "not-granted")
            ),
            // 8. Values.
            ("blank purpose", setting(base, "purpose", to: " \t "), "hrss", .init(422, "validation-failed", ["purpose"])),
            (
                "purpose of 201 characters", setting(base, "purpose", to: .string(String(repeating: "a", count: 201))), "hrss",
                .init(422, "validation-failed", ["purpose"])
            ),
            ("line break in purpose", setting(base, "purpose", to: "a\nb"), "hrss", .init(422, "validation-failed", ["purpose"])),
            ("idType not of this type", setting(base, "subject.idType", to: "uscc"), "hrss",
             .init(422, "validation-failed", ["subject.idType", "subject.id"])),
            ("unknown idType", setting(base, "subject.idType", to: "passport"), "hrss",
             .init(422, "validation-failed", ["subject.idType"])),
            ("bad check character", setting(base, "subject.id", to: "110105194912310021"), "hrss",
             .init(422, "validation-failed", ["subject.id"])),
            ("empty name", setting(base, "subject.name", to: ""), "hrss", .init(422, "validation-failed", ["subject.name"])),
            (
                "name of 101 characters", setting(base, "subject.name", to: .string(String(repeating: "名", count: 101))),
                "hrss", .init(422, "validation-failed", ["subject.name"])
            ),
            ("no claims", setting(base, "claims", to: [:]), "hrss", .init(422, "validation-failed", ["claims"])),
            (
                "claim not in the schema", setting(base, "claims", to: ["hasCriminalRecords": false, "x": 1]), "hrss",
                .init(422, "validation-failed", ["claims.hasCriminalRecords", "claims.x"])
            ),
            ("boolean claim as a string", setting(base, "claims", to: ["hasCriminalRecord": "no"]), "hrss",
             .init(422, "validation-failed", ["claims.hasCriminalRecord"])),
            (
                "every value problem at once",
                setting(setting(setting(base, "purpose", to: ""), "subject.id", to: "1"), "claims", to: ["hasCriminalRecord": nil]),
                "hrss", .init(422, "validation-failed", ["purpose", "subject.id", "claims.hasCriminalRecord"])
            ),
        ]
        return table.map { Case(name: $0.0, body: $0.1, requester: $0.2, expected: $0.3) }
    }()

    @Test(arguments: refusals)
    func refusalsHaveTheirStatusSlugAndPaths(_ test: Case) {
        let refusal = Self.evaluate(test.body, by: test.requester).refusal
        #expect(refusal.map(RefusalSummary.init) == test.expected)
    }

    static let claimValueRefusals: [(String, JSONValue, String)] = [
        ("maritalStatus", "marryed", "unknown value 'marryed'; expected one of: 'unmarried', 'married', 'divorced', 'widowed'"),
        ("maritalStatus", 1, "expected a string, found 1"),
        ("maritalStatus", .string(String(repeating: "x", count: 41)), "unknown value a string; expected one of: 'unmarried', 'married', 'divorced', 'widowed'"),
    ]

    @Test func messagesNameTheProblem() throws {
        let usccCheck = SubjectIdentifier.creditCodeCheckCharacter(
            for: F.residentID.prefix(17).map { SubjectIdentifier.creditCodeAlphabet.firstIndex(of: $0)! })
        func refusal(_ body: JSONValue, by requester: String = "hrss") throws -> Refusal {
            try #require(Self.evaluate(body, by: requester).refusal)
        }
        let base = Self.criminalRecord
        #expect(
            try refusal(setting(setting(base, "purpose", to: nil), "purpse", to: "x")).errors == [
                ValidationIssue(path: "purpse", message: "unknown field, did you mean 'purpose'?"),
                ValidationIssue(path: "purpose", message: "missing field"),
            ])
        #expect(
            try refusal(setting(base, "colour", to: "x")).errors == [
                ValidationIssue(
                    path: "colour",
                    message: "unknown field; expected one of: certificateType, matterCode, purpose, subject, claims")
            ])
        #expect(
            try refusal(setting(base, "matterCode", to: nil as JSONValue)).errors == [
                ValidationIssue(path: "matterCode", message: "expected a string, found null")
            ])
        #expect(
            try refusal(setting(base, "certificateType", to: "PSB-NO-CRIMINAL-RECROD")).errors == [
                ValidationIssue(path: "certificateType", message: "unknown certificate type, did you mean 'PSB-NO-CRIMINAL-RECORD'?")
            ])
        #expect(
            try refusal(setting(base, "certificateType", to: "NOPE")).errors == [
                ValidationIssue(path: "certificateType", message: "unknown certificate type; GET /v1/catalog lists them")
            ])
        #expect(
            try refusal(setting(base, "subject.id", to: "110105194912310021")).errors == [
                ValidationIssue(path: "subject.id", message: "wrong check character, expected 'X'")
            ])
        #expect(
            try refusal(setting(base, "subject.idType", to: "uscc")).errors == [
                ValidationIssue(
                    path: "subject.idType",
                    message: "'PSB-NO-CRIMINAL-RECORD' is not about a subject of type 'uscc'; expected 'resident-id'"),
                // Checked as the type the client named: a resident ID read as a credit code.
                ValidationIssue(path: "subject.id", message: "wrong check character, expected '\(usccCheck)'"),
            ])
        #expect(
            try refusal(setting(base, "purpose", to: .string(String(repeating: "证", count: 201)))).errors == [
                ValidationIssue(path: "purpose", message: "too long: 201 characters, at most 200")
            ])
        #expect(
            try refusal(setting(base, "claims", to: ["criminal": true])).errors == [
                ValidationIssue(
                    path: "claims.criminal", message: "not a claim of 'PSB-NO-CRIMINAL-RECORD'; expected one of: hasCriminalRecord")
            ])
        #expect(
            try refusal(setting(base, "claims", to: [:])).errors == [
                ValidationIssue(path: "claims", message: "must state at least one claim")
            ])
        for (claim, value, message) in Self.claimValueRefusals {
            #expect(
                try refusal(setting(Self.marriage, "claims", to: .object([(claim, value)])), by: "housing-fund").errors == [
                    ValidationIssue(path: "claims.\(claim)", message: message)
                ])
        }
    }

    @Test func claimValuesFollowTheSchema() throws {
        let birth = setting(
            setting(Self.criminalRecord, "certificateType", to: "HEALTH-BIRTH-MEDICAL"), "matterCode", to: "HR-MATERNITY-001")
        let licence: JSONValue = [
            "certificateType": "MKT-BUSINESS-LICENSE", "matterCode": "HR-EMPLOYER-REG-001", "purpose": "参保登记",
            "subject": ["idType": "uscc", "id": .string(F.uscc), "name": "某某有限公司"], "claims": ["registered": true],
        ]
        let cases: [(JSONValue, JSONValue, String?)] = [
            (birth, ["birthDate": "2023-02-29"], "expected a real date as yyyy-mm-dd, found '2023-02-29'"),
            (birth, ["birthDate": "2023-2-28"], "expected a real date as yyyy-mm-dd, found '2023-2-28'"),
            (birth, ["birthDate": 20230228], "expected a date as yyyy-mm-dd, found 20230228"),
            (birth, ["birthPlace": .string(String(repeating: "x", count: 1001))], "too long: 1001 characters, at most 1000"),
            (birth, ["birthPlace": .string(String(repeating: "x", count: 1000))], nil),
            (licence, ["registeredCapital": 1.5], "expected an integer, found 1.5"),
            (licence, ["registeredCapital": .number(100)], nil),  // written "100"
            (licence, ["registeredCapital": "100"], "expected an integer, found '100'"),
            (licence, ["status": "closed"], "unknown value 'closed'; expected one of: 'in-business', 'revoked', 'deregistered'"),
            (licence, ["registered": 1], "expected true or false, found 1"),
        ]
        for (body, claims, message) in cases {
            let result = Self.evaluate(setting(body, "claims", to: claims))
            if let message {
                let path = "claims." + (claims.objectKeys.first ?? "")
                #expect(result.refusal?.errors == [ValidationIssue(path: path, message: message)], "\(claims)")
            } else {
                #expect(result.value != nil, "\(claims)")
            }
        }
        // An exponent is not an integer literal, even when the value is whole.
        let exponent = Array(#"{"certificateType":"MKT-BUSINESS-LICENSE","matterCode":"HR-EMPLOYER-REG-001","purpose":"p","subject":{"idType":"uscc","id":"91350100M000100Y43","name":"n"},"claims":{"registeredCapital":1e2}}"#.utf8)
        #expect(
            Self.evaluate(bytes: exponent).refusal?.errors == [
                ValidationIssue(path: "claims.registeredCapital", message: "expected an integer, found 1e2")
            ])
    }

    @Test func cancelledTypesAnswer410WithTheReason() throws {
        let refusal = try #require(
            Self.evaluate(setting(Self.criminalRecord, "certificateType", to: "COMM-ALIVE")).refusal)
        #expect(refusal.status == 410)
        #expect(refusal.slug == "certificate-cancelled")
        #expect(refusal.extraValue("reason") == "通过部门间信息共享核查")
        #expect(refusal.extraValue("effectiveDate") == "2019-05-01")
        #expect(refusal.detail == "'COMM-ALIVE' (生存证明) was cancelled since 2019-05-01: nobody may ask for it any more.")
    }

    @Test func commitmentTypesPointToTheCommitmentsEndpoint() throws {
        let body = setting(
            setting(Self.criminalRecord, "certificateType", to: "MKT-NO-MAJOR-VIOLATION"), "matterCode",
            to: "FIN-PROCUREMENT-001")
        let refusal = try #require(Self.evaluate(body, by: "finance").refusal)
        #expect(refusal.status == 409)
        #expect(refusal.slug == "commitment-required")
        #expect(refusal.extraValue("commitmentEndpoint") == "/v1/commitments")
        #expect(refusal.extraValue("commitmentTemplate") == "/v1/catalog/MKT-NO-MAJOR-VIOLATION/commitment-template")
    }

    @Test func notGrantedNamesTheMatterAndType() throws {
        let refusal = try #require(Self.evaluate(Self.marriage, by: "hrss").refusal)
        #expect(
            refusal
                == Refusal(
                    status: 403, slug: "not-granted", title: "Not granted",
                    detail: "The catalog does not let 'hrss' ask about 'CIV-MARRIAGE' for matter 'HF-WITHDRAW-001'.",
                    extra: [("certificateType", "CIV-MARRIAGE"), ("matterCode", "HF-WITHDRAW-001")]))
    }
}

extension JSONValue {
    var objectKeys: [String] {
        if case .object(let members) = self { return members.map(\.0) }
        return []
    }
}
