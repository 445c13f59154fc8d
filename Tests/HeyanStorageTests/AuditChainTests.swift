import Glibc
import HeyanDomain
import Synchronization
import HeyanCrypto
import Testing

@testable import HeyanStorage

private struct BadSignature: Error {}

@Suite("Audit chain: hashes, tampering, checkpoints, AuditChainVerifier")
struct AuditChainTests {
    let fixture: StoreFixture
    let t0 = StoreFixture.t0

    init() throws {
        fixture = try StoreFixture()
    }

    /// Three submits (six entries) and a checkpoint after the first two entries... and at the end.
    private func populate() throws {
        for index in 0..<3 {
            #expect(try fixture.submit(fixture.queued(createdAt: t0 + Millis(index), dueAt: t0 + 1000)) == .stored)
            if index == 0 {
                _ = try wait { fixture.sqliteStore.checkpoint(now: t0 + 1, sign: { _ in "jws-a" }, completion: $0) }
            }
        }
        _ = try wait { fixture.sqliteStore.checkpoint(now: t0 + 9, sign: { _ in "jws-b" }, completion: $0) }
    }

    private func verify(_ checkSignature: (AuditCheckpoint) throws -> Void = { _ in }) throws -> AuditVerificationReport {
        try AuditChainVerifier.verify(databasePath: fixture.path, hash: Digest.sha256, verifyCheckpoint: checkSignature)
    }

    @Test("entries are numbered 1…n, each chained to the previous one with SHA-256 of its canonical bytes")
    func chainHashes() throws {
        try populate()
        let entries = try fixture.allAuditEntries()
        #expect(entries.count == 6)
        var previous = AuditEntry.genesisHash
        for (offset, entry) in entries.enumerated() {
            #expect(entry.sequence == Int64(offset + 1))
            #expect(entry.previousHash == previous)
            let expected = Digest.sha256(
                previous + AuditEntry.canonicalBytes(sequence: entry.sequence, time: entry.time, event: entry.event))
            #expect(entry.hash == expected)
            previous = entry.hash
        }
        // The canonical bytes are the documented JSON: keys in byte order, absent fields left out.
        let first = entries[0]
        let text = String(decoding: AuditEntry.canonicalBytes(sequence: 1, time: first.time, event: first.event), as: UTF8.self)
        #expect(text.hasPrefix(#"{"action":"verification.submitted","actor":"dept-civil","certificateType":"marriage-status","detail":{"matterCode":"MC-001","method":"department-verification","purpose":"#))
        #expect(!text.contains("attestation"))
    }

