import Dispatch
import Foundation
import HeyanCrypto
import HeyanDomain
import HeyanStorage
import HeyanTestSupport
import HeyanTransparencyLog
import Synchronization
import Testing

/// Retention (docs/audit.md, "Retention") on a manual clock: personal data past the period is
/// erased from entries, verifications and attestations, the leaves stay, so proofs issued before
/// still verify (tlog_check.py) and so does `heyan audit verify`; the access report shows what
/// remains; the erasure is itself in the log.
@Suite struct RetentionTests {
    static let day = 86_400.0

    static func erase(_ service: RunningService) throws -> ErasureCounts? {
        let done = DispatchSemaphore(value: 0)
        let result = Mutex<ErasureCounts?>(nil)
        try #require(service.runtime.transparencyLog).eraseExpired { counts in
            result.withLock { $0 = counts }
            done.signal()
        }
        done.wait()
        return result.withLock { $0 }
    }

    @Test(arguments: Engine.all) func personalDataPastRetentionIsErasedAndEveryProofStillVerifies(_ engine: Engine) throws {
        let clock = ManualClock()
        let pki = try TestPKI()
        let logKey = try PrivateKey.generate(.ed25519)
        let directory = TemporaryDirectory(prefix: "heyan-retention")
        try logKey.write(toFile: directory.file("log.key"))
        let vkey = try NoteSigner(name: "localhost/audit/v1", key: logKey).verifierKey.vkey
        let service = try RunningService(
            clock: clock, pki: pki,
            audit: #"{"logKey": "\#(directory.file("log.key"))", "checkpointIntervalSeconds": 3600, "retention": {}}"#,
            engine: engine)
        let subject = TestSubjects.residentID(1)
        var operatorClient = try DepartmentClient(service, "data-office")
        var housing = try DepartmentClient(service, "housing-fund")
        // Advancing the service clock by years ends idle connections at the event loops' next
        // tick (their deadlines run on that clock): connect afresh after each advance.
        func reconnect() throws {
            operatorClient = try DepartmentClient(service, "data-office")
            housing = try DepartmentClient(service, "housing-fund")
        }

        // Year 0: subject 1 is verified; its bundle is kept by the requester.
        let old = try TransparencyLogTests.attest(service, subject: 1)
        try TransparencyLogTests.publish(service)
        let oldBundleResponse = try housing.get("/v1/attestations/\(old)/proof")
        #expect(oldBundleResponse.status == 200)
        let oldBundle = String(decoding: oldBundleResponse.body, as: UTF8.self)
        let oldNote = try #require(try service.runtime.auditLog.latestCheckpointNote())
        _ = try operatorClient.get("/v1/subjects/\(subject)/access-report?reason=year+0")

        // Two years on: subject 1 again. Nothing is old enough yet.
        clock.advance(seconds: 730 * Self.day)
        try reconnect()
        let recent = try TransparencyLogTests.attest(service, subject: 1)
        #expect(try Self.erase(service)?.total == 0)
        let before = try #require(try operatorClient.get("/v1/subjects/\(subject)/access-report?reason=year+2")["entries"] as? [[String: Any]])
        #expect(before.count == 7)  // 3 + access + 3

        // Three years and a month after the first: its entries, verification and attestation are erased.
        clock.advance(seconds: 400 * Self.day)
        try reconnect()
        _ = try Self.erase(service)  // the maintenance thread may have run it first: judge the state, not the counts
        try TransparencyLogTests.publish(service)
        let after = try #require(try operatorClient.get("/v1/subjects/\(subject)/access-report?reason=year+3")["entries"] as? [[String: Any]])
        // What remains: the access of year 2 and the second verification's three entries.
        #expect(after.map { $0["action"] as? String } == [
            "verification.submitted", "queue.leased", "verification.answered", "subject.access-report",
        ])
        #expect(after.allSatisfy { ($0["logIndex"] as? Int ?? 0) > (before[3]["logIndex"] as? Int ?? 0) })
        #expect(try housing.get("/v1/attestations/\(recent)/proof").status == 200)
        #expect(try housing.get("/v1/attestations/\(old)/proof").status == 410)

        // The erasure is in the log, and the erased entries kept their leaves and lost the rest.
        let auditor = try DepartmentClient(service, "audit-office")
        let erasures = try #require(try auditor.get("/v1/audit?action=audit.erased")["entries"] as? [[String: Any]])
        #expect(!erasures.isEmpty)
        let erasedCount = erasures.compactMap { Int((($0["detail"] as? [String: String])?["entries"]) ?? "") }.reduce(0, +)
        #expect(erasedCount == 4)  // three entries of the first verification and the access of year 0
        let store = service.runtime.auditLog
        for entry in before.prefix(4) {
            let index = try #require(entry["logIndex"] as? Int)
            let leaf = try #require(try store.auditLeaf(index: UInt64(index)))
            #expect(leaf.salt.isEmpty && leaf.entry.event.subjectID == nil && leaf.data.count == 32)
            #expect(leaf.entry.event.detail["reason"] == nil)
        }
        let verification = try #require(try service.runtime.store.attestation(id: old))
        #expect(verification.subjectID.isEmpty && verification.jws.isEmpty)

        // Proofs issued before still verify; the tree extends the old checkpoint consistently.
        let newNote = try #require(try store.latestCheckpointNote())
        let consistency = try store.consistencyProof(first: oldNote.size, second: newNote.size)
        let verdicts = try TransparencyLogTests.verdicts([
            .init(kind: "bundle", vkey: vkey, bundle: oldBundle, attestation: old),
            .init(kind: "note", vkey: vkey, note: newNote.note),
            .init(
                kind: "consistency", proof: consistency.map(\.base64), first: oldNote.size, second: newNote.size,
                firstRoot: oldNote.root.base64, secondRoot: newNote.root.base64),
        ])
        #expect(verdicts == ["ok", "ok", "ok"])

        // heyan audit verify accepts the erased entries by their stored leaves.
        service.runtime.stop(grace: 1)
        let verify = try Subprocess.run([
            WitnessQuorumTests.binary, "audit", "verify", "--database", service.databaseLocation,
            "--log-key", vkey,
        ])
        #expect(verify.status == 0, "\(verify.stdout)\(verify.stderr)")
        #expect(verify.stdout.contains("erased=4 "), "\(verify.stdout)")
    }
}
