import HeyanTestSupport
import Testing

/// One well-formed request that a rule of design.md / docs/api-rules.md refuses. `{item}`,
/// `{token}`, `{verification}`, `{attestation}` and `{record}` in the target and body are replaced
/// by the seeded objects.
struct SemanticCase: Sendable {
    let name: String
    let department: String
    let method: String
    let target: String
    let body: String?
    let status: Int
    let path: String?
    let headers: [(String, String)]

    init(
        _ name: String, _ department: String, _ method: String, _ target: String, _ body: String? = nil, _ status: Int,
        path: String? = nil, headers: [(String, String)] = []
    ) {
        self.name = name
        self.department = department
        self.method = method
        self.target = target
        self.body = body
        self.status = status
        self.path = path
        self.headers = headers
    }
}

private let person = TestSubjects.residentID(500)

private func ask(
    type: String = "CIV-MARRIAGE", matter: String = "HF-WITHDRAW-001", idType: String = "resident-id", id: String = person,
    name: String = "张三", purpose: String = "住房公积金提取", claims: String = #"{"maritalStatus":"married"}"#
) -> String {
    #"{"certificateType":"\#(type)","matterCode":"\#(matter)","purpose":"\#(purpose)","subject":{"idType":"\#(idType)","id":"\#(id)","name":"\#(name)"},"claims":\#(claims)}"#
}

private let answer = "/v1/queue/{item}/answer"
private let record = "/v1/records/PSB-NO-CRIMINAL-RECORD/"
private let company = "91350100M000100Y43"

