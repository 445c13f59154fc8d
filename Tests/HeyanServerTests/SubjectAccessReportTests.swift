import Foundation
import HeyanDomain
import HeyanTestSupport
import HeyanTransparencyLog
import Testing

/// `GET /v1/subjects/{id}/access-report` and `heyan audit report` (docs/audit.md, "Subject access
/// report"): every entry about the subject with its log index, nothing about others, never the
/// claims or the name; the access itself audited with its reason.
@Suite struct SubjectAccessReportTests {
    @Test func reportListsTheSubjectsEntriesWithLogIndexesAndAuditsItself() throws {
        let service = try RunningService(auditLogKey: true, checkpointSeconds: 3600)
        let subject = TestSubjects.residentID(1)
        let attestation = try TransparencyLogTests.attest(service, subject: 1)
        _ = try TransparencyLogTests.attest(service, subject: 2)  // someone else
        let operatorClient = try DepartmentClient(service, "data-office")
        let auditor = try DepartmentClient(service, "audit-office")
        let housing = try DepartmentClient(service, "housing-fund")

        #expect(try housing.get("/v1/subjects/\(subject)/access-report?reason=x").status == 403)
        #expect(try operatorClient.get("/v1/subjects/\(subject)/access-report").status == 400)
        #expect(try operatorClient.get("/v1/subjects/\(subject)/access-report?reason=").status == 400)

        let response = try operatorClient.get("/v1/subjects/\(subject)/access-report?reason=citizen+request+2026-0042")
        #expect(response.status == 200)
        let body = String(decoding: response.body, as: UTF8.self)
        #expect(!body.contains("married") && !body.contains("张三"))
        #expect(!body.contains(TestSubjects.residentID(2)))
        let entries = try #require(response["entries"] as? [[String: Any]])
        let actions = entries.compactMap { $0["action"] as? String }
        #expect(actions == ["verification.submitted", "queue.leased", "verification.answered"])
        #expect(entries.last?["attestation"] as? String == attestation)
        #expect(entries.first?["requester"] as? String == "housing-fund")
        #expect(entries.first?["purpose"] as? String == "住房公积金提取：核验婚姻状况")
        #expect(entries.first?["matterCode"] as? String == "HF-WITHDRAW-001")
        #expect(entries.last?["outcome"] as? String == "confirmed")
        // Each log index is the leaf of exactly that entry in the tree.
        for entry in entries {
            let index = try #require(entry["logIndex"] as? Int)
            let leaf = try #require(try service.runtime.auditLog.auditLeaf(index: UInt64(index)))
            #expect(leaf.entry.event.subjectID == subject)
            #expect(leaf.entry.event.action.rawValue == entry["action"] as? String)
        }

        // The access was audited with its reason, and a later report shows it.
        let again = try auditor.get("/v1/subjects/\(subject)/access-report?reason=audit+sample")
        let later = try #require(again["entries"] as? [[String: Any]])
        let access = try #require(later.last)
        #expect(access["action"] as? String == "subject.access-report")
        #expect(access["actor"] as? String == "data-office")
        #expect(access["reason"] as? String == "citizen request 2026-0042")

        // Offline, from the database file: the same entries (and both accesses).
        service.runtime.stop(grace: 1)
        let database = service.configDirectory.file("var/heyan.sqlite")
        let offline = try Subprocess.run([WitnessQuorumTests.binary, "audit", "report", "--subject", subject, "--database", database])
        #expect(offline.status == 0, "\(offline.stderr)")
        let json = try #require(try JSONSerialization.jsonObject(with: Data(offline.stdout.utf8)) as? [String: Any])
        let offlineEntries = try #require(json["entries"] as? [[String: Any]])
        #expect(offlineEntries.compactMap { $0["action"] as? String } == actions + ["subject.access-report", "subject.access-report"])
        #expect(offlineEntries.map { $0["logIndex"] as? Int }.prefix(3) == entries.map { $0["logIndex"] as? Int }[...])
    }
}
