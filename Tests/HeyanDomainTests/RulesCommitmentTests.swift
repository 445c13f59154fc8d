import HeyanCrypto
import HeyanDomain
import HeyanTestSupport
import Testing

/// Commitment rules (docs/commitments.md): the request body, the template, spot-check answers, and
/// the sampling rule.
@Suite struct RulesCommitmentTests {
    static let now = Timestamp.parse("2026-01-15T08:00:00Z")!
    static let housing = RulesFixture.department("housing-fund")

    static func body(
        type: String = "TAX-INCOME", matter: String = "HF-LOAN-001", id: String = RulesFixture.residentID,
        commitment: String = #"{"text":"本人承诺收入属实。","signedAt":"2026-01-15T07:59:00Z","signedVia":"paper"}"#,
        claims: String = #","claims":{"annualIncome":80000}"#
    ) -> [UInt8] {
        Array(
            """
            {"certificateType":"\(type)","matterCode":"\(matter)","purpose":"贷款","subject":{"idType":"resident-id","id":"\(id)","name":"王五"}\(claims),"commitment":\(commitment)}
            """.utf8)
    }

    static func evaluate(_ body: [UInt8], requester: Department = housing, catalog: Catalog = RulesFixture.catalog)
        -> Result<CommitmentDraft, Refusal>
    {
        CommitmentRules.evaluate(body: body, requester: requester, catalog: catalog, today: RulesFixture.today, now: now)
    }

    static func summary(_ result: Result<CommitmentDraft, Refusal>) -> RefusalSummary? {
        guard case .failure(let refusal) = result else { return nil }
        return RefusalSummary(refusal.status, refusal.slug, refusal.errors.map(\.path))
    }

    @Test func acceptsAValidCommitment() throws {
        let draft = try Self.evaluate(Self.body()).get()
        #expect(draft.certificateType.code == "TAX-INCOME")
        #expect(draft.policy.spotCheckRate == 0.2)
        #expect(draft.claims == ["annualIncome": .integer(80000)])
        #expect(draft.text == "本人承诺收入属实。")
        #expect(draft.signedVia == .paper)
        #expect(draft.signedAt == Self.now - 60_000)
        let hashed = try Self.evaluate(
            Self.body(
                commitment: #"{"textSha256":"\#(String(repeating: "ab", count: 32))","signedAt":"2026-01-15T07:59:00Z","signedVia":"online"}"#,
                claims: "")).get()
        #expect(hashed.textSHA256 == [UInt8](repeating: 0xAB, count: 32))
        #expect(hashed.claims.isEmpty)
    }

