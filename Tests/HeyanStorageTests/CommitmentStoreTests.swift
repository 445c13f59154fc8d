import HeyanCrypto
import HeyanDomain
import HeyanPostgresStore
import HeyanTestSupport
import Synchronization
import Testing

@testable import HeyanStorage

/// The CommitmentStore on both engines: rows round-trip, the credit check runs inside the
/// transaction, a false finding revokes, lists and audits in one commit, overdue spot checks are
/// marked once; on PostgreSQL, spot checks leased by two stores on one schema go to one of them.
@Suite struct CommitmentStoreTests {
    static let t0 = StoreFixture.t0

    static func commitment(_ fixture: StoreFixture, subject: String = "11010519491231002X", sampled: Bool) -> NewCommitment {
        let id = fixture.identifier("com_")
        let spotCheck = sampled
            ? SpotCheck(id: fixture.identifier("qsc_"), commitmentID: id, owner: "tax-bureau", createdAt: t0, dueAt: t0 + 60_000)
            : nil
        let c = Commitment(
            id: id, certificateType: "TAX-INCOME", requester: "housing-fund", owner: "tax-bureau",
            matterCode: "HF-LOAN-001", purpose: "贷款", subject: Subject(idType: .residentID, id: subject, name: "王五"),
            claims: ["annualIncome": .integer(1)], textSHA256: Digest.sha256(Array("承诺".utf8)), text: "承诺",
            signedAt: t0 - 1000, signedVia: .paper, createdAt: t0, status: sampled ? .underCheck : .committed,
            sample: SpotCheckSample(rule: SpotCheckSampling.rule, seed: "ab", value: "0123456789abcdef", rate: 0.2, sampled: sampled),
            spotCheckID: spotCheck?.id, spotCheckDueAt: spotCheck?.dueAt,
            receipt: CommitmentReceipt(id: fixture.identifier("att_"), jws: "a.b.c", issuedAt: t0, expiresAt: t0 + 86_400_000),
            catalogVersion: 1)
        return NewCommitment(
            commitment: c, spotCheck: spotCheck, idempotency: nil,
            audit: [AuditEvent(action: .commitmentSubmitted, actor: "housing-fund", subjectID: subject, detail: ["commitment": id])])
    }

