import HeyanDomain
import Testing

/// The queue's transitions as pure functions: what a store must persist for a lease, an owner's
/// answer and an overdue mark, pinned to what the SQLite store did when the rules lived inside it
/// (Tests/HeyanStorageTests/VerificationStoreTests.swift exercises the same rules through SQL).
@Suite struct QueueTransitionsTests {
    static let t0: Millis = 1_767_225_600_000  // 2026-01-01T00:00:00.000Z

    static let pending = Verification(
        id: "ver_01", certificateType: "CIV-MARRIAGE", method: .departmentVerification, requester: "housing-fund",
        owner: "civil-affairs", matterCode: "HF-WITHDRAW-001", purpose: "提取住房公积金",
        subject: Subject(idType: .residentID, id: RulesFixture.residentID, name: "张三"),
        claims: ["maritalStatus": .string("married")], createdAt: t0, dueAt: t0 + 86_400_000, catalogVersion: 4)

    static func item(_ state: QueueItemState = .pending, leaseCount: Int = 0, overdue: Bool = false) -> QueueItem {
        QueueItem(
            id: "qi_01", kind: .verification, verificationID: "ver_01", owner: "civil-affairs", createdAt: t0,
            dueAt: t0 + 86_400_000, state: state, leaseCount: leaseCount, overdue: overdue)
    }

