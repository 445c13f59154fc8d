import HeyanCrypto
import HeyanDomain
import HeyanTestSupport
import Testing

@testable import HeyanStorage

/// The clerk (经办人) column of `audit_log` on both engines (SQLite migration 10, PostgreSQL
/// migration 3): each write that names a clerk stores it in its entries, reads give it back, and
/// every entry's stored hash is SHA-256 of the previous hash and the canonical entry — with the
/// clerk when present, without it (exactly as before) when absent.
@Suite("Audit clerk column, on SQLite and PostgreSQL")
struct AuditClerkStoreTests {
    let t0 = StoreFixture.t0

    @Test("writes naming a clerk store it in their entries; every entry hashes its canonical form", arguments: Engine.all)
    func clerksAreStoredAndHashed(_ engine: Engine) throws {
        let fixture = try StoreFixture(engine)
        var queued = fixture.queued(dueAt: t0 + 3_600_000)
        queued.audit = queued.audit.map { $0.by(clerk: "req-1") }
        #expect(try fixture.submit(queued) == .stored)
        let leased = try wait {
            fixture.store.lease(owner: StoreFixture.owner, clerk: "own.2", limit: 1, duration: 60_000, now: t0 + 1, completion: $0)
        }
        let item = try #require(leased.first)
        var answer = OwnerAnswer(
            queueItemID: item.item.id, owner: StoreFixture.owner, leaseToken: item.item.leaseToken!, outcome: .confirmed,
            note: nil, disclosed: [:], answeredAt: t0 + 2)
        answer.clerk = "own.2"
        let answered = try wait { fixture.store.answer(answer, issue: { fixture.attestation(for: $0, outcome: .confirmed, at: t0 + 2) }, completion: $0) }
        guard case .answered(_, let attestation) = answered else { Issue.record("not answered: \(answered)"); return }
        let record = SharedRecord(
            certificateType: "marriage-status", subjectID: "11010519491231002X", owner: "dept-civil-affairs",
            claims: ["maritalStatus": .string("married")], updatedAt: t0)
        _ = try wait { fixture.store.putRecords([record], actor: "dept-civil-affairs", clerk: "rec_3", now: t0 + 3, completion: $0) }
        _ = try wait {
            fixture.store.deleteRecord(
                certificateType: "marriage-status", subjectID: "11010519491231002X", actor: "dept-civil-affairs", clerk: nil,
                now: t0 + 4, completion: $0)
        }
        _ = try wait {
            fixture.store.revoke(
                attestationID: attestation.id, actor: StoreFixture.owner, clerk: "own.9", reason: "录入错误", now: t0 + 5,
                completion: $0)
        }
        try wait { fixture.store.recordRefusal(AuditEvent(action: .requestRefused, actor: "dept-x", clerk: "x1"), at: t0 + 6, completion: $0) }

        let entries = try fixture.allAuditEntries()
        let clerks = entries.map { "\($0.event.action.rawValue)=\($0.event.clerk ?? "-")" }
        #expect(
            clerks == [
                "verification.submitted=req-1", "verification.queued=req-1", "queue.leased=own.2", "verification.answered=own.2", "record.put=rec_3",
                "record.deleted=-", "attestation.revoked=own.9", "request.refused=x1",
            ])
        for entry in entries {
            #expect(Digest.sha256(entry.hashInput) == entry.hash, "entry \(entry.sequence) hashes its canonical form")
            let canonical = String(decoding: AuditEntry.canonicalBytes(sequence: entry.sequence, time: entry.time, event: entry.event), as: UTF8.self)
            #expect(canonical.contains("\"clerk\":") == (entry.event.clerk != nil))
        }
        if engine == .sqlite {
            let report = try AuditChainVerifier.verify(databasePath: fixture.path, hash: Digest.sha256) { _ in }
            #expect(report.firstBreak == nil && report.entries == Int64(entries.count))
        }
    }
}
