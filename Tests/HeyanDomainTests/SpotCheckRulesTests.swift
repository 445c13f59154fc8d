import HeyanDomain
import Testing

/// A spot check's transitions and the consequences of its finding, as pure functions: what a
/// store persists (Tests/HeyanStorageTests/CommitmentStoreTests.swift runs them through SQL).
@Suite struct SpotCheckRulesTests {
    static let t0: Millis = 1_767_225_600_000  // 2026-01-01T00:00:00.000Z
    static let subject = Subject(idType: .residentID, id: RulesFixture.residentID, name: "王五")

    static let commitment = Commitment(
        id: "com_01", certificateType: "TAX-INCOME", requester: "housing-fund", owner: "tax-bureau",
        matterCode: "HF-LOAN-001", purpose: "贷款", subject: subject, claims: ["annualIncome": .integer(1)],
        textSHA256: [1, 2], text: "承诺", signedAt: t0 - 1000, signedVia: .paper, createdAt: t0, status: .underCheck,
        sample: SpotCheckSample(rule: SpotCheckSampling.rule, seed: "ab", value: "0123456789abcdef", rate: 0.2, sampled: true),
        spotCheckID: "qsc_01", spotCheckDueAt: t0 + 60_000,
        receipt: CommitmentReceipt(id: "att_01", jws: "a.b.c", issuedAt: t0, expiresAt: t0 + 86_400_000),
        catalogVersion: 1)

    static func item(_ state: QueueItemState = .pending, overdue: Bool = false) -> SpotCheck {
        SpotCheck(
            id: "qsc_01", commitmentID: "com_01", owner: "tax-bureau", createdAt: t0, dueAt: t0 + 60_000, state: state,
            leaseCount: state == .pending ? 0 : 1, overdue: overdue)
    }

    static let leased = item(.leased(token: "lt_1", expiresAt: t0 + 10_000))

    static func answer(
        _ outcome: SpotCheckOutcome, note: String? = nil, evidence: String? = nil, token: String = "lt_1",
        owner: String = "tax-bureau"
    ) -> SpotCheckAnswer {
        SpotCheckAnswer(
            spotCheckID: "qsc_01", owner: owner, leaseToken: token, outcome: outcome, note: note, evidence: evidence,
            answeredAt: t0 + 2, creditEntryID: "crd_01")
    }

    static func record(_ answer: SpotCheckAnswer) throws -> SpotCheckFindingRecord {
        guard case .record(let record) = SpotCheckRules.answer(answer, item: leased, commitment: commitment) else {
            throw Failure()
        }
        return record
    }

    struct Failure: Error {}