    @Test func aLeaseTakesTheDueFirstOfPendingAndExpiredTogether() {
        let t0 = Self.t0
        func work(_ id: String, due: Millis, created: Millis = t0, _ state: QueueItemState = .pending) -> QueueItem {
            QueueItem(
                id: id, kind: .verification, verificationID: "ver_" + id, owner: "civil-affairs", createdAt: created,
                dueAt: due, state: state)
        }
        let expiredLease = QueueItemState.leased(token: "lt", expiresAt: t0)
        let pending = [work("qi_b", due: t0 + 2), work("qi_a", due: t0 + 2), work("qi_c", due: t0 + 5)]
        let expired = [work("qi_d", due: t0 + 1, expiredLease), work("qi_e", due: t0 + 2, created: t0 - 1, expiredLease)]
        // Due date first, then creation (qi_e before the pending ones due with it), then ID.
        #expect(
            QueueItem.leaseOrder(pending: pending, expired: expired, limit: 10).map(\.id)
                == ["qi_d", "qi_e", "qi_a", "qi_b", "qi_c"])
        #expect(QueueItem.leaseOrder(pending: pending, expired: expired, limit: 2).map(\.id) == ["qi_d", "qi_e"])
        #expect(QueueItem.leaseOrder(pending: pending, expired: [], limit: 1).map(\.id) == ["qi_a"])
        #expect(QueueItem.leaseOrder(pending: [], expired: [], limit: 3).isEmpty)
    }

    static func answer(
        token: String = "lt_1", owner: String = "civil-affairs", outcome: Outcome = .denied, note: String? = "登记为离婚",
        disclosed: ClaimSet = ["maritalStatus": .string("divorced")], at time: Millis = t0 + 30_000
    ) -> OwnerAnswer {
        OwnerAnswer(
            queueItemID: "qi_01", owner: owner, leaseToken: token, outcome: outcome, note: note, disclosed: disclosed,
            answeredAt: time)
    }

    // MARK: leasing

    @Test func leasableStates() {
        #expect(QueueTransitions.isLeasable(.pending, at: Self.t0))
        #expect(!QueueTransitions.isLeasable(.leased(token: "a", expiresAt: Self.t0 + 1), at: Self.t0))
        // A lease that ends at `now` has ended: the item waits for a worker again.
        #expect(QueueTransitions.isLeasable(.leased(token: "a", expiresAt: Self.t0), at: Self.t0))
        #expect(QueueTransitions.isLeasable(.leased(token: "a", expiresAt: Self.t0 - 1), at: Self.t0))
        #expect(!QueueTransitions.isLeasable(.done(answeredToken: "a"), at: Self.t0))
    }

    @Test func leaseGivesANewTokenExpiryAndCountAndIsAudited() throws {
        let step = try #require(
            QueueTransitions.lease(Self.item(), of: Self.pending, token: "lt_1", now: Self.t0 + 100, duration: 60_000))
        #expect(step.work == Self.item(.leased(token: "lt_1", expiresAt: Self.t0 + 60_100), leaseCount: 1))
        #expect(
            step.audit
                == AuditEvent(
                    action: .queueLeased, actor: "civil-affairs", requester: "housing-fund", owner: "civil-affairs",
                    certificateType: "CIV-MARRIAGE", subjectID: RulesFixture.residentID, verificationID: "ver_01",
                    queueItemID: "qi_01",
                    detail: ["leaseExpiresAt": "2026-01-01T00:01:00.100Z", "leaseCount": "1"]))

        // An expired lease is leased again under a new token, counted.
        let again = try #require(
            QueueTransitions.lease(step.work, of: Self.pending, token: "lt_2", now: Self.t0 + 60_100, duration: 1000))
        #expect(again.work.state == .leased(token: "lt_2", expiresAt: Self.t0 + 61_100))
        #expect(again.work.leaseCount == 2)
        #expect(again.audit.detail["leaseCount"] == "2")

        // A live lease or a done item is not leased.
        #expect(QueueTransitions.lease(step.work, of: Self.pending, token: "x", now: Self.t0 + 60_099, duration: 1) == nil)
        #expect(
            QueueTransitions.lease(Self.item(.done(answeredToken: "lt_1")), of: Self.pending, token: "x", now: Self.t0, duration: 1)
                == nil)
    }

    // MARK: the lease-validity rule

    @Test(arguments: [
        (QueueItemState.leased(token: "lt_1", expiresAt: t0 + 1000), "lt_1", t0 + 999, AnswerAdmission.current),
        (.leased(token: "lt_1", expiresAt: t0 + 1000), "lt_1", t0 + 1000, .stale),  // expired at its expiry
        (.leased(token: "lt_1", expiresAt: t0 + 1000), "lt_2", t0, .stale),  // another token
        (.pending, "lt_1", t0, .stale),  // never leased
        (.done(answeredToken: "lt_1"), "lt_1", t0 + 5000, .answeredBefore),  // a retry, even after expiry
        (.done(answeredToken: "lt_1"), "lt_2", t0, .stale),
    ])
    func admission(state: QueueItemState, token: String, at time: Millis, expected: AnswerAdmission) {
        #expect(QueueTransitions.admit(token: token, at: time, to: state) == expected)
    }

    // MARK: answering

    @Test func anAnswerUnderTheCurrentLeaseAnswersTheVerificationAndDoneTheItem() throws {
        let leased = Self.item(.leased(token: "lt_1", expiresAt: Self.t0 + 60_000), leaseCount: 1)
        guard case .answer(let transition) = QueueTransitions.answer(Self.answer(), item: leased, verification: Self.pending)
        else {
            Issue.record("expected an answer")
            return
        }
        #expect(transition.item == Self.item(.done(answeredToken: "lt_1"), leaseCount: 1))
        // What the attestation is signed over: answered, without an attestation yet.
        let answer = VerificationAnswer(
            outcome: .denied, disclosed: ["maritalStatus": .string("divorced")], note: "登记为离婚",
            answeredAt: Self.t0 + 30_000, attestationID: nil)
        var expected = Self.pending
        expected.state = .answered(answer)
        #expect(transition.verification == expected)
        #expect(transition.verification.status == .answered)

        let attestation = Attestation(
            id: "att_01", verificationID: "ver_01", issuer: "civil-affairs", requester: "housing-fund",
            certificateType: "CIV-MARRIAGE", subjectID: RulesFixture.residentID, outcome: .denied, jws: "h.p.s",
            issuedAt: Self.t0 + 30_000, expiresAt: Self.t0 + 30_000 + 30 * 86_400_000)
        let (stored, event) = transition.attested(by: attestation)
        #expect(stored.attestationID == "att_01")
        #expect(stored.answer == VerificationAnswer(
            outcome: .denied, disclosed: ["maritalStatus": .string("divorced")], note: "登记为离婚",
            answeredAt: Self.t0 + 30_000, attestationID: "att_01"))
        #expect(
            event
                == AuditEvent(
                    action: .verificationAnswered, actor: "civil-affairs", requester: "housing-fund",
                    owner: "civil-affairs", certificateType: "CIV-MARRIAGE", subjectID: RulesFixture.residentID,
                    verificationID: "ver_01", attestationID: "att_01", queueItemID: "qi_01",
                    detail: ["outcome": "denied", "answeredBy": "civil-affairs", "expiresAt": "2026-01-31T00:00:30.000Z"]))
    }

    @Test func anotherOwnersItemIsNotFoundEvenWithTheRightToken() {
        let leased = Self.item(.leased(token: "lt_1", expiresAt: Self.t0 + 60_000))
        #expect(QueueTransitions.answer(Self.answer(owner: "tax-bureau"), item: leased, verification: Self.pending) == .notFound)
    }

    @Test func staleAnswers() {
        let leased = Self.item(.leased(token: "lt_1", expiresAt: Self.t0 + 60_000))
        #expect(QueueTransitions.answer(Self.answer(token: "lt_0"), item: leased, verification: Self.pending) == .staleLease)
        #expect(QueueTransitions.answer(Self.answer(at: Self.t0 + 60_000), item: leased, verification: Self.pending) == .staleLease)
        #expect(QueueTransitions.answer(Self.answer(), item: Self.item(), verification: Self.pending) == .staleLease)
    }

    @Test func theSameAnswerUnderTheAnsweringTokenIsARetryAndAnythingElseIsStale() {
        let done = Self.item(.done(answeredToken: "lt_1"))
        let answered = Self.pending
            .answering(outcome: .denied, disclosed: ["maritalStatus": .string("divorced")], note: "登记为离婚", at: Self.t0 + 30_000)
            .attested(by: "att_01")
        #expect(QueueTransitions.answer(Self.answer(at: Self.t0 + 99_000), item: done, verification: answered) == .repeated(attestationID: "att_01"))
        #expect(QueueTransitions.answer(Self.answer(outcome: .confirmed), item: done, verification: answered) == .staleLease)
        #expect(QueueTransitions.answer(Self.answer(note: nil), item: done, verification: answered) == .staleLease)
        #expect(QueueTransitions.answer(Self.answer(disclosed: [:]), item: done, verification: answered) == .staleLease)
        #expect(QueueTransitions.answer(Self.answer(token: "lt_2"), item: done, verification: answered) == .staleLease)
        // Without its attestation the stored answer cannot be repeated.
        let unattested = Self.pending.answering(
            outcome: .denied, disclosed: ["maritalStatus": .string("divorced")], note: "登记为离婚", at: Self.t0 + 30_000)
        #expect(QueueTransitions.answer(Self.answer(), item: done, verification: unattested) == .staleLease)
    }

    @Test func onlyAnAnsweredVerificationIsAttested() {
        #expect(Self.pending.attested(by: "att_01") == Self.pending)
        #expect(Self.pending.outcome == nil && Self.pending.disclosed == [:] && Self.pending.answeredAt == nil)
    }

    // MARK: overdue

    @Test func overdueMarksAnUnansweredDueItemOnce() throws {
        let due = Self.t0 + 86_400_000
        #expect(QueueTransitions.overdue(Self.item(), of: Self.pending, now: due - 1) == nil)
        let step = try #require(QueueTransitions.overdue(Self.item(), of: Self.pending, now: due))
        #expect(step.work == Self.item(overdue: true))
        #expect(
            step.audit
                == AuditEvent(
                    action: .queueOverdue, actor: "heyan", requester: "housing-fund", owner: "civil-affairs",
                    certificateType: "CIV-MARRIAGE", subjectID: RulesFixture.residentID, verificationID: "ver_01",
                    queueItemID: "qi_01", detail: ["dueAt": "2026-01-02T00:00:00.000Z"]))
        #expect(QueueTransitions.overdue(step.work, of: Self.pending, now: due + 1) == nil)
        #expect(QueueTransitions.overdue(Self.item(.done(answeredToken: "t")), of: Self.pending, now: due) == nil)
        #expect(
            QueueTransitions.overdue(Self.item(.leased(token: "t", expiresAt: due + 5)), of: Self.pending, now: due)?.work.overdue
                == true)
    }
}
