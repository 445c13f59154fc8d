import HeyanCrypto
import HeyanDomain
import HeyanHTTP
import HeyanServer
import HeyanStorage
import HeyanTestSupport
import Testing

/// Clerks (经办人; docs/console.md, "Clerks"): a clerk's certificate or a department system's
/// `Heyan-Clerk` header names who did it, and every audit entry the request writes names that
/// clerk; a clerk who leaves is revoked on the CRL and gets no page.
@Suite struct ClerkTests {
    typealias Console = ConsoleRouteTests
    static let housingClerk = (id: "hf-0042", name: "李四<b>")
    static let civilClerk = (id: "ca.007", name: "王五")

    static func entries(_ service: InProcessService, _ action: AuditAction) throws -> [AuditEntry] {
        try service.runtime.store.auditEntries(matching: AuditFilter(action: action), after: 0, limit: 100)
    }

    @Test func theConsoleShowsTheClerkAndEveryEntryItWritesNamesThem() throws {
        let service = try InProcessService()
        let home = try Console.get(service, "housing-fund", "/console/", clerk: Self.housingClerk)
        #expect(home.bodyText.contains("经办人 李四&lt;b&gt;（hf-0042）"), "the clerk is shown, escaped")
        #expect(home.bodyText.contains("住房公积金管理中心"))

        let form = try Console.get(service, "housing-fund", "/console/requests/new?type=CIV-MARRIAGE", clerk: Self.housingClerk)
        let submitted = try Console.post(
            service, "housing-fund", "/console/requests",
            Console.marriageForm(try Console.hidden("csrf", in: form.bodyText), try Console.hidden("idempotencyKey", in: form.bodyText)),
            clerk: Self.housingClerk)
        #expect(submitted.status == 303)

        let queue = try Console.get(service, "civil-affairs", "/console/queue", clerk: Self.civilClerk)
        let leased = try Console.post(
            service, "civil-affairs", "/console/queue/lease", [("csrf", try Console.hidden("csrf", in: queue.bodyText))],
            clerk: Self.civilClerk)
        #expect(leased.status == 200)
        let action = try #require(leased.bodyText.firstRange(of: "action=\"/console/queue/").map {
            String(leased.bodyText[$0.upperBound...].prefix { $0 != "\"" })
        })
        let answered = try Console.post(
            service, "civil-affairs", "/console/queue/\(action)",
            [("csrf", try Console.hidden("csrf", in: leased.bodyText)),
             ("leaseToken", try Console.hidden("leaseToken", in: leased.bodyText)), ("outcome", "confirmed"),
             ("disclosed.maritalStatus", "married")],
            clerk: Self.civilClerk)
        #expect(answered.status == 303)

        #expect(try Self.entries(service, .verificationSubmitted).map(\.event.clerk) == ["hf-0042"])
        #expect(try Self.entries(service, .queueLeased).map(\.event.clerk) == ["ca.007"])
        #expect(try Self.entries(service, .verificationAnswered).map(\.event.clerk) == ["ca.007"])
        // A forged post is refused and its refusal names the clerk whose browser sent it.
        let forged = try Console.post(
            service, "housing-fund", "/console/requests", Console.marriageForm("", "k9"), origin: "https://evil.example",
            clerk: Self.housingClerk)
        #expect(forged.status == 403)
        #expect(try Self.entries(service, .requestRefused).last?.event.clerk == "hf-0042")

        // The auditor's API shows the clerk; the chain, with and without clerks, verifies.
        let audit = try service.request("audit-office", "GET", "/v1/audit?action=verification.answered")
        #expect(audit.status == 200)
        #expect(audit.bodyText.contains(#""clerk":"ca.007""#))
        let store = try #require(service.runtime.store as? SQLiteVerificationStore)
        let verified = try AuditChainVerifier.verify(
            store, hash: Digest.sha256, verifyCheckpoint: { _ in }, verifyNote: { _ in })
        #expect(verified.firstBreak == nil)
        let all = try service.runtime.store.auditEntries(matching: AuditFilter(), after: 0, limit: 1000)
        #expect(verified.entries == Int64(all.count))
        #expect(all.contains { $0.event.clerk == nil } && all.contains { $0.event.clerk != nil })
    }

    @Test func aDepartmentSystemPassesTheClerkInAHeader() throws {
        let service = try InProcessService()
        let body = """
            {"certificateType":"CIV-MARRIAGE","matterCode":"HF-WITHDRAW-001","purpose":"公积金提取",\
            "subject":{"idType":"resident-id","id":"11010519491231002X","name":"张三"},"claims":{"maritalStatus":"married"}}
            """
        let byHeader = try service.request("housing-fund", "POST", "/v1/verifications", headers: [("Heyan-Clerk", "hf-7")], json: body)
        #expect(byHeader.status == 202)
        let byNobody = try service.request("housing-fund", "POST", "/v1/verifications", json: body)
        #expect(byNobody.status == 202)
        #expect(try Self.entries(service, .verificationSubmitted).map(\.event.clerk) == ["hf-7", nil])

        let before = try Self.entries(service, .verificationSubmitted).count
        let misspelled = try service.request(
            "housing-fund", "POST", "/v1/verifications", headers: [("Heyan-Clerk", "-bad id")], json: body)
        #expect(misspelled.status == 400)
        let twice = try service.request(
            "housing-fund", "POST", "/v1/verifications", headers: [("Heyan-Clerk", "a"), ("Heyan-Clerk", "b")], json: body)
        #expect(twice.status == 400)
        // A clerk's certificate is never overridden: the same ID is fine, another is 403.
        let same = try service.request(
            "housing-fund", "GET", "/v1/catalog", headers: [("Heyan-Clerk", "hf-0042")], clerk: Self.housingClerk)
        #expect(same.status == 200)
        let other = try service.request(
            "housing-fund", "POST", "/v1/verifications", headers: [("Heyan-Clerk", "hf-9")], json: body,
            clerk: Self.housingClerk)
        #expect(other.status == 403)
        #expect(try Self.entries(service, .verificationSubmitted).count == before, "a refused clerk stores nothing")
        let refused = try Self.entries(service, .requestRefused)
        #expect(refused.last?.event.clerk == "hf-0042", "the refusal names the certificate's clerk")
    }

    @Test func aCertificateNamingTwoClerksIsRefused() throws {
        let service = try InProcessService()
        let two = try service.request("housing-fund", "GET", "/v1/catalog", clerkIDs: ["a", "b"])
        #expect(two.status == 403)
        let misspelled = try service.request("housing-fund", "GET", "/v1/catalog", clerkIDs: ["bad id"])
        #expect(misspelled.status == 403)
        #expect(try service.request("housing-fund", "GET", "/v1/catalog", clerkIDs: ["good.id"]).status == 200)
    }

    /// Over real TLS: a clerk's certificate from `heyan pki`'s spec names department and clerk;
    /// once revoked on the CRL (and the server reloaded, as SIGHUP does) it gets no page.
    @Test func aRevokedClerkGetsNoPage() throws {
        let service = try RunningService()
        let clerk = try service.pki.issue(
            .clerk(department: "civil-affairs", clerkID: "ca-leaver", name: "赵六"), name: "clerk-ca-leaver")
        let connection = try service.connect(files: clerk)
        let home = try connection.request("GET", "/console/")
        #expect(home.status == 200)
        #expect(home.bodyText.contains("赵六（ca-leaver）") && home.bodyText.contains("civil-affairs"))

        try service.pki.revoke(clerk.certificate)
        service.runtime.reloadTLS()
        let refused: Bool
        do {
            _ = try service.connect(files: clerk).request("GET", "/console/")
            refused = false
        } catch {
            refused = true
        }
        #expect(refused, "a revoked clerk's certificate completes no handshake")
        // The department's other certificates are untouched.
        #expect(try service.connect("civil-affairs").request("GET", "/console/").status == 200)
    }
}
