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

/// Notify-and-commit (告知承诺) end to end over mTLS: template, commitment with receipt, sampling,
/// spot check through the owner's queue, false commitment → revoked receipt and credit list,
/// refusal, credit repair. docs/commitments.md.
@Suite struct CommitmentFlowTests {
    static func body(subject: String, type: String = "TAX-INCOME", matter: String = "HF-LOAN-001",
                     signedAt: String? = nil, text: String = "本人承诺上一年度收入属实。") -> String {
        let at = signedAt ?? Timestamp.rfc3339(Int64(Date().timeIntervalSince1970 * 1000) - 60_000)
        return """
            {"certificateType":"\(type)","matterCode":"\(matter)","purpose":"住房公积金贷款：收入情况",
             "subject":{"idType":"resident-id","id":"\(subject)","name":"李四"},"claims":{"annualIncome":120000},
             "commitment":{"text":"\(text)","signedAt":"\(at)","signedVia":"online"}}
            """
    }

    /// Recomputes the sampling decision from what the commitment records, with OpenSSL's HMAC.
    static func recompute(_ commitment: [String: Any]) throws -> (value: String, sampled: Bool) {
        let check = try #require(commitment["spotCheck"] as? [String: Any])
        let seedHex = try #require(check["seed"] as? String)
        var seed: [UInt8] = []
        var index = seedHex.startIndex
        while index < seedHex.endIndex {
            let next = seedHex.index(index, offsetBy: 2)
            seed.append(UInt8(seedHex[index..<next], radix: 16)!)
            index = next
        }
        let id = try #require(commitment["id"] as? String)
        let mac = Digest.hmacSHA256(key: seed, data: Array(id.utf8))
        var value: UInt64 = 0
        for byte in mac.prefix(8) { value = value << 8 | UInt64(byte) }
        let rate = try #require(check["rate"] as? Double)
        return (String(value, radix: 16).leftPadded(to: 16), Double(value) / 18_446_744_073_709_551_616.0 < rate)
    }

