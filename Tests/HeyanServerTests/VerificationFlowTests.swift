#if canImport(Glibc)
import Glibc
#endif
import Foundation
import HeyanCrypto
import HeyanDomain
import HeyanHTTP
import HeyanTestSupport
import Synchronization
import Testing

/// The heart of heyan over real mTLS: requests, owner queues, data sharing, attestations, audit.
@Suite struct VerificationFlowTests {
    func trust(_ service: RunningService) throws -> TrustStore { try TrustStore(caFile: service.pki.caFile, crlFile: nil) }

    @Test(arguments: Engine.all) func departmentVerificationFromRequestToAttestation(_ engine: Engine) throws {
        let service = try RunningService(engine: engine)
        let housing = try DepartmentClient(service, "housing-fund")
        let civil = try DepartmentClient(service, "civil-affairs")
        let subject = TestSubjects.residentID(1)

        let submitted = try housing.post("/v1/verifications", TestSubjects.verificationBody(subject: subject))
        #expect(submitted.status == 202)
        #expect(submitted["status"] as? String == "pending")
        // The due time is the catalog's deadline counted in working days from the submission.
        let type = try #require(service.runtime.configuration.catalog["CIV-MARRIAGE"])
        let createdAt = try #require((submitted["createdAt"] as? String).flatMap(Timestamp.parse))
        #expect(
            submitted["dueAt"] as? String
                == Timestamp.rfc3339(DueDate.dueAt(for: type, submittedAt: createdAt, calendar: service.runtime.calendar)))
        #expect(submitted["owner"] as? String == "civil-affairs")
        let id = try #require(submitted["id"] as? String)
        #expect(submitted.headers["Location"] == "/v1/verifications/\(id)")

        // Another owner sees nothing of it; a requester has no queue; a stranger gets 404.
        let otherOwner = try DepartmentClient(service, "public-security").get("/v1/queue")
        #expect((otherOwner["items"] as? [Any])?.isEmpty == true)
        #expect(try housing.get("/v1/queue").status == 403)
        #expect(try DepartmentClient(service, "hrss").get("/v1/verifications/\(id)").status == 404)
        #expect(try civil.get("/v1/verifications/\(id)").status == 200)

        let leased = try civil.get("/v1/queue?limit=5&lease=60")
        #expect(leased.status == 200)
        let items = try #require(leased["items"] as? [[String: Any]])
        let item = try #require(items.first { ($0["verification"] as? [String: Any])?["id"] as? String == id })
        let itemID = try #require(item["id"] as? String)
        let token = try #require(item["leaseToken"] as? String)
        #expect(item["kind"] as? String == "verification")

        // A requester cannot answer; a wrong token is stale.
        #expect(try housing.post("/v1/queue/\(itemID)/answer", #"{"leaseToken":"\#(token)","outcome":"confirmed"}"#).status == 403)
        #expect(try civil.post("/v1/queue/\(itemID)/answer", #"{"leaseToken":"nope","outcome":"confirmed"}"#).status == 409)
        // Disclosing a field the requester's grant does not allow is refused.
        let answerBody = #"{"leaseToken":"\#(token)","outcome":"confirmed","note":"婚姻登记系统核对一致","disclosed":{"maritalStatus":"married"}}"#
        let answered = try civil.post("/v1/queue/\(itemID)/answer", answerBody)
        #expect(answered.status == 200)
        #expect(answered["status"] as? String == "answered")
        #expect(answered["outcome"] as? String == "confirmed")
        let attestation = try #require(answered["attestation"] as? [String: Any])
        let jws = try #require(attestation["jws"] as? String)
        // Repeating the same answer is idempotent.
        let repeated = try civil.post("/v1/queue/\(itemID)/answer", answerBody)
        #expect(repeated.status == 200)
        #expect((repeated["attestation"] as? [String: Any])?["id"] as? String == attestation["id"] as? String)