    @Test func leaseNamesTheCommitmentInItsEvent() throws {
        let step = try #require(SpotCheckRules.lease(Self.item(), of: Self.commitment, token: "lt_1", now: Self.t0, duration: 10_000))
        #expect(step.work == Self.leased)
        #expect(
            step.audit
                == AuditEvent(
                    action: .queueLeased, actor: "tax-bureau", requester: "housing-fund", owner: "tax-bureau",
                    certificateType: "TAX-INCOME", subjectID: RulesFixture.residentID, queueItemID: "qsc_01",
                    detail: ["commitment": "com_01", "leaseExpiresAt": "2026-01-01T00:00:10.000Z", "leaseCount": "1"]))
        #expect(SpotCheckRules.lease(Self.leased, of: Self.commitment, token: "x", now: Self.t0 + 9_999, duration: 1) == nil)
    }

    @Test func aConsistentFindingClosesTheCommitment() throws {
        let record = try Self.record(Self.answer(.consistent, note: "与纳税申报一致"))
        #expect(record.spotCheck == Self.item(.done(answeredToken: "lt_1")))
        var expected = Self.commitment
        expected.status = .consistent
        expected.finding = SpotCheckFinding(
            outcome: .consistent, note: "与纳税申报一致", evidence: nil, checkedBy: "tax-bureau", checkedAt: Self.t0 + 2)
        #expect(record.commitment == expected)
        #expect(record.creditEntry == nil)
        #expect(
            record.audit == [
                AuditEvent(
                    action: .spotCheckAnswered, actor: "tax-bureau", requester: "housing-fund", owner: "tax-bureau",
                    certificateType: "TAX-INCOME", subjectID: RulesFixture.residentID, queueItemID: "qsc_01",
                    detail: ["commitment": "com_01", "outcome": "consistent", "note": "与纳税申报一致"])
            ])
    }

    @Test func aFalseFindingRevokesTheReceiptAndListsTheSubject() throws {
        let record = try Self.record(Self.answer(.falseCommitment, note: "申报收入与个税申报不符", evidence: "E-1"))
        #expect(record.commitment.status == .falseCommitment)
        #expect(
            record.commitment.receipt
                == CommitmentReceipt(
                    id: "att_01", jws: "a.b.c", issuedAt: Self.t0, expiresAt: Self.t0 + 86_400_000, revokedAt: Self.t0 + 2,
                    revocationReason: "false-commitment: 申报收入与个税申报不符", revokedBy: "tax-bureau"))
        #expect(record.commitment.creditEntryID == "crd_01")
        #expect(
            record.creditEntry
                == CreditEntry(
                    id: "crd_01", subjectIDType: .residentID, subjectID: RulesFixture.residentID,
                    certificateType: "TAX-INCOME", commitmentID: "com_01", reason: "申报收入与个税申报不符", evidence: "E-1",
                    recordedBy: "tax-bureau", recordedAt: Self.t0 + 2))
        #expect(record.audit.map(\.action) == [.spotCheckAnswered, .attestationRevoked, .creditListed])
        #expect(record.audit[1].attestationID == "att_01")
        #expect(record.audit[1].detail == ["commitment": "com_01", "reason": "false-commitment: 申报收入与个税申报不符"])
        #expect(record.audit[2].detail == ["commitment": "com_01", "entry": "crd_01", "reason": "申报收入与个税申报不符", "evidence": "E-1"])
    }

    @Test func aFalseFindingWithoutANoteGivesTheDefaultReason() throws {
        let record = try Self.record(Self.answer(.falseCommitment))
        #expect(SpotCheckRules.defaultFalseCommitmentReason == "虚假承诺：事后核查与承诺内容不符")
        #expect(record.creditEntry?.reason == "虚假承诺：事后核查与承诺内容不符")
        #expect(record.commitment.receipt.revocationReason == "false-commitment: 虚假承诺：事后核查与承诺内容不符")
        #expect(record.audit[2].detail == ["commitment": "com_01", "entry": "crd_01", "reason": "虚假承诺：事后核查与承诺内容不符"])
    }

    @Test func notFoundStaleAndRepeated() throws {
        #expect(SpotCheckRules.answer(Self.answer(.consistent, owner: "other"), item: Self.leased, commitment: Self.commitment) == .notFound)
        #expect(SpotCheckRules.answer(Self.answer(.consistent, token: "lt_0"), item: Self.leased, commitment: Self.commitment) == .staleLease)
        var late = Self.answer(.consistent)
        late.answeredAt = Self.t0 + 10_000
        #expect(SpotCheckRules.answer(late, item: Self.leased, commitment: Self.commitment) == .staleLease)

        let answer = Self.answer(.falseCommitment, note: "不符", evidence: "E-1")
        let recorded = try Self.record(answer).commitment
        let done = Self.item(.done(answeredToken: "lt_1"))
        #expect(SpotCheckRules.answer(answer, item: done, commitment: recorded) == .repeated(recorded))
        var other = answer
        other.outcome = .consistent
        #expect(SpotCheckRules.answer(other, item: done, commitment: recorded) == .staleLease)
        other = answer
        other.evidence = "E-2"
        #expect(SpotCheckRules.answer(other, item: done, commitment: recorded) == .staleLease)
        #expect(SpotCheckRules.answer(Self.answer(.falseCommitment, note: "不符", evidence: "E-1", token: "lt_2"), item: done, commitment: recorded) == .staleLease)
    }

    @Test func overdueNamesTheCommitment() throws {
        let step = try #require(SpotCheckRules.overdue(Self.item(), of: Self.commitment, now: Self.t0 + 60_000))
        #expect(step.work.overdue)
        #expect(
            step.audit
                == AuditEvent(
                    action: .queueOverdue, actor: "heyan", requester: "housing-fund", owner: "tax-bureau",
                    certificateType: "TAX-INCOME", subjectID: RulesFixture.residentID, queueItemID: "qsc_01",
                    detail: ["commitment": "com_01", "dueAt": "2026-01-01T00:01:00.000Z"]))
        #expect(SpotCheckRules.overdue(step.work, of: Self.commitment, now: Self.t0 + 70_000) == nil)
    }
}