    @Test(arguments: Engine.all)
    func falseCommitmentRevokesTheReceiptListsTheSubjectAndRefusesTheNextCommitment(_ engine: Engine) throws {
        let service = try RunningService(engine: engine)
        var exchanges: [RecordedExchange] = []
        func record(_ method: String, _ template: String, _ response: ClientResponse) -> ClientResponse {
            exchanges.append(RecordedExchange(
                method: method, path: template, status: response.status,
                contentType: response.headers["Content-Type"] ?? "", body: response.bodyText))
            return response
        }
        let housing = try DepartmentClient(service, "housing-fund")
        let tax = try DepartmentClient(service, "tax-bureau")
        let auditor = try DepartmentClient(service, "audit-office")
        let operatorClient = try DepartmentClient(service, "data-office")
        let finance = try DepartmentClient(service, "finance")

        // The template, filled for a subject; a non-commitment type and an unknown one.
        let subjectForTemplate = TestSubjects.residentID(700)
        let template = record("GET", "/v1/catalog/{code}/commitment-template", try housing.get(
            "/v1/catalog/TAX-INCOME/commitment-template?subjectId=\(subjectForTemplate)&subjectName=%E6%9D%8E%E5%9B%9B"))
        #expect(template.status == 200)
        let text = try #require(template["text"] as? String)
        #expect(text.contains("本人李四（公民身份号码：\(subjectForTemplate)）承诺"))
        #expect((template["unfilledPlaceholders"] as? [String]) == [])
        #expect(template["textSha256"] as? String == hex(Digest.sha256(Array(text.utf8))))
        let raw = try housing.get("/v1/catalog/TAX-INCOME/commitment-template")
        #expect((raw["unfilledPlaceholders"] as? [String]) == ["subjectId", "subjectName"])
        let notCommitment = record("GET", "/v1/catalog/{code}/commitment-template",
            try housing.get("/v1/catalog/CIV-MARRIAGE/commitment-template"))
        #expect(notCommitment.status == 409)
        #expect(notCommitment["type"] as? String == "urn:heyan:problem:not-commitment")
        #expect(record("GET", "/v1/catalog/{code}/commitment-template",
            try housing.get("/v1/catalog/NOPE-X/commitment-template")).status == 404)
        let badID = record("GET", "/v1/catalog/{code}/commitment-template",
            try housing.get("/v1/catalog/TAX-INCOME/commitment-template?subjectId=110105198001010011"))
        #expect(badID.status == 422)
        #expect(badID.errorPaths == ["subjectId"])

        // The verification route still points here.
        let redirected = try housing.post(
            "/v1/verifications",
            TestSubjects.verificationBody(type: "TAX-INCOME", matter: "HF-LOAN-001", subject: subjectForTemplate, claims: #"{"annualIncome":1}"#))
        #expect(redirected.status == 409)
        #expect(redirected["commitmentEndpoint"] as? String == "/v1/commitments")

        // Authorization: not granted for the type, wrong matter, no requester role.
        let notGranted = record("POST", "/v1/commitments", try finance.post("/v1/commitments", Self.body(subject: subjectForTemplate)))
        #expect(notGranted.status == 403)
        #expect(notGranted["type"] as? String == "urn:heyan:problem:not-granted")
        #expect(try housing.post("/v1/commitments", Self.body(subject: subjectForTemplate, matter: "HF-WITHDRAW-001")).status == 403)
        #expect(try tax.post("/v1/commitments", Self.body(subject: subjectForTemplate)).status == 403)
        let wrongType = record("POST", "/v1/commitments", try housing.post(
            "/v1/commitments", Self.body(subject: subjectForTemplate, type: "CIV-MARRIAGE", matter: "HF-WITHDRAW-001")))
        #expect(wrongType.status == 409)
        let invalid = record("POST", "/v1/commitments", try housing.post(
            "/v1/commitments", Self.body(subject: "110105198001010011", signedAt: "2099-01-01T00:00:00Z")))
        #expect(invalid.status == 422)
        #expect(Set(invalid.errorPaths) == ["subject.id", "commitment.signedAt"])

        // Commit for new subjects until one is sampled (rate 0.2); each gets a receipt.
        var receipts: [String] = []
        var sampled: [String: Any]?
        var subject = ""
        for number in 0..<80 where sampled == nil {
            subject = TestSubjects.residentID(800 + number)
            let created = record("POST", "/v1/commitments", try housing.post("/v1/commitments", Self.body(subject: subject)))
            #expect(created.status == 201)
            let object = created.object
            let receipt = try #require(object["receipt"] as? [String: Any])
            receipts.append(try #require(receipt["jws"] as? String))
            #expect(created.headers["Location"] == "/v1/commitments/\(object["id"] as? String ?? "")")
            let check = try #require(object["spotCheck"] as? [String: Any])
            let recomputed = try Self.recompute(object)
            #expect(check["value"] as? String == recomputed.value)
            #expect(check["sampled"] as? Bool == recomputed.sampled)
            #expect(object["status"] as? String == (recomputed.sampled ? "under-check" : "committed"))
            if recomputed.sampled { sampled = object }
        }
        let commitment = try #require(sampled)
        let commitmentID = try #require(commitment["id"] as? String)
        let receiptID = try #require((commitment["receipt"] as? [String: Any])?["id"] as? String)
        #expect(record("GET", "/v1/commitments/{id}", try housing.get("/v1/commitments/\(commitmentID)")).status == 200)
        #expect(try finance.get("/v1/commitments/\(commitmentID)").status == 404)

        // Receipts verify in Python, payloads follow the attestation schema.
        let verdicts = try PythonAttestationVerifier.verify(
            receipts, caFile: service.pki.caFile, schemaFile: PythonScripts.attestationSchema)
        for verdict in verdicts {
            #expect(verdict.ok, "\(verdict.error ?? "")")
            #expect(verdict.payloadJSON?.contains(#""outcome":"committed""#) == true)
        }

        // The owner leases the spot check and finds the commitment false, while the requester waits.
        let lease = record("GET", "/v1/queue", try tax.get("/v1/queue?limit=100&lease=60"))
        let items = try #require(lease["items"] as? [[String: Any]])
        #expect(items.count == 1)
        let item = try #require(items.first)
        #expect(item["kind"] as? String == "spot-check")
        #expect((item["commitment"] as? [String: Any])?["id"] as? String == commitmentID)
        let itemID = try #require(item["id"] as? String)
        let token = try #require(item["leaseToken"] as? String)

        let waiter = try DepartmentClient(service, "housing-fund")
        let waited = Mutex<(body: [UInt8], seconds: Double)>(([], 0))
        let done = Atomic<Bool>(false)
        _ = try startThread(name: "commitment-poll") {
            let started = monotonicSeconds()
            let response = try? waiter.get("/v1/commitments/\(commitmentID)?wait=20")
            waited.withLock { $0 = (response?.body ?? [], monotonicSeconds() - started) }
            done.store(true, ordering: .releasing)
        }
        #expect(eventually { service.runtime.longPollsWaiting == 1 })
        let finishedEarly = done.load(ordering: .acquiring)
        #expect(!finishedEarly)
        let missingEvidence = record("POST", "/v1/queue/{id}/answer", try tax.post(
            "/v1/queue/\(itemID)/answer", #"{"leaseToken":"\#(token)","outcome":"false-commitment"}"#))
        #expect(missingEvidence.status == 422)
        #expect(missingEvidence.errorPaths == ["evidence"])
        #expect(try housing.post("/v1/queue/\(itemID)/answer", #"{"leaseToken":"\#(token)","outcome":"consistent"}"#).status == 403)
        let answerBody = #"{"leaseToken":"\#(token)","outcome":"false-commitment","note":"申报收入与个税申报不符","evidence":"税务核查记录 2026-0042"}"#
        let answered = record("POST", "/v1/queue/{id}/answer", try tax.post("/v1/queue/\(itemID)/answer", answerBody))
        #expect(answered.status == 200)
        #expect(answered["status"] as? String == "false-commitment")
        #expect(try tax.post("/v1/queue/\(itemID)/answer", answerBody).status == 200)  // repeated: same result
        #expect(eventually { done.load(ordering: .acquiring) })
        let polled = waited.withLock { $0 }
        #expect(polled.seconds < 3)
        let seen = try #require(try JSONSerialization.jsonObject(with: Data(polled.body)) as? [String: Any])
        #expect(seen["status"] as? String == "false-commitment")
        #expect((seen["spotCheck"] as? [String: Any])?["evidence"] as? String == "税务核查记录 2026-0042")
        #expect((seen["receipt"] as? [String: Any])?["status"] as? String == "revoked")

        // The receipt is revoked at the status endpoint.
        let status = record("GET", "/v1/attestations/{id}/status", try housing.get("/v1/attestations/\(receiptID)/status"))
        #expect(status.status == 200)
        #expect(status["status"] as? String == "revoked")
        let fetchedReceipt = record("GET", "/v1/attestations/{id}", try auditor.get("/v1/attestations/\(receiptID)"))
        #expect(fetchedReceipt["outcome"] as? String == "committed")
        #expect(try finance.get("/v1/attestations/\(receiptID)/status").status == 404)
        // Receipts are revoked by findings only.
        #expect(try operatorClient.post("/v1/attestations/\(receiptID)/revoke", #"{"reason":"x"}"#).status == 409)

        // The credit list: operator and auditor only.
        #expect(record("GET", "/v1/credit/{subjectId}", try housing.get("/v1/credit/\(subject)")).status == 403)
        let credit = record("GET", "/v1/credit/{subjectId}", try auditor.get("/v1/credit/\(subject)"))
        #expect(credit.status == 200)
        #expect(credit["listed"] as? Bool == true)
        let entries = try #require(credit["entries"] as? [[String: Any]])
        #expect(entries.count == 1)
        let entry = try #require(entries.first)
        #expect(entry["commitment"] as? String == commitmentID)
        #expect(entry["evidence"] as? String == "税务核查记录 2026-0042")
        #expect(entry["certificateType"] as? String == "TAX-INCOME")
        let entryID = try #require(entry["id"] as? String)

        // The next commitment for that subject is refused, pointing to a department verification.
        let refused = record("POST", "/v1/commitments", try housing.post("/v1/commitments", Self.body(subject: subject)))
        #expect(refused.status == 409)
        #expect(refused["type"] as? String == "urn:heyan:problem:credit-listed")
        #expect(refused["creditEntry"] as? String == entryID)
        #expect((refused["alternative"] as? [String: Any])?["endpoint"] as? String == "/v1/verifications")

        // The alternative works: the owner verifies the same type for this subject.
        let verification = try housing.post("/v1/verifications", TestSubjects.verificationBody(
            type: "TAX-INCOME", matter: "HF-LOAN-001", subject: subject, claims: #"{"annualIncome":120000}"#))
        #expect(verification.status == 202)
        #expect(verification["method"] as? String == "department-verification")
        #expect(verification["owner"] as? String == "tax-bureau")

        // Credit repair: the auditor may not, the operator may, with a reason.
        #expect(try auditor.post("/v1/credit/\(subject)/entries/\(entryID)/remove", #"{"reason":"x"}"#).status == 403)
        let removed = record("POST", "/v1/credit/{subjectId}/entries/{entryId}/remove", try operatorClient.post(
            "/v1/credit/\(subject)/entries/\(entryID)/remove", #"{"reason":"已完成信用修复（补缴税款并作出信用承诺）"}"#))
        #expect(removed.status == 200)
        #expect(removed["active"] as? Bool == false)
        #expect(try operatorClient.post("/v1/credit/\(subject)/entries/crd_NOPE/remove", #"{"reason":"x"}"#).status == 404)
        #expect(try auditor.get("/v1/credit/\(subject)")["listed"] as? Bool == false)
        #expect(try housing.post("/v1/commitments", Self.body(subject: subject)).status == 201)

        // Audited: the finding, the listing and the removal, with the commitment and evidence.
        let audit = try auditor.get("/v1/audit?subject=\(subject)&limit=100")
        let actions = ((audit["entries"] as? [[String: Any]]) ?? []).compactMap { $0["action"] as? String }
        for action in ["commitment.submitted", "attestation.issued", "spot-check.queued", "queue.leased",
                       "spot-check.answered", "attestation.revoked", "credit.listed", "credit.removed"] {
            #expect(actions.contains(action), "\(action) in \(actions)")
        }
        let listed = ((audit["entries"] as? [[String: Any]]) ?? []).first { $0["action"] as? String == "credit.listed" }
        #expect((listed?["detail"] as? [String: Any])?["evidence"] as? String == "税务核查记录 2026-0042")
        let submitted = ((audit["entries"] as? [[String: Any]]) ?? []).first { $0["action"] as? String == "commitment.submitted" }
        #expect((submitted?["detail"] as? [String: Any])?["sampleSeed"] as? String
            == (commitment["spotCheck"] as? [String: Any])?["seed"] as? String)

        let failures = try OpenAPIConformance.check(exchanges)
        #expect(failures.isEmpty, "\(failures.joined(separator: "\n"))")
    }

    @Test(arguments: Engine.all) func idempotencyKeyReplaysTheCommitment(_ engine: Engine) throws {
        let service = try RunningService(engine: engine)
        let housing = try DepartmentClient(service, "housing-fund")
        let body = Self.body(subject: TestSubjects.residentID(900))
        let first = try housing.post("/v1/commitments", body, headers: [("Idempotency-Key", "c-1")])
        #expect(first.status == 201)
        let again = try housing.post("/v1/commitments", body, headers: [("Idempotency-Key", "c-1")])
        #expect(again.status == 201)
        #expect(again.headers["Idempotent-Replayed"] == "true")
        #expect(again["id"] as? String == first["id"] as? String)
        #expect(try housing.post("/v1/commitments", Self.body(subject: TestSubjects.residentID(901)),
                                 headers: [("Idempotency-Key", "c-1")]).status == 409)
    }

    /// Over real requests the share sampled is near the rate, and every decision recomputes.
    @Test(arguments: Engine.all) func sampledShareOverManyCommitmentsIsNearTheRate(_ engine: Engine) throws {
        let service = try RunningService(
            departments: departmentsWithoutRateLimits(try readFile(packageRoot() + "/config/departments.json")),
            engine: engine)  // 300 submissions: above housing-fund's 50/s
        let housing = try DepartmentClient(service, "housing-fund")
        let count = 300
        var sampled = 0
        for number in 0..<count {
            let created = try housing.post("/v1/commitments", Self.body(subject: TestSubjects.residentID(number: 5000 + number)))
            #expect(created.status == 201)
            let recomputed = try Self.recompute(created.object)
            #expect((created["spotCheck"] as? [String: Any])?["sampled"] as? Bool == recomputed.sampled)
            if recomputed.sampled { sampled += 1 }
        }
        // Binomial(300, 0.2): mean 60, sd 6.9; ±4 sd.
        #expect((33...87).contains(sampled), "sampled \(sampled) of \(count)")
        let tax = try DepartmentClient(service, "tax-bureau")
        let queue = try tax.get("/v1/queue?limit=100")
        let items = try #require(queue["items"] as? [[String: Any]])
        #expect(items.count == min(sampled, 100))
        #expect(items.allSatisfy { $0["kind"] as? String == "spot-check" })

        // A consistent finding closes the check and leaves the receipt active.
        let first = try #require(items.first)
        let commitmentID = try #require((first["commitment"] as? [String: Any])?["id"] as? String)
        let checked = try tax.post(
            "/v1/queue/\(first["id"]!)/answer", #"{"leaseToken":"\#(first["leaseToken"]!)","outcome":"consistent","note":"与纳税申报一致"}"#)
        #expect(checked.status == 200)
        let after = try housing.get("/v1/commitments/\(commitmentID)?wait=1")
        #expect(after["status"] as? String == "consistent")
        #expect((after["receipt"] as? [String: Any])?["status"] as? String == "active")
        #expect((after["spotCheck"] as? [String: Any])?["checkedBy"] as? String == "tax-bureau")
    }
}

extension String {
    func leftPadded(to width: Int) -> String {
        count >= width ? self : String(repeating: "0", count: width - count) + self
    }
}