    @Test("a clean database verifies: entry count, checkpoints, head")
    func cleanVerifies() throws {
        try populate()
        let signed = Mutex<[Int64]>([])
        let report = try verify { checkpoint in signed.withLock { $0.append(checkpoint.size) } }
        let entries = try fixture.allAuditEntries()
        #expect(
            report
                == AuditVerificationReport(
                    entries: 6, checkpoints: 2, head: entries[5].hash, firstBreak: nil, treeRoot: try fixture.sqliteStore.treeHead().root))
        #expect(signed.withLock { $0 } == [2, 6])
        #expect(report.isIntact)
    }

    @Test("an empty log verifies, with its size-0 checkpoint")
    func emptyVerifies() throws {
        _ = try wait { fixture.sqliteStore.checkpoint(now: t0, sign: { _ in "jws" }, completion: $0) }
        let report = try verify()
        #expect(report == AuditVerificationReport(entries: 0, checkpoints: 1, head: AuditEntry.genesisHash, firstBreak: nil))
    }

    @Test("the append-only triggers refuse UPDATE and DELETE through SQL")
    func appendOnly() throws {
        try populate()
        #expect(throws: SQLiteError.self) { try fixture.rawSQL("UPDATE audit_log SET actor = 'x' WHERE sequence = 1") }
        #expect(throws: SQLiteError.self) { try fixture.rawSQL("DELETE FROM audit_log WHERE sequence = 1") }
        #expect(try verify().isIntact)
    }

    @Test("editing one field of one entry is reported at exactly that entry", arguments: [
        "actor = 'dept-forged'", "subject_id = '110105194912310021'", "time = time + 1",
        #"detail = '{"dueAt":"2030-01-01T00:00:00.000Z"}'"#, "requester = NULL",
    ])
    func editedField(assignment: String) throws {
        try populate()
        try fixture.rawSQL(
            "DROP TRIGGER audit_log_append_only_update; UPDATE audit_log SET \(assignment) WHERE sequence = 4")
        let report = try verify()
        #expect(report.firstBreak?.sequence == 4)
        #expect(report.firstBreak?.kind == .hash)
        #expect(report.entries == 3)
    }

    @Test("a detail that is not a JSON object of strings is reported as unreadable at that entry")
    func unreadableDetail() throws {
        try populate()
        try fixture.rawSQL(
            #"DROP TRIGGER audit_log_append_only_update; UPDATE audit_log SET detail = '{"dueAt":5}' WHERE sequence = 2"#)
        let report = try verify()
        #expect(report.firstBreak == AuditChainBreak(sequence: 2, kind: .unreadable, message: "detail is not a JSON object of strings"))
    }

    @Test("rewriting an entry together with its hash breaks the next entry's link")
    func rehashedEntry() throws {
        try populate()
        try fixture.rawSQL(
            "DROP TRIGGER audit_log_append_only_update; UPDATE audit_log SET hash = zeroblob(32) WHERE sequence = 5")
        let report = try verify()
        // Entry 5's own hash no longer matches its fields: reported there first.
        #expect(report.firstBreak?.sequence == 5)
        #expect(report.firstBreak?.kind == .hash)

        // A forger who recomputes entry 5's hash still breaks entry 6's previous_hash.
        let entries = try fixture.allAuditEntries()
        var forged = entries[4]
        forged.event.actor = "dept-forged"
        let input = forged.previousHash + AuditEntry.canonicalBytes(sequence: 5, time: forged.time, event: forged.event)
        let forgedHash = hex(Digest.sha256(input))
        try fixture.rawSQL(
            "UPDATE audit_log SET actor = 'dept-forged', hash = x'\(forgedHash)' WHERE sequence = 5")
        // The salted leaf (schema 7) no longer matches the edited fields: caught at entry 5 itself.
        let again = try verify()
        #expect(again.firstBreak?.sequence == 5)
        #expect(again.firstBreak?.kind == .leaf)
        #expect(again.entries == 4)
        // A forger who also recomputes the leaf (knowing the salt) still breaks entry 6's previous_hash.
        let salt = try fixture.sqliteStore.auditLeaf(index: 4)!.salt
        let leaf = hex(Digest.sha256(salt + AuditEntry.canonicalBytes(sequence: 5, time: forged.time, event: forged.event)))
        try fixture.rawSQL("UPDATE audit_log SET leaf = x'\(leaf)' WHERE sequence = 5")
        let third = try verify()
        #expect(third.firstBreak?.sequence == 6)
        #expect(third.firstBreak?.kind == .previousHash)
        #expect(third.entries == 5)
    }

    @Test("a deleted entry is reported as a gap at its sequence")
    func deletedEntry() throws {
        try populate()
        try fixture.rawSQL("DROP TRIGGER audit_log_append_only_delete; DELETE FROM audit_log WHERE sequence = 3")
        let report = try verify()
        #expect(report.firstBreak?.sequence == 3)
        #expect(report.firstBreak?.kind == .missingEntry)
        #expect(report.entries == 2)
        #expect(report.checkpoints == 1)
    }

    @Test("a log cut short below a checkpoint is caught by the checkpoint")
    func truncatedLog() throws {
        try populate()
        try fixture.rawSQL("DROP TRIGGER audit_log_append_only_delete; DELETE FROM audit_log WHERE sequence > 4")
        let report = try verify()
        #expect(report.firstBreak?.sequence == 5)
        #expect(report.firstBreak?.kind == .missingEntry)
        #expect(report.entries == 4)
    }

    @Test("a checkpoint whose head differs from the chain, or whose signature fails, is reported")
    func badCheckpoints() throws {
        try populate()
        let report = try verify { checkpoint in if checkpoint.size == 6 { throw BadSignature() } }
        #expect(report.firstBreak?.sequence == 6)
        #expect(report.firstBreak?.kind == .checkpointSignature)
        #expect(report.checkpoints == 1)

        try fixture.rawSQL("UPDATE audit_checkpoints SET head = zeroblob(32) WHERE size = 2")
        let forged = try verify()
        #expect(forged.firstBreak?.sequence == 2)
        #expect(forged.firstBreak?.kind == .checkpointHead)
    }

    @Test("the verifier reads a database the store has open, without disturbing it")
    func verifyWhileOpen() throws {
        try populate()
        let report = try verify()
        #expect(report.isIntact)
        #expect(try fixture.submit(fixture.queued(dueAt: t0)) == .stored)
        #expect(try verify().entries == 8)
    }

    @Test("the verifier refuses a missing file instead of creating one")
    func missingFile() throws {
        let path = fixture.directory.file("absent.sqlite")
        #expect(throws: SQLiteError.self) {
            try AuditChainVerifier.verify(databasePath: path, hash: Digest.sha256) { _ in }
        }
        #expect(fileStatus(path) == nil)
    }

    /// `HEYAN_BENCH=1 swift test -c release --filter AuditChainTests/verifierBenchmark`: entries/s
    /// of AuditChainVerifier over 1,000,000 entries (with the test target's plain-Swift SHA-256,
    /// slower than the OpenSSL one heyan uses).
    @Test("benchmark: verifying 1,000,000 entries", .enabled(if: getenv("HEYAN_BENCH") != nil))
    func verifierBenchmark() throws {
        let batch = (0..<10_000).map { index in
            SharedRecord(
                certificateType: "marriage-status", subjectID: "S\(index)", owner: "dept-civil-affairs",
                claims: ["maritalStatus": .string("married")], updatedAt: t0)
        }
        for round in 0..<100 {
            _ = try wait { fixture.sqliteStore.putRecords(batch, actor: "dept-civil-affairs", now: t0 + Millis(round), completion: $0) }
        }
        let start = monotonicNanoseconds()
        let report = try verify()
        let seconds = Double(monotonicNanoseconds() - start) / 1e9
        #expect(report.isIntact && report.entries == 1_000_000)
        print("{\"benchmark\":\"audit-verify\",\"entries\":\(report.entries),\"seconds\":\(seconds)}")
    }
}