    @Test func refusesInTheDocumentedOrder() {
        let cases: [([UInt8], Department, RefusalSummary)] = [
            (Array("[]".utf8), Self.housing, RefusalSummary(400, "malformed-request")),
            (Self.body(commitment: #"{"signedAt":"2026-01-15T07:59:00Z","signedVia":"paper"}"#), Self.housing,
             RefusalSummary(422, "validation-failed", ["commitment"])),
            (Self.body(commitment: #"{"text":"a","textSha256":"b","signedAt":"x","signedVia":"paper","extra":1}"#), Self.housing,
             RefusalSummary(422, "validation-failed", ["commitment.extra", "commitment"])),
            (Self.body(), RulesFixture.department("civil-affairs"), RefusalSummary(403, "role-required")),
            (Self.body(type: "TAX-INCOMES"), Self.housing, RefusalSummary(422, "validation-failed", ["certificateType"])),
            (Self.body(type: "COMM-ALIVE"), Self.housing, RefusalSummary(410, "certificate-cancelled")),
            (Self.body(type: "CIV-MARRIAGE"), Self.housing, RefusalSummary(409, "not-commitment")),
            (Self.body(matter: "HF-WITHDRAW-001"), Self.housing, RefusalSummary(403, "not-granted")),
            (Self.body(type: "HR-WORK-EXPERIENCE", matter: "EDU-TEACHER-CERT-001"), Self.housing, RefusalSummary(403, "not-granted")),
            (Self.body(
                id: "110105198001010011",
                commitment: #"{"text":" ","signedAt":"2026-01-15T09:00:00Z","signedVia":"fax"}"#,
                claims: #","claims":{"annualIncome":"lots"}"#), Self.housing,
             RefusalSummary(422, "validation-failed", [
                "subject.id", "claims.annualIncome", "commitment.text", "commitment.signedAt", "commitment.signedVia",
             ])),
            (Self.body(commitment: #"{"textSha256":"AB","signedAt":"2025-12-01T00:00:00Z","signedVia":"online"}"#), Self.housing,
             RefusalSummary(422, "validation-failed", ["commitment.textSha256", "commitment.signedAt"])),
        ]
        for (body, requester, expected) in cases {
            #expect(Self.summary(Self.evaluate(body, requester: requester)) == expected, "\(String(decoding: body, as: UTF8.self))")
        }
    }

    @Test func anExcludedTypeIsRefusedWithTheAlternative() throws {
        var items = RulesFixture.catalog.items
        let index = try #require(items.firstIndex { $0.code == "TAX-INCOME" })
        items[index].commitment?.excluded = CommitmentExclusion(reason: "直接关系人身健康、生命财产安全")
        let catalog = Catalog(version: 2, items: items)
        guard case .failure(let refusal) = Self.evaluate(Self.body(), catalog: catalog) else {
            Issue.record("accepted an excluded type")
            return
        }
        #expect(refusal.status == 409)
        #expect(refusal.slug == "commitment-excluded")
        #expect(refusal.extraValue("reason") == .string("直接关系人身健康、生命财产安全"))
        #expect(refusal.extraValue("alternative") == .object([
            ("method", .string("department-verification")), ("endpoint", .string("/v1/verifications")),
        ]))
        let template = CommitmentTemplateRules.evaluate(
            code: "TAX-INCOME", subjectID: nil, subjectName: nil, catalog: catalog, today: RulesFixture.today)
        #expect((try? template.get()) == nil)
    }

    /// The alternative a commitment refusal names: the owner verifies a commitment type when the
    /// subject may not commit or the type is excluded; otherwise 409 commitment-required.
    @Test func verificationOfACommitmentTypeOnlyWhenCommitmentIsUnavailable() throws {
        let body = Array(
            #"{"certificateType":"TAX-INCOME","matterCode":"HF-LOAN-001","purpose":"贷款","subject":{"idType":"resident-id","id":"\#(RulesFixture.residentID)","name":"王五"},"claims":{"annualIncome":1}}"#.utf8)
        func evaluate(_ catalog: Catalog, listed: Bool) -> Result<VerificationDraft, Refusal> {
            VerificationRequestRules.evaluate(
                body: body, requester: Self.housing, catalog: catalog, today: RulesFixture.today,
                commitmentUnavailable: { $0 == RulesFixture.residentID && listed })
        }
        guard case .failure(let refusal) = evaluate(RulesFixture.catalog, listed: false) else {
            Issue.record("a commitment type was verified")
            return
        }
        #expect(refusal.slug == "commitment-required")
        #expect(try evaluate(RulesFixture.catalog, listed: true).get().certificateType.code == "TAX-INCOME")
        var items = RulesFixture.catalog.items
        let index = try #require(items.firstIndex { $0.code == "TAX-INCOME" })
        items[index].commitment?.excluded = CommitmentExclusion(reason: "不适用")
        #expect(try evaluate(Catalog(version: 2, items: items), listed: false).get().matterCode == "HF-LOAN-001")
    }

    @Test func templateFillsPlaceholders() throws {
        let filled = try CommitmentTemplateRules.evaluate(
            code: "TAX-INCOME", subjectID: RulesFixture.residentID, subjectName: "王五", catalog: RulesFixture.catalog,
            today: RulesFixture.today
        ).get()
        #expect(filled.template.mustProve.hasPrefix("本人王五（公民身份号码：11010519491231002X）承诺"))
        #expect(filled.template.obligation.hasPrefix("承诺人王五知晓"))
        #expect(filled.unfilled.isEmpty)
        #expect(filled.text.split(separator: "\n").count == 6)
        let partial = try CommitmentTemplateRules.evaluate(
            code: "TAX-INCOME", subjectID: nil, subjectName: "王五", catalog: RulesFixture.catalog, today: RulesFixture.today
        ).get()
        #expect(partial.unfilled == ["subjectId"])
        #expect(partial.text.contains("{subjectId}"))

        func refusal(_ code: String, _ id: String? = nil, _ name: String? = nil) -> RefusalSummary? {
            guard case .failure(let r) = CommitmentTemplateRules.evaluate(
                code: code, subjectID: id, subjectName: name, catalog: RulesFixture.catalog, today: RulesFixture.today)
            else { return nil }
            return RefusalSummary(r.status, r.slug, r.errors.map(\.path))
        }
        #expect(refusal("NOPE") == RefusalSummary(404, "not-found"))
        #expect(refusal("COMM-ALIVE") == RefusalSummary(410, "certificate-cancelled"))
        #expect(refusal("PSB-NO-CRIMINAL-RECORD") == RefusalSummary(409, "not-commitment"))
        #expect(refusal("TAX-INCOME", "110105198001010011", "a\nb") == RefusalSummary(422, "validation-failed", ["subjectId", "subjectName"]))
    }

    @Test func spotCheckAnswersNeedEvidenceForAFalseCommitment() {
        func paths(_ json: String) -> [String]? {
            guard case .failure(let r) = SpotCheckAnswerRules.evaluate(body: Array(json.utf8)) else { return nil }
            return r.errors.map(\.path)
        }
        #expect(paths(#"{"leaseToken":"t","outcome":"consistent"}"#) == nil)
        #expect(paths(#"{"leaseToken":"t","outcome":"false-commitment","evidence":"税务核查 1"}"#) == nil)
        #expect(paths(#"{"leaseToken":"t","outcome":"false-commitment"}"#) == ["evidence"])
        #expect(paths(#"{"leaseToken":"","outcome":"confirmed","note":7}"#) == ["leaseToken", "outcome", "note"])
    }

    static func hmac(_ key: [UInt8], _ data: [UInt8]) -> [UInt8] { Digest.hmacSHA256(key: key, data: data) }

    /// 10,000 decisions at each rate land within 4 standard deviations of rate × n, and every
    /// decision is the same when recomputed from what it records.
    @Test func samplingRateIsWithinToleranceAndReproducible() {
        var random = SplitMix64(seed: 6)
        let seed = (0..<32).map { _ in UInt8.random(in: 0...255, using: &random) }
        let n = 10_000
        for rate in [0.05, 0.2, 0.5] {
            var sampled = 0
            for index in 0..<n {
                let id = Identifiers.make(
                    prefix: "com_", time: 1_767_225_600_000 + Int64(index),
                    random: (0..<10).map { _ in UInt8.random(in: 0...255, using: &random) })
                let decision = SpotCheckSampling.decide(seed: seed, commitmentID: id, rate: rate, hmac: Self.hmac)
                if decision.sampled { sampled += 1 }
                // Recompute from the record alone: seed hex, rule, value.
                #expect(decision.seed == hex(seed))
                let again = SpotCheckSampling.decide(seed: seed, commitmentID: id, rate: rate, hmac: Self.hmac)
                if again != decision || UInt64(decision.value, radix: 16).map({
                    SpotCheckSampling.isSampled(value: $0, rate: rate) }) != decision.sampled
                {
                    Issue.record("decision for \(id) does not recompute")
                }
            }
            let mean = rate * Double(n)
            let sd = (Double(n) * rate * (1 - rate)).squareRoot()
            #expect(abs(Double(sampled) - mean) <= 4 * sd, "rate \(rate): \(sampled) of \(n)")
        }
    }

    @Test func samplingEdgesAndKnownVector() {
        #expect(SpotCheckSampling.isSampled(value: .max, rate: 1))
        #expect(!SpotCheckSampling.isSampled(value: 0, rate: 0))
        #expect(SpotCheckSampling.isSampled(value: 0, rate: 0.0001))
        // The quotient is a double: 2^63 - 1 rounds to 2^63 (not sampled at 0.5); 2^63 - 2^11 is exact.
        #expect(SpotCheckSampling.isSampled(value: (1 << 63) - 2048, rate: 0.5))
        #expect(!SpotCheckSampling.isSampled(value: (1 << 63) - 1, rate: 0.5))
        #expect(!SpotCheckSampling.isSampled(value: 1 << 63, rate: 0.5))
        // RFC 4231 test case 2: key "Jefe", data "what do ya want for nothing?" → 5bdcc146bf60754e…
        let decision = SpotCheckSampling.decide(
            seed: Array("Jefe".utf8), commitmentID: "what do ya want for nothing?", rate: 0.5, hmac: Self.hmac)
        #expect(decision.value == "5bdcc146bf60754e")
        #expect(decision.sampled)  // 0x5bdc… / 2^64 ≈ 0.358 < 0.5
        #expect(SpotCheckSampling.dueAt(createdAt: 0, withinDays: 30) == 30 * 86_400_000)
    }

    @Test func receiptPayloadIsCanonical() throws {
        let subject = Subject(idType: .residentID, id: RulesFixture.residentID, name: "王五")
        let commitment = Commitment(
            id: "com_01KBZ6F8W0000000000000000A", certificateType: "TAX-INCOME", requester: "housing-fund",
            owner: "tax-bureau", matterCode: "HF-LOAN-001", purpose: "贷款", subject: subject, claims: [:],
            textSHA256: [UInt8](repeating: 1, count: 32), text: nil, signedAt: Self.now, signedVia: .paper,
            createdAt: Self.now, status: .committed,
            sample: SpotCheckSample(rule: SpotCheckSampling.rule, seed: "00", value: "00", rate: 0.2, sampled: false),
            receipt: CommitmentReceipt(id: "att_x", jws: "", issuedAt: Self.now, expiresAt: Self.now),
            catalogVersion: 1)
        let payload = String(decoding: CommitmentReceiptPayload.make(
            commitment: commitment, receiptID: "att_01KBZ6F8W0000000000000000B", issuer: "urn:heyan:service",
            legalBasis: "依据", issuedAt: Self.now, expiresAt: Self.now + 1000), as: UTF8.self)
        #expect(payload.hasPrefix(#"{"certificateType":"TAX-INCOME","claims":{},"commitment":"com_01KBZ6F8W0000000000000000A","commitmentTextSha256":"0101"#))
        #expect(payload.contains(#""method":"commitment","nbf":1768464000,"outcome":"committed","requester":"housing-fund","signedAt":1768464000,"signedVia":"paper","subject":{"id":"11010519491231002X","idType":"resident-id","name":"王五"}}"#))
    }
}