let semanticCases: [SemanticCase] = [
    // POST /v1/verifications, in the order of the rules.
    SemanticCase("requester role missing (owner)", "civil-affairs", "POST", "/v1/verifications", ask(), 403),
    SemanticCase("requester role missing (auditor)", "audit-office", "POST", "/v1/verifications", ask(), 403),
    SemanticCase("unknown certificate type", "housing-fund", "POST", "/v1/verifications", ask(type: "CIV-MARIAGE"), 422, path: "certificateType"),
    SemanticCase("cancelled type", "housing-fund", "POST", "/v1/verifications", ask(type: "COMM-ALIVE", claims: "{}"), 410),
    SemanticCase("cancelled type, another requester", "hrss", "POST", "/v1/verifications", ask(type: "COMM-GOOD-CONDUCT", matter: "X", claims: "{}"), 410),
    SemanticCase("cancelled type with an owner", "hrss", "POST", "/v1/verifications", ask(type: "CIV-DIVORCE-PROPERTY", claims: "{}"), 410),
    SemanticCase(
        "commitment type", "finance", "POST", "/v1/verifications",
        ask(type: "MKT-NO-MAJOR-VIOLATION", matter: "FIN-PROCUREMENT-001", idType: "uscc", id: company, claims: #"{"noMajorViolationIn3Years":true}"#), 409),
    SemanticCase(
        "commitment type, not granted either", "housing-fund", "POST", "/v1/verifications",
        ask(type: "HR-WORK-EXPERIENCE", claims: #"{"yearsOfExperience":3}"#), 409),
    SemanticCase("type not granted", "housing-fund", "POST", "/v1/verifications", ask(type: "PSB-NO-CRIMINAL-RECORD", claims: #"{"hasCriminalRecord":false}"#), 403),
    SemanticCase("matter not granted", "housing-fund", "POST", "/v1/verifications", ask(matter: "HF-LOAN-001"), 403),
    SemanticCase("another requester's matter", "housing-fund", "POST", "/v1/verifications", ask(matter: "HC-PURCHASE-QUAL-001"), 403),
    SemanticCase("resident ID checksum", "housing-fund", "POST", "/v1/verifications", ask(id: "110105194912310021"), 422, path: "subject.id"),
    SemanticCase("resident ID date", "housing-fund", "POST", "/v1/verifications", ask(id: "110105194913310028"), 422, path: "subject.id"),
    SemanticCase("resident ID born tomorrow", "housing-fund", "POST", "/v1/verifications", ask(id: "110105209912310023"), 422, path: "subject.id"),
    SemanticCase("resident ID of 17 characters", "housing-fund", "POST", "/v1/verifications", ask(id: "11010519491231002"), 422, path: "subject.id"),
    SemanticCase("resident ID lowercase x", "housing-fund", "POST", "/v1/verifications", ask(id: "11010519491231002x"), 422, path: "subject.id"),
    SemanticCase("idType not of the type", "housing-fund", "POST", "/v1/verifications", ask(idType: "uscc", id: company), 422, path: "subject.idType"),
    SemanticCase("unknown idType", "housing-fund", "POST", "/v1/verifications", ask(idType: "passport", id: "E12345678"), 422, path: "subject.idType"),
    SemanticCase(
        "credit code checksum", "housing-fund", "POST", "/v1/verifications",
        ask(type: "MKT-BUSINESS-LICENSE", matter: "HF-EMPLOYER-OPEN-001", idType: "uscc", id: "91350100M000100Y44", claims: #"{"registered":true}"#),
        422, path: "subject.id"),
    SemanticCase(
        "credit code with I", "housing-fund", "POST", "/v1/verifications",
        ask(type: "MKT-BUSINESS-LICENSE", matter: "HF-EMPLOYER-OPEN-001", idType: "uscc", id: "91350100I000100Y43", claims: #"{"registered":true}"#),
        422, path: "subject.id"),
    SemanticCase("claim not in the schema", "housing-fund", "POST", "/v1/verifications", ask(claims: #"{"spouseName":"李四"}"#), 422, path: "claims.spouseName"),
    SemanticCase("claim value not in the enum", "housing-fund", "POST", "/v1/verifications", ask(claims: #"{"maritalStatus":"complicated"}"#), 422, path: "claims.maritalStatus"),
    SemanticCase("no claims", "housing-fund", "POST", "/v1/verifications", ask(claims: "{}"), 422, path: "claims"),
    SemanticCase(
        "date claim not a real day", "hrss", "POST", "/v1/verifications",
        ask(type: "HEALTH-BIRTH-MEDICAL", matter: "HR-MATERNITY-001", claims: #"{"birthDate":"2023-02-29"}"#), 422, path: "claims.birthDate"),
    SemanticCase(
        "integer claim 1.5", "housing-fund", "POST", "/v1/verifications",
        ask(type: "NR-REAL-ESTATE", matter: "HF-LOAN-001", claims: #"{"residentialPropertyCount":1.5}"#), 422, path: "claims.residentialPropertyCount"),
    SemanticCase(
        "integer claim as a string", "housing-fund", "POST", "/v1/verifications",
        ask(type: "NR-REAL-ESTATE", matter: "HF-LOAN-001", claims: #"{"residentialPropertyCount":"1"}"#), 422, path: "claims.residentialPropertyCount"),
    SemanticCase(
        "integer claim 1e2", "housing-fund", "POST", "/v1/verifications",
        ask(type: "NR-REAL-ESTATE", matter: "HF-LOAN-001", claims: #"{"residentialPropertyCount":1e2}"#), 422, path: "claims.residentialPropertyCount"),
    SemanticCase("blank purpose", "housing-fund", "POST", "/v1/verifications", ask(purpose: "  "), 422, path: "purpose"),
    SemanticCase("purpose of 201 characters", "housing-fund", "POST", "/v1/verifications", ask(purpose: String(repeating: "因", count: 201)), 422, path: "purpose"),
    SemanticCase("purpose with a line break", "housing-fund", "POST", "/v1/verifications", ask(purpose: #"a\nb"#), 422, path: "purpose"),
    SemanticCase("blank name", "housing-fund", "POST", "/v1/verifications", ask(name: ""), 422, path: "subject.name"),
    SemanticCase("name of 101 characters", "housing-fund", "POST", "/v1/verifications", ask(name: String(repeating: "张", count: 101)), 422, path: "subject.name"),
    SemanticCase("name with a control character", "housing-fund", "POST", "/v1/verifications", ask(name: #"张\u0007三"#), 422, path: "subject.name"),
    SemanticCase(
        "idempotency key reused with another body", "housing-fund", "POST", "/v1/verifications", ask(id: TestSubjects.residentID(501)), 409,
        headers: [("Idempotency-Key", "seeded-key")]),

    // Reading verifications.
    SemanticCase("unknown verification", "housing-fund", "GET", "/v1/verifications/ver_00000000000000000000000000", nil, 404),
    SemanticCase("another requester's verification", "hrss", "GET", "/v1/verifications/{verification}", nil, 404),
    SemanticCase("another owner's verification", "public-security", "GET", "/v1/verifications/{verification}", nil, 404),
    SemanticCase("wait not a number", "housing-fund", "GET", "/v1/verifications/{verification}?wait=soon", nil, 400),
    SemanticCase("negative wait", "housing-fund", "GET", "/v1/verifications/{verification}?wait=-1", nil, 400),

    // The owner queue.
    SemanticCase("queue without the owner role", "housing-fund", "GET", "/v1/queue", nil, 403),
    SemanticCase("queue limit 0", "civil-affairs", "GET", "/v1/queue?limit=0", nil, 400),
    SemanticCase("queue limit not a number", "civil-affairs", "GET", "/v1/queue?limit=ten", nil, 400),
    SemanticCase("queue lease 0", "civil-affairs", "GET", "/v1/queue?lease=0", nil, 400),
    SemanticCase("answer without the owner role", "housing-fund", "POST", answer, #"{"leaseToken":"{token}","outcome":"confirmed"}"#, 403),
    SemanticCase("answer another owner's item", "public-security", "POST", answer, #"{"leaseToken":"{token}","outcome":"confirmed"}"#, 404),
    SemanticCase("answer an unknown item", "civil-affairs", "POST", "/v1/queue/qi_00000000000000000000000000/answer", #"{"leaseToken":"{token}","outcome":"confirmed"}"#, 404),
    SemanticCase("stale lease token", "civil-affairs", "POST", answer, #"{"leaseToken":"lease-from-yesterday","outcome":"confirmed"}"#, 409),
    SemanticCase("unknown outcome", "civil-affairs", "POST", answer, #"{"leaseToken":"{token}","outcome":"probably"}"#, 422, path: "outcome"),
    SemanticCase("missing lease token", "civil-affairs", "POST", answer, #"{"outcome":"confirmed"}"#, 422, path: "leaseToken"),
    SemanticCase("note of 501 characters", "civil-affairs", "POST", answer, #"{"leaseToken":"{token}","outcome":"denied","note":"\#(String(repeating: "注", count: 501))"}"#, 422, path: "note"),
    SemanticCase("disclosing a claim not of the type", "civil-affairs", "POST", answer, #"{"leaseToken":"{token}","outcome":"confirmed","disclosed":{"income":1}}"#, 422, path: "disclosed.income"),
    SemanticCase("disclosing with cannot-determine", "civil-affairs", "POST", answer, #"{"leaseToken":"{token}","outcome":"cannot-determine","disclosed":{"maritalStatus":"married"}}"#, 422),
    SemanticCase("disclosing an invalid value", "civil-affairs", "POST", answer, #"{"leaseToken":"{token}","outcome":"denied","disclosed":{"maritalStatus":"complicated"}}"#, 422, path: "disclosed.maritalStatus"),

    // Records.
    SemanticCase("record of an unknown type", "public-security", "PUT", "/v1/records/PSB-NOPE/{record}", #"{"claims":{"hasCriminalRecord":false}}"#, 404),
    SemanticCase("record by a non-owner", "hrss", "PUT", record + "{record}", #"{"claims":{"hasCriminalRecord":true}}"#, 403),
    SemanticCase("record by a requester-only department", "housing-fund", "PUT", record + "{record}", #"{"claims":{"hasCriminalRecord":true}}"#, 403),
    SemanticCase("record of a department-verification type", "civil-affairs", "PUT", "/v1/records/CIV-MARRIAGE/{record}", #"{"claims":{"maritalStatus":"married"}}"#, 409),
    SemanticCase("record of a cancelled type", "civil-affairs", "PUT", "/v1/records/CIV-DIVORCE-PROPERTY/{record}", "{}", 409),
    SemanticCase("record with a bad subject ID", "public-security", "PUT", record + "110105194912310021", #"{"claims":{"hasCriminalRecord":false}}"#, 422, path: "subjectId"),
    SemanticCase("record missing a claim", "public-security", "PUT", record + "{record}", #"{"claims":{}}"#, 422),
    SemanticCase("record with an extra claim", "public-security", "PUT", record + "{record}", #"{"claims":{"hasCriminalRecord":false,"wanted":true}}"#, 422, path: "claims.wanted"),
    SemanticCase("delete a record by a non-owner", "hrss", "DELETE", record + "{record}", nil, 403),
    SemanticCase("delete an absent record", "public-security", "DELETE", record + TestSubjects.residentID(502), nil, 404),
    SemanticCase(
        "batch with the same record twice", "public-security", "POST", "/v1/records:batch",
        #"{"records":[{"certificateType":"PSB-NO-CRIMINAL-RECORD","subjectId":"{record}","claims":{"hasCriminalRecord":true}},{"certificateType":"PSB-NO-CRIMINAL-RECORD","subjectId":"{record}","claims":{"hasCriminalRecord":false}}]}"#,
        422),
    SemanticCase(
        "batch with another owner's type", "public-security", "POST", "/v1/records:batch",
        #"{"records":[{"certificateType":"PSB-NO-CRIMINAL-RECORD","subjectId":"{record}","claims":{"hasCriminalRecord":true}},{"certificateType":"MKT-BUSINESS-LICENSE","subjectId":"\#(company)","claims":{"registered":true,"status":"active","establishedOn":"2001-01-01","registeredCapital":1}}]}"#,
        403),
    SemanticCase("batch of nothing", "public-security", "POST", "/v1/records:batch", #"{"records":[]}"#, 422, path: "records"),
    SemanticCase(
        "batch with one bad record among good ones", "public-security", "POST", "/v1/records:batch",
        #"{"records":[{"certificateType":"PSB-NO-CRIMINAL-RECORD","subjectId":"\#(TestSubjects.residentID(503))","claims":{"hasCriminalRecord":true}},{"certificateType":"PSB-NO-CRIMINAL-RECORD","subjectId":"110105194912310021","claims":{"hasCriminalRecord":true}}]}"#,
        422, path: "records[1].subjectId"),

    // Attestations.
    SemanticCase("unknown attestation", "hrss", "GET", "/v1/attestations/att_00000000000000000000000000", nil, 404),
    SemanticCase("another department's attestation", "civil-affairs", "GET", "/v1/attestations/{attestation}", nil, 404),
    SemanticCase("another department's attestation status", "housing-fund", "GET", "/v1/attestations/{attestation}/status", nil, 404),
    SemanticCase("revoke by the requester", "hrss", "POST", "/v1/attestations/{attestation}/revoke", #"{"reason":"mine"}"#, 403),
    SemanticCase("revoke by another owner", "civil-affairs", "POST", "/v1/attestations/{attestation}/revoke", #"{"reason":"not mine"}"#, 404),
    SemanticCase("revoke with a blank reason", "public-security", "POST", "/v1/attestations/{attestation}/revoke", #"{"reason":" "}"#, 422, path: "reason"),
    SemanticCase("revoke without a reason", "public-security", "POST", "/v1/attestations/{attestation}/revoke", "{}", 422, path: "reason"),
    SemanticCase("revoke an unknown attestation", "public-security", "POST", "/v1/attestations/att_00000000000000000000000000/revoke", #"{"reason":"x"}"#, 404),

    // Audit and catalog.
    SemanticCase("audit without the auditor role", "housing-fund", "GET", "/v1/audit", nil, 403),
    SemanticCase("checkpoint without the auditor role", "civil-affairs", "GET", "/v1/audit/checkpoint", nil, 403),
    SemanticCase("audit with a bad cursor", "audit-office", "GET", "/v1/audit?cursor=zzz", nil, 400),
    SemanticCase("audit with a bad time", "audit-office", "GET", "/v1/audit?from=yesterday", nil, 400),
    SemanticCase("unknown catalog item", "housing-fund", "GET", "/v1/catalog/NOPE", nil, 404),
]

extension BadInputMatrix {
    @Suite(.serialized) struct BadInputSemanticsTests {
        @Test func everyRuleRefusesExactlyAndChangesNothing() throws {
            let fixture = try BadInputFixture()
            let seeded = try fixture.seed()
            var clients: [String: DepartmentClient] = [:]
            func client(_ code: String) throws -> DepartmentClient {
                if let client = clients[code] { return client }
                let client = try DepartmentClient(fixture.service, code)
                clients[code] = client
                return client
            }
            // The idempotency key the reuse case collides with.
            #expect(try client("housing-fund").post("/v1/verifications", ask(), headers: [("Idempotency-Key", "seeded-key")]).status == 202)
            func fill(_ text: String) -> String {
                text.replacingOccurrences(of: "{item}", with: seeded.queueItemID)
                    .replacingOccurrences(of: "{token}", with: seeded.leaseToken)
                    .replacingOccurrences(of: "{verification}", with: seeded.verificationID)
                    .replacingOccurrences(of: "{attestation}", with: seeded.attestationID)
                    .replacingOccurrences(of: "{record}", with: seeded.recordSubject)
            }
            try fixture.whileProbingHealth("semantics") {
                for rule in semanticCases {
                    try fixture.expectNothingChanged(rule.name, refusals: 1) {
                        let connection = try client(rule.department).connection
                        let response = try connection.request(
                            rule.method, fill(rule.target),
                            headers: (rule.body == nil ? [] : [("Content-Type", "application/json")]) + rule.headers,
                            body: rule.body.map { Array(fill($0).utf8) })
                        #expect(response.status == rule.status, "\(rule.name): \(response.status) \(response.bodyText.prefix(400))")
                        #expect(response.headers["Content-Type"] == "application/problem+json", "\(rule.name)")
                        if let path = rule.path {
                            #expect(response.errorPaths.contains(path), "\(rule.name): errors \(response.errorPaths)")
                        }
                    }
                }
                // After all that, the seeded lease still answers: nothing was consumed by the refusals.
                let answered = try client("civil-affairs").post(
                    "/v1/queue/\(seeded.queueItemID)/answer", #"{"leaseToken":"\#(seeded.leaseToken)","outcome":"confirmed"}"#)
                #expect(answered.status == 200)
            }
            #expect(fixture.cases >= 60)
        }
    }
}
