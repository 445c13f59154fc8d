#if canImport(Glibc)
import Glibc
#endif
import Foundation
import HeyanDomain
import HeyanServer
import HeyanTestSupport
import Testing

/// The clerks' console driven by clicks in headless Chromium presenting real department
/// certificates through its own TLS stack (`console_browser.py`, Selenium + Debian's chromium and
/// chromedriver; docs/console.md). The whole story, the 403 page, a foreign CA, and a forged
/// cross-origin post; then the attestation is verified outside the browser too.
///
/// `HEYAN_CONSOLE_SCREENSHOTS=DIR` keeps the screenshots there (`make console-screenshots`).
@Suite(.serialized) struct ConsoleBrowserTests {
    @Test func aClerkStoryByClicksInChromium() throws {
        let service = try RunningService()
        let pki = service.pki
        let housingFund = try pki.department("housing-fund")
        let civilAffairs = try pki.department("civil-affairs")
        let foreignCA = try TestPKI.foreignAuthority()
        let foreign = try pki.issue(.department(code: "housing-fund"), name: "foreign-housing-fund", issuer: foreignCA)
        let screenshots = ProcessInfo.processInfo.environment["HEYAN_CONSOLE_SCREENSHOTS"]

        var arguments = [
            "python3", PythonScripts.directory + "/console_browser.py", "--url", "https://127.0.0.1:\(service.port)",
            "--ca", pki.caFile,
            "--identity", "housing-fund=\(housingFund.certificate),\(housingFund.key)",
            "--identity", "civil-affairs=\(civilAffairs.certificate),\(civilAffairs.key)",
            "--foreign", "\(foreign.certificate),\(foreign.key)",
        ]
        if let screenshots { arguments += ["--screenshots", screenshots] }
        let result = try Subprocess.run(arguments, timeout: 240)
        let line = result.stdout.split(separator: "\n").last.map(String.init) ?? ""
        let report = (try? JSONSerialization.jsonObject(with: Data(line.utf8))) as? [String: Any] ?? [:]
        #expect(result.status == 0 && report["ok"] as? Bool == true, "browser story: \(line) \(result.stderr.suffix(2000))")
        print("console browser suite seconds: \(report["seconds"] ?? "-")")
        #expect(!FileManager.default.fileExists(atPath: "/etc/chromium/policies/managed/heyan-console-test.json"))
        guard let id = report["verification"] as? String else { return }

        // The one verification the story made, answered and attested; the forged post stored nothing.
        let submitted = try service.runtime.store.auditEntries(
            matching: AuditFilter(action: .verificationSubmitted), after: 0, limit: 100)
        #expect(submitted.map(\.event.verificationID) == [id])
        let verification = try #require(try service.runtime.store.verification(id: id))
        #expect(verification.outcome == .confirmed)
        #expect(verification.disclosed == ["maritalStatus": .string("married")])
        let attestation = try #require(try verification.attestationID.flatMap { try service.runtime.store.attestation(id: $0) })
        let verdicts = try PythonAttestationVerifier.verify(
            [attestation.jws], caFile: pki.caFile, schemaFile: PythonScripts.attestationSchema)
        #expect(verdicts.first?.ok == true, "outside verification: \(verdicts)")
    }

    /// The auditor's and operator's pages by clicks (`console_browser_audit.py`, one browser for
    /// data-office, which has both roles): audit search, the checkpoint verified, the subject
    /// access report, a complaint handled, the catalog change form's 422, the statistics' SVG
    /// charts and their CSV download — then the store and the API are checked from here.
    @Test func anAuditorAndOperatorStoryInChromium() throws {
        let service = try RunningService(auditLogKey: true, checkpointSeconds: 1)
        let subject = TestSubjects.residentID(1)
        _ = try TransparencyLogTests.attest(service, subject: 1)
        let hrss = try DepartmentClient(service, "hrss")
        let filed = try hrss.post(
            "/v1/complaints",
            #"{"againstDepartment":"housing-fund","certificateDemanded":"COMM-ALIVE","description":"<script>document.title='pwned'</script>窗口要求提交生存证明"}"#)
        #expect(filed.status == 201)
        #expect(eventually(within: 10) { (try? service.runtime.auditLog.latestCheckpointNote()) != nil })

        let identity = try service.pki.department("data-office")
        let reply = "已责令改正（浏览器）"
        var arguments = [
            "python3", PythonScripts.directory + "/console_browser_audit.py", "--url", "https://127.0.0.1:\(service.port)",
            "--ca", service.pki.caFile, "--identity", "data-office=\(identity.certificate),\(identity.key)",
            "--subject", subject, "--reply", reply,
        ]
        if let screenshots = ProcessInfo.processInfo.environment["HEYAN_CONSOLE_SCREENSHOTS"] { arguments += ["--screenshots", screenshots] }
        let result = try Subprocess.run(arguments, timeout: 240)
        let line = result.stdout.split(separator: "\n").last.map(String.init) ?? ""
        let report = (try? JSONSerialization.jsonObject(with: Data(line.utf8))) as? [String: Any] ?? [:]
        #expect(result.status == 0 && report["ok"] as? Bool == true, "browser story: \(line.prefix(2000)) \(result.stderr.suffix(2000))")
        print("console auditor/operator browser seconds: \(report["seconds"] ?? "-")")
        #expect(!FileManager.default.fileExists(atPath: "/etc/chromium/policies/managed/heyan-console-test.json"))

        // What the clicks did, seen from the store and the API.
        let store = service.runtime.store
        let handled = try store.auditEntries(matching: AuditFilter(action: .complaintHandled), after: 0, limit: 10)
        #expect(handled.map(\.event.actor) == ["data-office"])
        let complaints = try DepartmentClient(service, "data-office").get("/v1/complaints?status=handled")
        #expect(String(decoding: complaints.body, as: UTF8.self).contains(reply))
        let accesses = try store.auditEntries(matching: AuditFilter(action: SubjectAccessReport.action), after: 0, limit: 10)
        #expect(accesses.map(\.event.subjectID) == [subject])
        #expect(accesses.first?.event.detail["reason"] == "市民申请 2026-0042")
        let versions = try DepartmentClient(service, "data-office").get("/v1/catalog/versions")
        #expect(!String(decoding: versions.body, as: UTF8.self).contains(#"{"version":2"#), "the refused change stored nothing")
        let csv = try DepartmentClient(service, "audit-office").get("/v1/stats?format=csv")
        #expect(report["csv"] as? String == String(decoding: csv.body, as: UTF8.self), "the downloaded CSV is the API's")
    }
}
