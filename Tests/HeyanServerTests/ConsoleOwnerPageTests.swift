import Foundation
import HeyanDomain
import HeyanHTTP
import HeyanServer
import HeyanTestSupport
import Testing

/// The owner clerk's pages beyond the queue (docs/console.md): shared records (look up, add,
/// correct, CSV upload with each row's problem next to its line), spot checks of commitments,
/// revoking an attestation; and the requester's page long-polling the API. Each write goes
/// through the API's handler and its audit entry names the clerk.
@Suite struct ConsoleOwnerPageTests {
    typealias Console = ConsoleRouteTests
    static let psbClerk = (id: "psb-11", name: "周八")
    static let taxClerk = (id: "tax-3", name: "吴九")

    static func csrf(_ service: InProcessService, _ department: String, _ path: String) throws -> String {
        try Console.hidden("csrf", in: try Console.get(service, department, path).bodyText)
    }

    @Test func recordsAreLookedUpAddedCorrectedAndUploadedAsCSV() throws {
        let service = try InProcessService()
        let csrf = try Self.csrf(service, "public-security", "/console/records")
        let subject = TestSubjects.residentID(101)
        let found = try Console.post(
            service, "public-security", "/console/records/find",
            [("csrf", csrf), ("certificateType", "PSB-NO-CRIMINAL-RECORD"), ("subjectId", subject)], clerk: Self.psbClerk)
        #expect(found.status == 200 && found.bodyText.contains("尚无此记录"))
        let added = try Console.post(
            service, "public-security", "/console/records/put",
            [("csrf", csrf), ("certificateType", "PSB-NO-CRIMINAL-RECORD"), ("subjectId", subject),
             ("claims.hasCriminalRecord", "false")], clerk: Self.psbClerk)
        #expect(added.status == 200 && added.bodyText.contains("已新增"))
        let corrected = try Console.post(
            service, "public-security", "/console/records/put",
            [("csrf", csrf), ("certificateType", "PSB-NO-CRIMINAL-RECORD"), ("subjectId", subject),
             ("claims.hasCriminalRecord", "true")], clerk: Self.psbClerk)
        #expect(corrected.bodyText.contains("已更正"))
        #expect(try service.runtime.store.record(certificateType: "PSB-NO-CRIMINAL-RECORD", subjectID: subject)?.claims
            == ["hasCriminalRecord": .bool(true)])
        let lookedUp = try Console.post(
            service, "public-security", "/console/records/find",
            [("csrf", csrf), ("certificateType", "PSB-NO-CRIMINAL-RECORD"), ("subjectId", subject)])
        #expect(lookedUp.bodyText.contains("现有记录") && lookedUp.bodyText.contains("<option value=\"true\" selected>"))
        let invalid = try Console.post(
            service, "public-security", "/console/records/put",
            [("csrf", csrf), ("certificateType", "PSB-NO-CRIMINAL-RECORD"), ("subjectId", "110105198001011234"),
             ("claims.hasCriminalRecord", "false")])
        #expect(invalid.status == 422 && invalid.bodyText.contains("data-field=\"subjectId\""))

