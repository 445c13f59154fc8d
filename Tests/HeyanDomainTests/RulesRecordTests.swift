import HeyanDomain
import Testing

@Suite struct RulesRecordTests {
    typealias F = RulesFixture
    static let now: Millis = 1_768_000_000_000

    static func put(_ body: String, type: String = "PSB-NO-CRIMINAL-RECORD", subject: String = F.residentID, by caller: String = "public-security")
        -> Result<SharedRecord, Refusal>
    {
        RecordRules.put(
            body: Array(body.utf8), certificateType: type, subjectID: subject, caller: F.department(caller),
            catalog: F.catalog, today: F.today, now: now)
    }

    static func batch(_ body: String, by caller: String = "natural-resources") -> Result<[SharedRecord], Refusal> {
        RecordRules.batch(body: Array(body.utf8), caller: F.department(caller), catalog: F.catalog, today: F.today, now: now)
    }

    @Test func aValidRecord() throws {
        let record = try #require(Self.put(#"{"claims": {"hasCriminalRecord": false}}"#).value)
        #expect(
            record
                == SharedRecord(
                    certificateType: "PSB-NO-CRIMINAL-RECORD", subjectID: F.residentID, owner: "public-security",
                    claims: ["hasCriminalRecord": .bool(false)], updatedAt: Self.now))
        // A type about people and organisations takes either identifier.
        for subject in [F.residentID, F.uscc] {
            #expect(
                Self.put(
                    #"{"claims": {"ownsProperty": true, "residentialPropertyCount": 2}}"#, type: "NR-REAL-ESTATE", subject: subject,
                    by: "natural-resources"
                ).value != nil)
        }
    }

    static let cases: [(String, String, String, String, RefusalSummary)] = [
        // body, type, subject, caller, expected
        (#"{"claims": {"hasCriminalRecord": false}}"#, "NOPE", F.residentID, "public-security", .init(404, "not-found")),
        (#"{"claims": {"hasCriminalRecord": false}}"#, "PSB-NO-CRIMINAL-RECORD", F.residentID, "health", .init(403, "not-owner")),
        (#"{"claims": {}}"#, "PSB-KINSHIP", F.residentID, "public-security", .init(409, "not-data-sharing")),
        (#"{"claims": {}}"#, "COMM-ALIVE", F.residentID, "public-security", .init(403, "not-owner")),
        ("{", "PSB-NO-CRIMINAL-RECORD", F.residentID, "public-security", .init(400, "malformed-request")),
        (#"{"claim": {}}"#, "PSB-NO-CRIMINAL-RECORD", F.residentID, "public-security", .init(422, "validation-failed", ["claim", "claims"])),
        (
            #"{"claims": {"hasCriminalRecord": false}}"#, "PSB-NO-CRIMINAL-RECORD", "110105194912310021", "public-security",
            .init(422, "validation-failed", ["subjectId"])
        ),
        (#"{"claims": {}}"#, "PSB-NO-CRIMINAL-RECORD", F.residentID, "public-security", .init(422, "validation-failed", ["claims.hasCriminalRecord"])),
        (
            #"{"claims": {"hasCriminalRecord": "no", "extra": 1}}"#, "PSB-NO-CRIMINAL-RECORD", F.residentID, "public-security",
            .init(422, "validation-failed", ["claims.hasCriminalRecord", "claims.extra"])
        ),
        (
            #"{"claims": {"ownsProperty": true}}"#, "NR-REAL-ESTATE", "bad", "natural-resources",
            .init(422, "validation-failed", ["subjectId", "claims.residentialPropertyCount"])
        ),
    ]

    @Test func putRefusals() throws {
        for (body, type, subject, caller, expected) in Self.cases {
            let refusal = try #require(Self.put(body, type: type, subject: subject, by: caller).refusal, "\(type) \(body)")
            #expect(RefusalSummary(refusal) == expected, "\(type) \(body) by \(caller)")
        }
    }

    @Test func putMessages() throws {
        #expect(
            Self.put(#"{"claims": {}}"#, type: "PSB-NO-CRIMINAL-RECORD", by: "health").refusal?.detail
                == "Only its owner 'public-security' may share records of 'PSB-NO-CRIMINAL-RECORD', not 'health'.")
        #expect(
            Self.put(#"{"claims": {}}"#, type: "PSB-KINSHIP").refusal?.detail
                == "'PSB-KINSHIP' is answered by 'department-verification', not 'data-sharing': it takes no records.")
        #expect(
            Self.put(#"{"claims": {"ownsProperty": true, "residentialPropertyCount": 1}}"#, type: "NR-REAL-ESTATE", subject: "12345", by: "natural-resources")
                .refusal?.errors == [
                    ValidationIssue(
                        path: "subjectId",
                        message: "as resident-id: wrong length: 5 characters, expected 18; as uscc: wrong length: 5 characters, expected 18")
                ])
        #expect(
            Self.put(#"{"claims": {}}"#).refusal?.errors == [
                ValidationIssue(path: "claims.hasCriminalRecord", message: "missing claim")
            ])
    }

    static func batchBody(_ records: [String]) -> String { #"{"records": [\#(records.joined(separator: ","))]}"# }
    static func estate(_ subject: String, _ claims: String = #"{"ownsProperty": true, "residentialPropertyCount": 1}"#) -> String {
        #"{"certificateType": "NR-REAL-ESTATE", "subjectId": "\#(subject)", "claims": \#(claims)}"#
    }

    @Test func aValidBatch() throws {
        let records = try #require(Self.batch(Self.batchBody([Self.estate(F.residentID), Self.estate(F.uscc)])).value)
        #expect(records.map(\.subjectID) == [F.residentID, F.uscc])
        #expect(records.allSatisfy { $0.owner == "natural-resources" && $0.updatedAt == Self.now })
        #expect(records[0].claims == ["ownsProperty": .bool(true), "residentialPropertyCount": .integer(1)])
    }

    @Test func batchRefusals() throws {
        let licence = #"{"certificateType": "MKT-BUSINESS-LICENSE", "subjectId": "\#(F.uscc)", "claims": {}}"#
        let kinship = #"{"certificateType": "PSB-KINSHIP", "subjectId": "\#(F.residentID)", "claims": {}}"#
        let cases: [(String, String, RefusalSummary)] = [
            ("[]", "natural-resources", .init(400, "malformed-request")),
            (#"{"records": []}"#, "natural-resources", .init(422, "validation-failed", ["records"])),
            (#"{"records": {}}"#, "natural-resources", .init(422, "validation-failed", ["records"])),
            (#"{"record": []}"#, "natural-resources", .init(422, "validation-failed", ["record", "records"])),
            (
                Self.batchBody([Self.estate(F.residentID), "1", #"{"certificateType": "NOPE", "subjectId": "x", "claims": {}, "z": 0}"#]),
                "natural-resources", .init(422, "validation-failed", ["records[1]", "records[2].z", "records[2].certificateType"])
            ),
            (Self.batchBody([Self.estate(F.residentID), licence]), "natural-resources", .init(403, "not-owner")),
            (Self.batchBody([kinship]), "public-security", .init(409, "not-data-sharing")),
            (
                Self.batchBody([
                    Self.estate(F.residentID), Self.estate("x"), Self.estate(F.uscc, #"{"ownsProperty": 1}"#), Self.estate(F.residentID),
                ]),
                "natural-resources",
                .init(
                    422, "validation-failed",
                    [
                        "records[1].subjectId", "records[2].claims.ownsProperty", "records[2].claims.residentialPropertyCount",
                        "records[3].subjectId",
                    ])
            ),
        ]
        for (body, caller, expected) in cases {
            let refusal = try #require(Self.batch(body, by: caller).refusal, "\(body)")
            #expect(RefusalSummary(refusal) == expected, "\(body)")
        }
        let owner = try #require(Self.batch(Self.batchBody([Self.estate(F.residentID), licence])).refusal)
        #expect(
            owner.detail
                == "Only its owner 'market-regulation' may share records of 'MKT-BUSINESS-LICENSE', not 'natural-resources' (records[1]).")
        let duplicate = try #require(
            Self.batch(Self.batchBody([Self.estate(F.residentID), Self.estate(F.residentID)])).refusal)
        #expect(
            duplicate.errors == [
                ValidationIssue(path: "records[1].subjectId", message: "the same subject and type as records[0]; send each once")
            ])
    }

    @Test func batchSizeLimits() throws {
        let one = Self.estate(F.residentID)
        let tooMany = #"{"records": ["# + String(repeating: "0,", count: 10_000) + "0]}"
        #expect(
            Self.batch(tooMany).refusal?.errors == [
                ValidationIssue(path: "records", message: "too many records: 10001, at most 10000")
            ])
        // 10,000 records with distinct valid subjects are accepted; as many broken ones list the first 100 problems.
        var subjects: [String] = []
        var day = CalendarDate(year: 1980, month: 1, day: 1)!
        while subjects.count < 10_000 {
            let compact = day.description.filter { $0 != "-" }
            for serial in 1...999 where subjects.count < 10_000 {
                let body = "110105" + compact + String(serial).leftPadded(to: 3)
                subjects.append(body + String(SubjectIdentifier.residentIDCheckCharacter(for: body.map { Int(String($0))! })))
            }
            day = day.adding(days: 1)
        }
        let full = Self.batchBody(subjects.map { Self.estate($0) })
        let clock = ContinuousClock()
        var result: Result<[SharedRecord], Refusal>?
        let elapsed = clock.measure { result = Self.batch(full) }
        #expect(result?.value?.count == 10_000)
        #expect(elapsed < .seconds(2))

        let broken = Self.batchBody([String](repeating: Self.estate("x"), count: 150) + [one])
        let refusal = try #require(Self.batch(broken).refusal)
        #expect(refusal.errors.count == RecordRules.maximumListedIssues)
        #expect(
            refusal.detail
                == "The request is well-formed but 150 problems were found; the first 100 are listed. Nothing was stored.")
    }
}

extension String {
    func leftPadded(to width: Int) -> String { String(repeating: "0", count: max(0, width - count)) + self }
}
