import HeyanCrypto
import HeyanDomain
import HeyanTestSupport
import HeyanTransparencyLog
import Testing

@testable import HeyanStorage

/// Erasure after retention and witness cosignatures, on both engines: what the transparency-log
/// routes and the maintenance loop ask of the store (docs/audit.md "Retention",
/// docs/transparency-log.md "Witnesses").
@Suite("Audit retention and witness cosignatures, on SQLite and PostgreSQL")
struct AuditRetentionStoreTests {
    let t0 = StoreFixture.t0

    @Test("erasure empties subject, salt and personal detail, keeps every leaf; the trigger passes only that UPDATE",
        arguments: Engine.all)
    func erasureKeepsTheTree(_ engine: Engine) throws {
        let fixture = try StoreFixture(engine)
        let log = fixture.auditLog
        let old = fixture.answeredAtOnce(createdAt: t0)
        #expect(try fixture.submit(old) == .stored)  // entries 1, 2 name the subject
        let refusal = AuditEvent(
            action: .requestRefused, actor: "dept-civil",
            detail: ["route": "/v1/subjects/110105194912310037", "status": "403", "problem": "forbidden"])
        try wait { fixture.store.recordRefusal(refusal, at: t0 + 1, completion: $0) }  // entry 3
        let recent = fixture.answeredAtOnce(createdAt: t0 + 10_000)
        #expect(try fixture.submit(recent) == .stored)  // entries 4, 5
        let before = try fixture.integratedTreeHead()
        #expect(before.size == 5)
        let leavesBefore = try (0..<5).map { try #require(try log.auditLeaf(index: $0)).data }

        let request = ErasureRequest(accessBefore: t0 + 5000, securityBefore: t0 + 5000, now: t0 + 20_000)
        let counts = try wait { log.erasePersonalData(request, completion: $0) }
        var expected = ErasureCounts()
        (expected.entries, expected.securityEntries, expected.verifications, expected.attestations) = (2, 1, 1, 1)
        expected.auditSequence = 6
        #expect(counts == expected)

        // Every leaf as it was; the tree only grew by the audit.erased entry.
        let after = try fixture.integratedTreeHead()
        #expect(after.size == 6)
        #expect(try (0..<5).map { try #require(try log.auditLeaf(index: $0)).data } == leavesBefore)
        let consistency = try log.consistencyProof(first: before.size, second: after.size)
        #expect(
            Merkle.verifyConsistency(
                first: before.size, second: after.size, firstRoot: before.root, secondRoot: after.root, proof: consistency))
        for index: UInt64 in 0..<3 {
            let leaf = try #require(try log.auditLeaf(index: index))
            #expect(leaf.salt.isEmpty && leaf.entry.event.subjectID == nil)
        }
        #expect(try #require(try log.auditLeaf(index: 2)).entry.event.detail == ["status": "403", "problem": "forbidden"])
        let kept = try #require(try log.auditLeaf(index: 3))
        #expect(kept.salt.count == 32 && kept.entry.event.subjectID == recent.verification.subject.id)
        let erasedEntry = try #require(try log.auditLeaf(index: 5)).entry.event
        #expect(erasedEntry == AuditRetention.erasedEvent(request, counts))

        // A time filter finds erased and kept entries alike (two partial time indexes on SQLite).
        func inRange(after: Int64 = 0, limit: Int = 100) throws -> [Int64] {
            try fixture.store.auditEntries(matching: AuditFilter(from: t0, to: t0 + 20_000), after: after, limit: limit)
                .map(\.sequence)
        }
        #expect(try inRange() == [1, 2, 3, 4, 5])
        #expect(try inRange(limit: 2) == [1, 2])
        #expect(try inRange(after: 2, limit: 2) == [3, 4])
        #expect(try fixture.store.auditEntries(
            matching: AuditFilter(subjectID: recent.verification.subject.id, from: t0), after: 0, limit: 10
        ).map(\.sequence) == [4, 5])

        let verification = try #require(try fixture.store.verification(id: old.verification.id))
        #expect(verification.subject.id.isEmpty && verification.subject.name.isEmpty && verification.claims.isEmpty)
        let attestation = try #require(try fixture.store.attestation(id: old.attestation!.id))
        #expect(attestation.subjectID.isEmpty && attestation.jws.isEmpty)
        #expect(try fixture.store.verification(id: recent.verification.id) == recent.verification)

        // A second run finds nothing and appends nothing.
        #expect(try wait { log.erasePersonalData(request, completion: $0) }.total == 0)
        #expect(try log.treeHead() == after)

        // Any other change to audit_log is refused by the database itself.
        for statement in [
            "UPDATE audit_log SET actor = 'someone' WHERE sequence = 4",
            "UPDATE audit_log SET subject_id = NULL WHERE sequence = 4",
            "UPDATE audit_log SET salt = NULL, subject_id = NULL, action = 'x' WHERE sequence = 4",
            "UPDATE audit_log SET salt = NULL, subject_id = NULL WHERE sequence = 1",  // erased already
            "DELETE FROM audit_log WHERE sequence = 6",
        ] {
            #expect(throws: (any Error).self, "\(statement)") { try fixture.rawSQL(statement) }
        }
        #expect(try log.treeHead() == after)
    }

    @Test("cosignatures: one line per witness, a later line replaces it, the quorum read counts them",
        arguments: Engine.all)
    func cosignatures(_ engine: Engine) throws {
        let fixture = try StoreFixture(engine)
        let log = fixture.auditLog
        let signer = try AuditTreeTests.logSigner()
        let origin = "localhost/audit/v1"
        func publish(at time: Millis) throws -> StoredCheckpointNote {
            try #require(try wait { log.publishCheckpointNote(signer: signer, origin: origin, now: time, completion: $0) })
        }
        func attach(_ lines: [(String, String)], to size: UInt64) throws -> StoredCheckpointNote? {
            try wait {
                log.attachCosignatures(
                    lines.map { WitnessCosignature(witness: $0.0, line: $0.1) }, size: size, now: t0, completion: $0)
            }
        }
        #expect(try fixture.submit(fixture.answeredAtOnce()) == .stored)
        let first = try publish(at: t0)
        #expect(try log.latestCheckpointNote(cosignedBy: 1) == nil)
        #expect(try log.latestCheckpointNote(cosignedBy: 0) == first)

        let once = try #require(try attach([("w-b", "— w-b one\n")], to: first.size))
        #expect(once.cosignatures == ["— w-b one\n"] && once.size == first.size && once.note == first.note)
        #expect(try log.latestCheckpointNote(cosignedBy: 1) == once)
        #expect(try log.latestCheckpointNote(cosignedBy: 2) == nil)

        // A newer checkpoint without cosignatures does not displace the cosigned one for a quorum.
        #expect(try fixture.submit(fixture.answeredAtOnce()) == .stored)
        let second = try publish(at: t0 + 5)
        #expect(second.size > first.size)
        #expect(try log.latestCheckpointNote() == second)
        #expect(try log.latestCheckpointNote(cosignedBy: 1)?.size == first.size)

        // Witness w-b signs again (replaced), w-a joins: ordered by witness.
        let both = try #require(try attach([("w-b", "— w-b two\n"), ("w-a", "— w-a one\n")], to: first.size))
        #expect(both.cosignatures == ["— w-a one\n", "— w-b two\n"])
        #expect(try log.latestCheckpointNote(cosignedBy: 2) == both)
        _ = try attach([("w-a", "— w-a second\n")], to: second.size)
        #expect(try log.latestCheckpointNote(cosignedBy: 1)?.size == second.size)
        #expect(try log.latestCheckpointNote(cosignedBy: 2)?.size == first.size)
        #expect(try log.checkpointNotes().map(\.cosignatures) == [["— w-a one\n", "— w-b two\n"], ["— w-a second\n"]])
    }
}