        // A CSV with one bad row stores nothing and shows the row's problem next to its line.
        let good = [TestSubjects.residentID(102), TestSubjects.residentID(103)]
        let badCSV = "subjectId,hasCriminalRecord\r\n\(good[0]),false\r\n110105198001011234,maybe\r\n\(good[1]),true\r\n"
        let refused = try Console.post(
            service, "public-security", "/console/records/upload",
            [("csrf", csrf), ("certificateType", "PSB-NO-CRIMINAL-RECORD"), ("csv", badCSV)], clerk: Self.psbClerk)
        #expect(refused.status == 422)
        #expect(refused.bodyText.contains("<tr data-line=\"3\">"), "line 3 (the second record) is named")
        #expect(!refused.bodyText.contains("<tr data-line=\"2\">") && !refused.bodyText.contains("<tr data-line=\"4\">"))
        #expect(try service.runtime.store.record(certificateType: "PSB-NO-CRIMINAL-RECORD", subjectID: good[0]) == nil)
        let unclosed = try Console.post(
            service, "public-security", "/console/records/upload",
            [("csrf", csrf), ("certificateType", "PSB-NO-CRIMINAL-RECORD"), ("csv", "subjectId,hasCriminalRecord\n\"x,false\n")])
        #expect(unclosed.status == 422 && unclosed.bodyText.contains("line 2"))
        let uploaded = try Console.post(
            service, "public-security", "/console/records/upload",
            [("csrf", csrf), ("certificateType", "PSB-NO-CRIMINAL-RECORD"),
             ("csv", "subjectId,hasCriminalRecord\n\(good[0]),false\n\"\(good[1])\",true\n")], clerk: Self.psbClerk)
        #expect(uploaded.status == 200 && uploaded.bodyText.contains("已写入 2 条"))
        #expect(try service.runtime.store.record(certificateType: "PSB-NO-CRIMINAL-RECORD", subjectID: good[1])?.claims
            == ["hasCriminalRecord": .bool(true)])
        let puts = try service.runtime.store.auditEntries(matching: AuditFilter(action: .recordPut), after: 0, limit: 100)
        #expect(puts.count == 4 && puts.allSatisfy { $0.event.clerk == "psb-11" })
        // Another department's clerk has no such page.
        #expect(try Console.get(service, "housing-fund", "/console/records").status == 403)
    }

    @Test func aSpotCheckIsLeasedAndFoundFalseWithEvidence() throws {
        let service = try InProcessService()
        var sampled: String?
        for number in 0..<120 where sampled == nil {
            let body = """
                {"certificateType":"TAX-INCOME","matterCode":"HF-LOAN-001","purpose":"住房公积金贷款：收入情况",
                 "subject":{"idType":"resident-id","id":"\(TestSubjects.residentID(500 + number))","name":"李四"},
                 "claims":{"annualIncome":120000},
                 "commitment":{"text":"本人承诺上一年度收入属实。","signedAt":"\(Timestamp.rfc3339(service.runtime.clock.now() - 60_000))","signedVia":"online"}}
                """
            let created = try service.request("housing-fund", "POST", "/v1/commitments", json: body)
            #expect(created.status == 201)
            let object = (try? JSONSerialization.jsonObject(with: Data(created.body))) as? [String: Any] ?? [:]
            if object["status"] as? String == "under-check" { sampled = object["id"] as? String }
        }
        let commitmentID = try #require(sampled)
        let page = try Console.get(service, "tax-bureau", "/console/spot-checks", clerk: Self.taxClerk)
        #expect(page.status == 200 && page.bodyText.contains("待核查"))
        let leased = try Console.post(
            service, "tax-bureau", "/console/spot-checks/lease", [("csrf", try Console.hidden("csrf", in: page.bodyText))],
            clerk: Self.taxClerk)
        #expect(leased.status == 200 && leased.bodyText.contains(commitmentID) && leased.bodyText.contains("本人承诺上一年度收入属实"))
        let action = try #require(leased.bodyText.firstRange(of: "action=\"/console/spot-checks/").map {
            String(leased.bodyText[$0.upperBound...].prefix { $0 != "\"" })
        })
        let csrf = try Console.hidden("csrf", in: leased.bodyText)
        let token = try Console.hidden("leaseToken", in: leased.bodyText)
        let noOutcome = try Console.post(
            service, "tax-bureau", "/console/spot-checks/\(action)", [("csrf", csrf), ("leaseToken", token)], clerk: Self.taxClerk)
        #expect(noOutcome.status == 422 && noOutcome.bodyText.contains("data-field=\"outcome\""))
        let answered = try Console.post(
            service, "tax-bureau", "/console/spot-checks/\(action)",
            [("csrf", csrf), ("leaseToken", token), ("outcome", "false-commitment"), ("note", "收入与申报不符"),
             ("evidence", "税务核查记录 2026-0042")], clerk: Self.taxClerk)
        #expect(answered.status == 200 && answered.bodyText.contains("核查结论已记录"))
        #expect(try service.runtime.store.commitment(id: commitmentID)?.status == .falseCommitment)
        let findings = try service.runtime.store.auditEntries(
            matching: AuditFilter(action: .spotCheckAnswered), after: 0, limit: 10)
        #expect(findings.map(\.event.clerk) == ["tax-3"])
        #expect(findings.first?.event.detail["evidence"] == "税务核查记录 2026-0042")
    }

    @Test func theIssuerRevokesAnAttestationAndThePendingPageLongPolls() throws {
        let service = try InProcessService()
        let form = try Console.get(service, "housing-fund", "/console/requests/new?type=CIV-MARRIAGE").bodyText
        let submitted = try Console.post(
            service, "housing-fund", "/console/requests",
            Console.marriageForm(try Console.hidden("csrf", in: form), try Console.hidden("idempotencyKey", in: form)))
        let location = try #require(submitted.headers["Location"])
        let pending = try Console.get(service, "housing-fund", location).bodyText
        let id = String(location.dropFirst("/console/requests/".count))
        #expect(pending.contains("data-long-poll=\"/v1/verifications/\(id)?wait=50\""))
        #expect(pending.contains("<script src=\"/console/static/console.js\" defer></script>"))
        #expect(pending.contains("<noscript><meta http-equiv=\"refresh\" content=\"10\"></noscript>"))
        let script = try Console.get(service, "housing-fund", "/console/static/console.js")
        #expect(script.status == 200 && script.headers["Content-Type"] == "text/javascript; charset=utf-8")
        #expect(script.bodyText.contains("data-long-poll"))

        let queue = try Console.get(service, "civil-affairs", "/console/queue")
        let leased = try Console.post(
            service, "civil-affairs", "/console/queue/lease", [("csrf", try Console.hidden("csrf", in: queue.bodyText))])
        let action = try #require(leased.bodyText.firstRange(of: "action=\"/console/queue/").map {
            String(leased.bodyText[$0.upperBound...].prefix { $0 != "\"" })
        })
        _ = try Console.post(
            service, "civil-affairs", "/console/queue/\(action)",
            [("csrf", try Console.hidden("csrf", in: leased.bodyText)),
             ("leaseToken", try Console.hidden("leaseToken", in: leased.bodyText)), ("outcome", "confirmed")])
        let answeredPage = try Console.get(service, "housing-fund", location).bodyText
        #expect(!answeredPage.contains("data-long-poll") && !answeredPage.contains("class=\"stack noprint revoke\""),
            "answered: no polling; the requester may not revoke")
        let ownerView = try Console.get(service, "civil-affairs", location, clerk: (id: "ca-1", name: "郑十")).bodyText
        let revokeAction = try #require(ownerView.firstRange(of: "action=\"/console/attestations/").map {
            String(ownerView[$0.upperBound...].prefix { $0 != "\"" })
        })
        let revoked = try Console.post(
            service, "civil-affairs", "/console/attestations/\(revokeAction)",
            [("csrf", try Console.hidden("csrf", in: ownerView)), ("reason", "登记信息有误")], clerk: (id: "ca-1", name: "郑十"))
        #expect(revoked.status == 303 && revoked.headers["Location"] == location)
        let after = try Console.get(service, "civil-affairs", location).bodyText
        #expect(after.contains("revoked") && !after.contains("class=\"stack noprint revoke\""))
        let entries = try service.runtime.store.auditEntries(matching: AuditFilter(action: .attestationRevoked), after: 0, limit: 10)
        #expect(entries.map(\.event.clerk) == ["ca-1"] && entries.first?.event.detail["reason"] == "登记信息有误")
    }

    @Test func aRequestingClerkRecordsACommitmentAndPrintsTheReceipt() throws {
        let service = try InProcessService()
        let clerk = (id: "hf-0042", name: "李四")
        let choose = try Console.get(service, "housing-fund", "/console/commitments/new", clerk: clerk)
        #expect(choose.status == 200 && choose.bodyText.contains("TAX-INCOME"))
        let start = try Console.get(service, "housing-fund", "/console/commitments/new?type=TAX-INCOME", clerk: clerk).bodyText
        let subject = TestSubjects.residentID(321)
        let applicant: [(String, String)] = [
            ("csrf", try Console.hidden("csrf", in: start)), ("certificateType", "TAX-INCOME"), ("matterCode", "HF-LOAN-001"),
            ("purpose", "住房公积金贷款：收入情况"), ("subject.idType", "resident-id"), ("subject.id", subject),
            ("subject.name", "王<i>小</i>二"), ("claims.annualIncome", "120000"),
        ]
        let template = try Console.post(service, "housing-fund", "/console/commitments/template", applicant, clerk: clerk)
        #expect(template.status == 200)
        #expect(template.bodyText.contains("class=\"commitment-text\"") && template.bodyText.contains(subject))
        #expect(template.bodyText.contains("王&lt;i&gt;小&lt;/i&gt;二") && !template.bodyText.contains("<i>"))
        var signed = applicant.filter { $0.0 != "csrf" }
        signed.append(("csrf", try Console.hidden("csrf", in: template.bodyText)))
        for name in ["idempotencyKey", "commitment.text", "commitment.signedAt"] {
            signed.append((name, try Console.hidden(name, in: template.bodyText).replacing("&quot;", with: "\"")
                .replacing("&lt;", with: "<").replacing("&gt;", with: ">").replacing("&#39;", with: "'").replacing("&amp;", with: "&")))
        }
        signed.append(("signedVia", "paper"))
        let recorded = try Console.post(service, "housing-fund", "/console/commitments", signed, clerk: clerk)
        #expect(recorded.status == 303, "\(recorded.bodyText.prefix(600))")
        let location = try #require(recorded.headers["Location"])
        #expect(location.hasPrefix("/console/commitments/") && !location.contains(subject))
        let page = try Console.get(service, "housing-fund", location, clerk: clerk)
        #expect(page.bodyText.contains("class=\"receipt-id\"") && page.bodyText.contains("打印回执"))
        let print = try Console.get(service, "housing-fund", location + "/print", clerk: clerk)
        #expect(print.bodyText.contains("<svg") && print.bodyText.contains("告知承诺回执"))
        let entries = try service.runtime.store.auditEntries(
            matching: AuditFilter(action: .commitmentSubmitted), after: 0, limit: 10)
        #expect(entries.map(\.event.clerk) == ["hf-0042"])
        // A bad ID is shown next to its field on the applicant's form.
        var bad = applicant
        bad[5] = ("subject.id", "110105198001011234")
        let refused = try Console.post(service, "housing-fund", "/console/commitments/template", bad)
        #expect(refused.status == 422 && refused.bodyText.contains("data-field=\"subject.id\""), "\(refused.status)")
    }
}