        let fetched = try housing.get("/v1/verifications/\(id)")
        #expect(fetched["status"] as? String == "answered")
        #expect((fetched["disclosed"] as? [String: Any])?["maritalStatus"] as? String == "married")

        let verified = try JWSVerifier.verify(jws, trust: try trust(service), at: nil)
        let payload = try #require(try JSONSerialization.jsonObject(with: Data(verified.payload)) as? [String: Any])
        #expect(payload["verification"] as? String == id)
        #expect(payload["outcome"] as? String == "confirmed")
        #expect(payload["issuer"] as? String == "civil-affairs")
        #expect(payload["requester"] as? String == "housing-fund")
        #expect(verified.type == "heyan-attestation+jwt")
    }

    @Test(arguments: Engine.all) func dataSharingAnswersAtOnceWithoutRevealingUngrantedValues(_ engine: Engine) throws {
        let service = try RunningService(engine: engine)
        let police = try DepartmentClient(service, "public-security")
        let hrss = try DepartmentClient(service, "hrss")
        let clean = TestSubjects.residentID(10)
        let recorded = TestSubjects.residentID(11)
        let unknown = TestSubjects.residentID(12)
        #expect(try police.send("PUT", "/v1/records/PSB-NO-CRIMINAL-RECORD/\(clean)", json: #"{"claims":{"hasCriminalRecord":false}}"#).status == 201)
        #expect(try police.send("PUT", "/v1/records/PSB-NO-CRIMINAL-RECORD/\(recorded)", json: #"{"claims":{"hasCriminalRecord":false}}"#).status == 201)
        #expect(try police.send("PUT", "/v1/records/PSB-NO-CRIMINAL-RECORD/\(recorded)", json: #"{"claims":{"hasCriminalRecord":true}}"#).status == 200)

        func ask(_ subject: String) throws -> ClientResponse {
            try hrss.post("/v1/verifications", TestSubjects.verificationBody(
                type: "PSB-NO-CRIMINAL-RECORD", matter: "HR-RECRUIT-001", subject: subject,
                claims: #"{"hasCriminalRecord":false}"#, purpose: "招聘：核验无犯罪记录"))
        }
        let confirmed = try ask(clean)
        #expect(confirmed.status == 201)
        #expect(confirmed["status"] as? String == "answered")
        #expect(confirmed["outcome"] as? String == "confirmed")
        let denied = try ask(recorded)
        #expect(denied["outcome"] as? String == "denied")
        #expect(((denied["disclosed"] as? [String: Any]) ?? [:]).isEmpty)
        #expect(!denied.bodyText.contains("\"hasCriminalRecord\":true"))
        let unknownAnswer = try ask(unknown)
        #expect(unknownAnswer.status == 201)
        #expect(unknownAnswer["outcome"] as? String == "cannot-determine")

        // Only the owner shares records of its types.
        #expect(try hrss.send("PUT", "/v1/records/PSB-NO-CRIMINAL-RECORD/\(clean)", json: #"{"claims":{"hasCriminalRecord":false}}"#).status == 403)
        #expect(try police.send("DELETE", "/v1/records/PSB-NO-CRIMINAL-RECORD/\(clean)", json: "").status == 204)
        #expect(try police.send("DELETE", "/v1/records/PSB-NO-CRIMINAL-RECORD/\(clean)", json: "").status == 404)
        #expect(try ask(clean)["outcome"] as? String == "cannot-determine")
    }

    @Test(arguments: Engine.all) func batchRecordsInOneCall(_ engine: Engine) throws {
        let service = try RunningService(engine: engine)
        let police = try DepartmentClient(service, "public-security")
        let records = (0..<1000).map {
            #"{"certificateType":"PSB-NO-CRIMINAL-RECORD","subjectId":"\#(TestSubjects.residentID(number: $0))","claims":{"hasCriminalRecord":false}}"#
        }
        let response = try police.post("/v1/records:batch", #"{"records":[\#(records.joined(separator: ","))]}"#)
        #expect(response.status == 200)
        #expect(response["written"] as? Int == 1000)
        #expect(response["created"] as? Int == 1000)
        // One bad record refuses the whole batch with its path.
        let bad = #"{"records":[\#(records[0]),{"certificateType":"PSB-NO-CRIMINAL-RECORD","subjectId":"110105198001010010","claims":{"hasCriminalRecord":"no"}}]}"#
        let refused = try police.post("/v1/records:batch", bad)
        #expect(refused.status == 422)
        #expect(refused.errorPaths.contains { $0.hasPrefix("records[1]") })
    }

    @Test(arguments: Engine.all) func refusalsHaveTheirStatusAndAreAudited(_ engine: Engine) throws {
        let service = try RunningService(engine: engine)
        let housing = try DepartmentClient(service, "housing-fund")
        let subject = TestSubjects.residentID(20)
        let cancelled = try housing.post("/v1/verifications", TestSubjects.verificationBody(type: "COMM-ALIVE", subject: subject, claims: "{}"))
        #expect(cancelled.status == 410)
        #expect(cancelled["reason"] as? String == "通过部门间信息共享核查")
        let commitment = try DepartmentClient(service, "finance").post("/v1/verifications", """
            {"certificateType":"MKT-NO-MAJOR-VIOLATION","matterCode":"FIN-PROCUREMENT-001","purpose":"政府采购",
             "subject":{"idType":"uscc","id":"91350100M000100Y43","name":"某公司"},"claims":{"noMajorViolationIn3Years":true}}
            """)
        #expect(commitment.status == 409)
        let notGranted = try housing.post("/v1/verifications", TestSubjects.verificationBody(
            type: "PSB-NO-CRIMINAL-RECORD", matter: "HF-WITHDRAW-001", subject: subject, claims: #"{"hasCriminalRecord":false}"#))
        #expect(notGranted.status == 403)
        let badID = try housing.post("/v1/verifications", TestSubjects.verificationBody(subject: "110105198001010011"))
        #expect(badID.status == 422)
        #expect(badID.errorPaths.contains("subject.id"))
        let badClaim = try housing.post("/v1/verifications", TestSubjects.verificationBody(subject: subject, claims: #"{"maritalStatus":"complicated"}"#))
        #expect(badClaim.status == 422)
        #expect(badClaim.errorPaths.contains("claims.maritalStatus"))
        #expect(try housing.post("/v1/verifications", "{not json").status == 400)
        let longPurpose = String(repeating: "因", count: 201)
        #expect(try housing.post("/v1/verifications", TestSubjects.verificationBody(subject: subject, purpose: longPurpose)).status == 422)

        let auditor = try DepartmentClient(service, "audit-office")
        let refused = try auditor.get("/v1/audit?action=request.refused&department=housing-fund")
        let entries = try #require(refused["entries"] as? [[String: Any]])
        let statuses = entries.compactMap { ($0["detail"] as? [String: Any])?["status"] as? String }
        #expect(statuses.sorted() == ["400", "403", "410", "422", "422", "422"])
        let gone = entries.first { ($0["detail"] as? [String: Any])?["status"] as? String == "410" }
        #expect((gone?["detail"] as? [String: Any])?["problem"] as? String == "urn:heyan:problem:certificate-cancelled")
        // Nothing else was written for housing-fund.
        let all = try #require(try auditor.get("/v1/audit?department=housing-fund")["entries"] as? [[String: Any]])
        #expect(all.count == 6)
    }

    @Test(arguments: Engine.all) func idempotencyKeyReplaysOrConflicts(_ engine: Engine) throws {
        let service = try RunningService(engine: engine)
        let housing = try DepartmentClient(service, "housing-fund")
        let body = TestSubjects.verificationBody(subject: TestSubjects.residentID(30))
        let first = try housing.post("/v1/verifications", body, headers: [("Idempotency-Key", "req-0001")])
        let second = try housing.post("/v1/verifications", body, headers: [("Idempotency-Key", "req-0001")])
        #expect(first.status == 202)
        #expect(second.status == 202)
        #expect(second.body == first.body)
        #expect(second.headers["Idempotent-Replayed"] == "true")
        let other = TestSubjects.verificationBody(subject: TestSubjects.residentID(31))
        #expect(try housing.post("/v1/verifications", other, headers: [("Idempotency-Key", "req-0001")]).status == 409)
        // Only one verification was stored.
        let leased = try DepartmentClient(service, "civil-affairs").get("/v1/queue?limit=100")
        #expect((leased["items"] as? [Any])?.count == 1)
    }

    /// The service runs on a manual clock: the 20 s deadline cannot pass unless the test moves
    /// time, so the poll can only end by the answer; the 1 s poll ends when time is moved past it.
    @Test(arguments: Engine.all) func longPollWakesWhenTheAnswerArrives(_ engine: Engine) throws {
        let clock = ManualClock()
        let service = try RunningService(clock: clock, engine: engine)
        let housing = try DepartmentClient(service, "housing-fund")
        let civil = try DepartmentClient(service, "civil-affairs")
        let id = try #require(try housing.post("/v1/verifications", TestSubjects.verificationBody(subject: TestSubjects.residentID(40)))["id"] as? String)
        let item = try #require((try civil.get("/v1/queue")["items"] as? [[String: Any]])?.first)
        let waited = Mutex<(status: String?, seconds: Double)>((nil, 0))
        let waiter = try DepartmentClient(service, "housing-fund")
        let done = Atomic<Bool>(false)
        _ = try startThread(name: "long-poll") {
            let started = monotonicSeconds()
            let response = try? waiter.get("/v1/verifications/\(id)?wait=20")
            waited.withLock { $0 = (response?["status"] as? String, monotonicSeconds() - started) }
            done.store(true, ordering: .releasing)
        }
        #expect(eventually { service.runtime.longPollsWaiting == 1 })
        let finishedEarly = done.load(ordering: .acquiring)
        #expect(!finishedEarly)
        let answered = try civil.post("/v1/queue/\(item["id"]!)/answer", #"{"leaseToken":"\#(item["leaseToken"]!)","outcome":"denied"}"#)
        #expect(answered.status == 200)
        #expect(eventually { done.load(ordering: .acquiring) })
        let result = waited.withLock { $0 }
        #expect(result.status == "answered")
        #expect(result.seconds < 3)
        #expect(service.runtime.longPollsWaiting == 0)
        // Without a change, wait=1 returns the pending state after a second.
        let other = try #require(try housing.post("/v1/verifications", TestSubjects.verificationBody(subject: TestSubjects.residentID(41)))["id"] as? String)
        let pending = Mutex<String?>(nil)
        let returned = Atomic<Bool>(false)
        _ = try startThread(name: "long-poll-1s") {
            let response = try? waiter.get("/v1/verifications/\(other)?wait=1")
            pending.withLock { $0 = response?["status"] as? String }
            returned.store(true, ordering: .releasing)
        }
        #expect(eventually { service.runtime.longPollsWaiting == 1 })
        clock.advance(seconds: 0.9)  // the timer ran at 0.9 s: the poll still waits
        #expect(service.runtime.longPollsWaiting == 1)
        let returnedEarly = returned.load(ordering: .acquiring)
        #expect(!returnedEarly)
        clock.advance(seconds: 0.1)
        #expect(eventually { returned.load(ordering: .acquiring) })
        #expect(pending.withLock { $0 } == "pending")
        #expect(service.runtime.longPollsWaiting == 0)
    }

    /// On a manual clock: the lease expires when the test moves time past it.
    @Test(arguments: Engine.all) func queueLongPollWakesWhenAnItemArrivesAndLeasesExpire(_ engine: Engine) throws {
        let clock = ManualClock()
        let service = try RunningService(clock: clock, engine: engine)
        let civil = try DepartmentClient(service, "civil-affairs")
        let housing = try DepartmentClient(service, "housing-fund")
        let result = Mutex<[UInt8]>([])
        let done = Atomic<Bool>(false)
        _ = try startThread(name: "queue-poll") {
            let response = try? civil.get("/v1/queue?wait=20&lease=1")
            result.withLock { $0 = response?.body ?? [] }
            done.store(true, ordering: .releasing)
        }
        #expect(eventually { service.runtime.longPollsWaiting == 1 })
        let started = monotonicSeconds()
        #expect(try housing.post("/v1/verifications", TestSubjects.verificationBody(subject: TestSubjects.residentID(50))).status == 202)
        #expect(eventually { done.load(ordering: .acquiring) })
        #expect(monotonicSeconds() - started < 3)
        let polled = try #require(try JSONSerialization.jsonObject(with: Data(result.withLock { $0 })) as? [String: Any])
        let first = try #require((polled["items"] as? [[String: Any]])?.first)
        let firstToken = try #require(first["leaseToken"] as? String)
        // While leased, nobody else gets it; after the lease expires it comes back with a new token.
        let other = try DepartmentClient(service, "civil-affairs")
        #expect((try other.get("/v1/queue")["items"] as? [Any])?.isEmpty == true)
        clock.advance(seconds: 0.9)  // 0.9 s into the 1 s lease: still leased
        #expect((try other.get("/v1/queue")["items"] as? [Any])?.isEmpty == true)
        clock.advance(seconds: 0.3)
        let again = try #require((try other.get("/v1/queue?lease=60")["items"] as? [[String: Any]])?.first)
        #expect(again["id"] as? String == first["id"] as? String)
        #expect(again["leaseToken"] as? String != firstToken)
        #expect(again["leaseCount"] as? Int == 2)
        #expect(try civil.post("/v1/queue/\(first["id"]!)/answer", #"{"leaseToken":"\#(firstToken)","outcome":"confirmed"}"#).status == 409)
    }

    @Test(arguments: Engine.all) func revocationByIssuerOrOperatorOnly(_ engine: Engine) throws {
        let service = try RunningService(engine: engine)
        let police = try DepartmentClient(service, "public-security")
        let hrss = try DepartmentClient(service, "hrss")
        let subject = TestSubjects.residentID(60)
        _ = try police.send("PUT", "/v1/records/PSB-NO-CRIMINAL-RECORD/\(subject)", json: #"{"claims":{"hasCriminalRecord":false}}"#)
        let body = TestSubjects.verificationBody(type: "PSB-NO-CRIMINAL-RECORD", matter: "HR-RECRUIT-001", subject: subject, claims: #"{"hasCriminalRecord":false}"#)
        let first = try #require((try hrss.post("/v1/verifications", body)["attestation"] as? [String: Any])?["id"] as? String)
        let second = try #require((try hrss.post("/v1/verifications", body)["attestation"] as? [String: Any])?["id"] as? String)

        #expect(try hrss.get("/v1/attestations/\(first)/status")["status"] as? String == "active")
        #expect(try DepartmentClient(service, "civil-affairs").get("/v1/attestations/\(first)").status == 404)
        #expect(try DepartmentClient(service, "audit-office").get("/v1/attestations/\(first)").status == 200)
        #expect(try hrss.post("/v1/attestations/\(first)/revoke", #"{"reason":"no"}"#).status == 403)
        let revoked = try police.post("/v1/attestations/\(first)/revoke", #"{"reason":"记录有误，已更正"}"#)
        #expect(revoked.status == 200)
        #expect(revoked["status"] as? String == "revoked")
        let status = try hrss.get("/v1/attestations/\(first)/status")
        #expect(status["status"] as? String == "revoked")
        #expect(status["revocationReason"] as? String == "记录有误，已更正")
        #expect(try DepartmentClient(service, "data-office").post("/v1/attestations/\(second)/revoke", #"{"reason":"operator"}"#).status == 200)
        #expect(try police.post("/v1/attestations/\(second)/revoke", #"{}"#).status == 422)
    }

    @Test(arguments: Engine.all) func auditFiltersPagingAndCheckpoint(_ engine: Engine) throws {
        let service = try RunningService(engine: engine)
        let housing = try DepartmentClient(service, "housing-fund")
        let civil = try DepartmentClient(service, "civil-affairs")
        let subject = TestSubjects.residentID(70)
        _ = try housing.post("/v1/verifications", TestSubjects.verificationBody(subject: subject))
        _ = try housing.post("/v1/verifications", TestSubjects.verificationBody(subject: TestSubjects.residentID(71)))
        let item = try #require((try civil.get("/v1/queue?limit=1")["items"] as? [[String: Any]])?.first)
        _ = try civil.post("/v1/queue/\(item["id"]!)/answer", #"{"leaseToken":"\#(item["leaseToken"]!)","outcome":"confirmed"}"#)

        let auditor = try DepartmentClient(service, "audit-office")
        #expect(try housing.get("/v1/audit").status == 403)
        let bySubject = try #require(try auditor.get("/v1/audit?subject=\(subject)")["entries"] as? [[String: Any]])
        let actions = bySubject.compactMap { $0["action"] as? String }
        #expect(actions.starts(with: ["verification.submitted", "queue.leased", "verification.answered"]))
        #expect(actions == ["verification.submitted", "queue.leased", "verification.answered"])
        #expect(bySubject.first?["detail"] as? [String: String] != nil)
        #expect((bySubject.first?["detail"] as? [String: String])?["routedTo"] == "queue")
        #expect(bySubject.allSatisfy { $0["subjectId"] as? String == subject })
        let answered = try #require(try auditor.get("/v1/audit?action=verification.answered")["entries"] as? [[String: Any]])
        #expect(answered.count == 1)
        #expect(answered.first?["attestation"] as? String != nil)
        // Paging: two at a time, following nextCursor, gives every entry once.
        var cursor: String? = "0"
        var sequences: [Int] = []
        var actionsInOrder: [String] = []
        while let current = cursor {
            let page = try auditor.get("/v1/audit?limit=2&cursor=\(current)")
            sequences += ((page["entries"] as? [[String: Any]]) ?? []).compactMap { $0["seq"] as? Int }
            actionsInOrder += ((page["entries"] as? [[String: Any]]) ?? []).compactMap { $0["action"] as? String }
            cursor = page["nextCursor"] as? String
        }
        #expect(sequences == Array(1...sequences.count))
        #expect(sequences.count >= 5)
        // The catalog's first version, both submissions, the lease, the answer, and the auditor-only
        // route refused to housing-fund — in that order.
        #expect(sequences.count == 6)
        #expect(
            actionsInOrder == [
                "catalog.changed", "verification.submitted", "verification.submitted", "queue.leased",
                "verification.answered", "request.refused",
            ])
        #expect(try auditor.get("/v1/audit?from=notatime").status == 400)

        let checkpoint = try auditor.get("/v1/audit/checkpoint")
        #expect(checkpoint.status == 200)
        let jws = try #require(checkpoint["jws"] as? String)
        let verified = try JWSVerifier.verify(jws, trust: try trust(service), at: nil)
        let payload = try #require(try JSONSerialization.jsonObject(with: Data(verified.payload)) as? [String: Any])
        #expect(payload["size"] as? Int == checkpoint["size"] as? Int)
        #expect(payload["head"] as? String == checkpoint["head"] as? String)
        #expect(verified.type == "heyan-audit-checkpoint+jwt")
    }
}