    @Test(arguments: Engine.all) func lifecycleInTheDatabase(_ engine: Engine) throws {
        let fixture = try StoreFixture(engine)
        let store = fixture.store
        #expect(try store.spotCheckSeed().count == 32)

        let plain = Self.commitment(fixture, subject: "110105194912310037", sampled: false)
        #expect(try wait { store.submitCommitment(plain, completion: $0) } == .stored)
        #expect(try store.commitment(id: plain.commitment.id) == plain.commitment)
        #expect(try store.commitment(receiptID: plain.commitment.receipt.id) == plain.commitment)

        let new = Self.commitment(fixture, sampled: true)
        #expect(try wait { store.submitCommitment(new, completion: $0) } == .stored)
        #expect(try store.commitment(id: new.commitment.id) == new.commitment)

        // Overdue once, then not again.
        #expect(try wait { store.markSpotChecksOverdue(now: Self.t0 + 60_000, completion: $0) } == 1)
        #expect(try wait { store.markSpotChecksOverdue(now: Self.t0 + 120_000, completion: $0) } == 0)

        let leased = try wait { store.leaseSpotChecks(owner: "tax-bureau", limit: 10, duration: 60_000, now: Self.t0 + 1, completion: $0) }
        #expect(leased.count == 1)
        #expect(leased.first?.item.overdue == true)
        #expect(try wait { store.leaseSpotChecks(owner: "other", limit: 10, duration: 60_000, now: Self.t0 + 1, completion: $0) }.isEmpty)
        let token = try #require(leased.first?.item.leaseToken)
        let answer = SpotCheckAnswer(
            spotCheckID: new.spotCheck!.id, owner: "tax-bureau", leaseToken: token, outcome: .falseCommitment,
            note: "不符", evidence: "E-1", answeredAt: Self.t0 + 2, creditEntryID: fixture.identifier("crd_"))
        #expect(try wait { store.answerSpotCheck(SpotCheckAnswer(
            spotCheckID: answer.spotCheckID, owner: "other", leaseToken: token, outcome: .consistent, note: nil,
            evidence: nil, answeredAt: Self.t0 + 2, creditEntryID: "crd_x"), completion: $0) } == .notFound)
        guard case .answered(let answered) = try wait({ store.answerSpotCheck(answer, completion: $0) }) else {
            Issue.record("not answered")
            return
        }
        #expect(answered.status == .falseCommitment)
        #expect(answered.receipt.revokedAt == Self.t0 + 2)
        #expect(try store.commitment(id: new.commitment.id) == answered)
        #expect(try wait { store.answerSpotCheck(answer, completion: $0) } == .repeated(answered))
        var other = answer
        other.outcome = .consistent
        #expect(try wait { store.answerSpotCheck(other, completion: $0) } == .staleLease)

        let entries = try store.creditEntries(subjectID: new.commitment.subject.id)
        #expect(entries.map(\.evidence) == ["E-1"])
        #expect(entries.first?.isActive == true)

        // The credit check is made inside the write transaction.
        let refused = Self.commitment(fixture, sampled: false)
        #expect(try wait { store.submitCommitment(refused, completion: $0) } == .creditListed(entries[0]))
        #expect(try store.commitment(id: refused.commitment.id) == nil)

        guard case .removed(let removed) = try wait({ store.removeCreditEntry(
            subjectID: new.commitment.subject.id, entryID: entries[0].id, actor: "data-office", reason: "修复",
            now: Self.t0 + 3, completion: $0) })
        else {
            Issue.record("not removed")
            return
        }
        #expect(!removed.isActive)
        #expect(try wait { store.removeCreditEntry(
            subjectID: "nobody", entryID: entries[0].id, actor: "data-office", reason: "x", now: Self.t0 + 3, completion: $0) } == .notFound)
        #expect(try wait { store.submitCommitment(refused, completion: $0) } == .stored)

        let actions = try store.auditEntries(matching: AuditFilter(subjectID: new.commitment.subject.id), after: 0, limit: 100)
            .map(\.event.action.rawValue)
        #expect(actions == [
            "commitment.submitted", "queue.overdue", "queue.leased", "spot-check.answered", "attestation.revoked",
            "credit.listed", "credit.removed", "commitment.submitted",
        ])
    }

    @Test(
        "spot checks leased by two stores on one schema are each leased exactly once",
        .enabled(if: Engine.all.contains(.postgresql)))
    func twoStoresLeaseEachSpotCheckOnce() throws {
        let fixture = try StoreFixture(.postgresql)
        let other = try PostgresVerificationStore(conninfo: fixture.conninfo, hash: Digest.sha256, clock: fixture.clock)
        defer { other.close() }
        let count = 40
        for _ in 0..<count {
            #expect(try wait { fixture.store.submitCommitment(Self.commitment(fixture, sampled: true), completion: $0) } == .stored)
        }
        // Both stores lease in small bites at once until the queue is empty.
        let stores: [any CommitmentStore] = [fixture.store, other]
        let leased = Mutex<[[String]]>([[], []])
        runOnThreads(2) { index in
            while true {
                let bite = (try? wait {
                    stores[index].leaseSpotChecks(
                        owner: "tax-bureau", limit: 3, duration: 600_000, now: Self.t0 + 1, completion: $0)
                }) ?? []
                if bite.isEmpty { break }
                leased.withLock { $0[index] += bite.map(\.item.id) }
            }
        }
        let all = leased.withLock { $0 }
        #expect(all[0].count + all[1].count == count)
        #expect(Set(all[0] + all[1]).count == count)
        #expect(Set(all[0]).isDisjoint(with: all[1]))
        let leaseEntries = try fixture.store.auditEntries(
            matching: AuditFilter(action: .queueLeased), after: 0, limit: 1000)
        #expect(leaseEntries.count == count)
        #expect(try fixture.store.spotCheckQueueCounts().map(\.leased) == [count])
    }
}
