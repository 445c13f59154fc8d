import HeyanDomain
import Testing

@Suite struct RulesDataSharingDecisionTests {
    static let grant = RequesterGrant(department: "housing-fund", matterCodes: ["HF-EMPLOYER-OPEN-001"], disclose: ["status", "establishedOn"])

    static func record(_ claims: ClaimSet) -> SharedRecord {
        SharedRecord(
            certificateType: "MKT-BUSINESS-LICENSE", subjectID: RulesFixture.uscc, owner: "market-regulation",
            claims: claims, updatedAt: 0)
    }

    static let full: ClaimSet = [
        "registered": .bool(true), "status": .string("in-business"), "establishedOn": .string("2001-05-04"),
        "registeredCapital": .integer(500),
    ]

    struct Case: CustomTestStringConvertible, Sendable {
        var name: String
        var requested: ClaimSet
        var record: SharedRecord?
        var outcome: Outcome
        var disclosed: ClaimSet
        var testDescription: String { name }
    }

    static let cases: [Case] = [
        Case(name: "no record", requested: ["status": .string("in-business")], record: nil, outcome: .cannotDetermine, disclosed: [:]),
        Case(
            name: "all equal, one disclosable", requested: ["status": .string("in-business"), "registered": .bool(true)],
            record: record(full), outcome: .confirmed, disclosed: ["status": .string("in-business")]),
        Case(
            name: "all equal, none disclosable", requested: ["registeredCapital": .integer(500)], record: record(full),
            outcome: .confirmed, disclosed: [:]),
        Case(
            name: "one differs: the real value of a disclosable claim is shown",
            requested: ["status": .string("revoked"), "registered": .bool(true)], record: record(full), outcome: .denied,
            disclosed: ["status": .string("in-business")]),
        Case(
            name: "differs, not disclosable", requested: ["registeredCapital": .integer(100)], record: record(full),
            outcome: .denied, disclosed: [:]),
        Case(
            name: "same value, other type", requested: ["registeredCapital": .string("500")], record: record(full),
            outcome: .denied, disclosed: [:]),
        Case(
            name: "missing from the record", requested: ["status": .string("in-business"), "establishedOn": .string("2001-05-04")],
            record: record(["status": .string("in-business")]), outcome: .denied, disclosed: ["status": .string("in-business")]),
        Case(
            name: "unstated claims are never disclosed, even when allowed", requested: ["registered": .bool(true)],
            record: record(full), outcome: .confirmed, disclosed: [:]),
    ]

    @Test(arguments: cases)
    func decisionTable(_ test: Case) {
        let decision = DataSharingDecision.decide(requested: test.requested, record: test.record, grant: Self.grant)
        #expect(decision.outcome == test.outcome)
        #expect(decision.disclosed == test.disclosed)
    }
}

@Suite struct RulesOwnerAnswerTests {
    typealias F = RulesFixture

    /// housing-fund asked civil-affairs whether the subject is married (may see maritalStatus).
    static let verification = Verification(
        id: "ver_01", certificateType: "CIV-MARRIAGE", method: .departmentVerification, requester: "housing-fund",
        owner: "civil-affairs", matterCode: "HF-WITHDRAW-001", purpose: "提取住房公积金",
        subject: Subject(idType: .residentID, id: F.residentID, name: "张三"), claims: ["maritalStatus": .string("married")],
        state: .pending, createdAt: 0, catalogVersion: 1)

    static func evaluate(_ body: String, verification: Verification = verification) -> Result<OwnerAnswerDraft, Refusal> {
        OwnerAnswerRules.evaluate(
            body: Array(body.utf8), verification: verification, certificateType: F.type(verification.certificateType))
    }

    @Test func aValidAnswer() throws {
        let draft = try #require(
            Self.evaluate(#"{"leaseToken": "lt_1", "outcome": "denied", "note": "登记为离婚\n2020年", "disclosed": {"maritalStatus": "divorced"}}"#)
                .value)
        #expect(
            draft
                == OwnerAnswerDraft(
                    leaseToken: "lt_1", outcome: .denied, note: "登记为离婚\n2020年", disclosed: ["maritalStatus": .string("divorced")]))
        #expect(
            draft.answer(queueItemID: "qi_1", owner: "civil-affairs", answeredAt: 5)
                == OwnerAnswer(
                    queueItemID: "qi_1", owner: "civil-affairs", leaseToken: "lt_1", outcome: .denied, note: "登记为离婚\n2020年",
                    disclosed: ["maritalStatus": .string("divorced")], answeredAt: 5))
        let minimal = try #require(Self.evaluate(#"{"leaseToken": "t", "outcome": "cannot-determine"}"#).value)
        #expect(minimal == OwnerAnswerDraft(leaseToken: "t", outcome: .cannotDetermine, note: nil, disclosed: [:]))
    }

    @Test func refusals() throws {
        var housingConstruction = Self.verification
        housingConstruction.requester = "housing-construction"  // its grant discloses nothing
        housingConstruction.matterCode = "HC-PURCHASE-QUAL-001"
        var kinship = Self.verification
        kinship.certificateType = "PSB-KINSHIP"
        kinship.matterCode = "HF-WITHDRAW-002"
        kinship.claims = ["relatedPersonId": .string(F.residentID)]
        let cases: [(String, Verification, [ValidationIssue])] = [
            (
                #"{}"#, Self.verification,
                [.init(path: "leaseToken", message: "missing field"), .init(path: "outcome", message: "missing field")]
            ),
            (
                #"{"leaseToken": "", "outcome": "yes", "notes": "x"}"#, Self.verification,
                [
                    .init(path: "notes", message: "unknown field, did you mean 'note'?"),
                    .init(path: "leaseToken", message: "must not be empty"),
                    .init(
                        path: "outcome",
                        message: "unknown value 'yes'; expected one of: 'confirmed', 'denied', 'cannot-determine'"),
                ]
            ),
            (
                #"{"leaseToken": 5, "outcome": "confirmed", "note": "\#(String(repeating: "注", count: 501))"}"#,
                Self.verification,
                [
                    .init(path: "leaseToken", message: "expected a string, found 5"),
                    .init(path: "note", message: "too long: 501 characters, at most 500"),
                ]
            ),
            (
                #"{"leaseToken": "t", "outcome": "confirmed", "note": null, "disclosed": []}"#, Self.verification,
                [
                    .init(path: "note", message: "expected a string, found null"),
                    .init(path: "disclosed", message: "expected an object, found an array"),
                ]
            ),
            (
                #"{"leaseToken": "t", "outcome": "denied", "disclosed": {"maritalStatus": "single", "spouse": "x"}}"#,
                Self.verification,
                [
                    .init(
                        path: "disclosed.maritalStatus",
                        message: "unknown value 'single'; expected one of: 'unmarried', 'married', 'divorced', 'widowed'"),
                    .init(path: "disclosed.spouse", message: "not a claim of 'CIV-MARRIAGE'; expected one of: maritalStatus"),
                ]
            ),
            (
                #"{"leaseToken": "t", "outcome": "denied", "disclosed": {"maritalStatus": "divorced"}}"#,
                housingConstruction,
                [
                    .init(
                        path: "disclosed.maritalStatus",
                        message: "the catalog does not let 'housing-construction' see 'maritalStatus' for matter 'HC-PURCHASE-QUAL-001'")
                ]
            ),
            (
                #"{"leaseToken": "t", "outcome": "confirmed", "disclosed": {"relationship": "spouse"}}"#, kinship,
                [
                    .init(
                        path: "disclosed.relationship",
                        message: "the requester did not state this claim; only stated claims may be disclosed")
                ]
            ),
            (
                #"{"leaseToken": "t", "outcome": "cannot-determine", "disclosed": {"maritalStatus": "married"}}"#,
                Self.verification,
                [.init(path: "disclosed", message: "must be empty when the outcome is 'cannot-determine'")]
            ),
        ]
        for (body, verification, errors) in cases {
            let refusal = try #require(Self.evaluate(body, verification: verification).refusal, "\(body)")
            #expect(RefusalSummary(refusal) == RefusalSummary(422, "validation-failed", errors.map(\.path)), "\(body)")
            #expect(refusal.errors == errors, "\(body)")
        }
        let malformed = try #require(Self.evaluate(#"{"leaseToken": "t""#).refusal)
        #expect(RefusalSummary(malformed) == RefusalSummary(400, "malformed-request"))
    }

    @Test func aGrantRemovedFromTheCatalogDisclosesNothing() throws {
        var orphan = Self.verification
        orphan.matterCode = "HF-GONE-001"
        let refusal = try #require(
            Self.evaluate(#"{"leaseToken": "t", "outcome": "confirmed", "disclosed": {"maritalStatus": "married"}}"#, verification: orphan)
                .refusal)
        #expect(refusal.errors.map(\.path) == ["disclosed.maritalStatus"])
        #expect(Self.evaluate(#"{"leaseToken": "t", "outcome": "confirmed"}"#, verification: orphan).value != nil)
    }
}
