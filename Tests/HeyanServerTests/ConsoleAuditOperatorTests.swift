import HeyanCrypto
import HeyanDomain
import HeyanHTTP
import HeyanServer
import HeyanTestSupport
import HeyanTransparencyLog
import Testing

/// The auditor's and operator's console pages (docs/console.md) in-process: each through the API's
/// own handler (the same data, validation and audit as the API), role checks, CSRF refusals, the
/// API's 422 next to the field, and hostile strings rendered inert.
@Suite struct ConsoleAuditOperatorTests {
    typealias Console = ConsoleRouteTests
    static let hostile = ConsoleRouteTests.hostile
    static let subject = "11010519491231002X"

    /// A verification submitted and answered through the console: housing-fund asks (hostile
    /// purpose), civil-affairs answers with a hostile note.
    static func verification(_ service: InProcessService, subject: String = subject) throws {
        let form = try Console.get(service, "housing-fund", "/console/requests/new?type=CIV-MARRIAGE").bodyText
        let submitted = try Console.post(
            service, "housing-fund", "/console/requests",
            Console.marriageForm(try Console.hidden("csrf", in: form), try Console.hidden("idempotencyKey", in: form), id: subject))
        #expect(submitted.status == 303)
        let queue = try Console.get(service, "civil-affairs", "/console/queue")
        let leased = try Console.post(service, "civil-affairs", "/console/queue/lease", [("csrf", try Console.hidden("csrf", in: queue.bodyText))])
        let action = try #require(leased.bodyText.firstRange(of: "action=\"/console/queue/").map {
            String(leased.bodyText[$0.upperBound...].prefix { $0 != "\"" })
        })
        let answered = try Console.post(
            service, "civil-affairs", "/console/queue/\(action)",
            [("csrf", try Console.hidden("csrf", in: leased.bodyText)), ("leaseToken", try Console.hidden("leaseToken", in: leased.bodyText)),
             ("outcome", "confirmed"), ("note", hostile), ("disclosed.maritalStatus", "married")])
        #expect(answered.status == 303)
    }

    /// No markup from data on `page`: hostile strings were escaped.
    static func inert(_ page: HTTPResponse, _ name: String) {
        // The one script tag is heyan's own file (ConsoleScript); no other on any page.
        let own = "<script src=\"/console/static/console.js\" defer></script>"
        #expect(!page.bodyText.replacing(own, with: "").contains("<script"), "no other script tag on \(name)")
        #expect(!page.bodyText.contains("<b>"), "no injected markup on \(name)")
        #expect(page.headers["Content-Security-Policy"]?.contains("unsafe-inline") == false)
        #expect(page.headers["Cache-Control"] == "no-store", "\(name) is not cached")
    }

    /// The newest catalog version, from `GET /v1/catalog/versions`.
    static func latestVersion(_ service: InProcessService) throws -> Int {
        let body = try service.request("data-office", "GET", "/v1/catalog/versions").bodyText
        return body.components(separatedBy: "{\"version\":").dropFirst().compactMap { Int($0.prefix { $0.isNumber }) }.max() ?? 0
    }

    @Test func homeLinksByRoleAndEveryOtherDepartmentGetsThe403Page() throws {
        let service = try InProcessService()
        let auditor = try Console.get(service, "audit-office", "/console/").bodyText
        #expect(auditor.contains("/console/audit") && auditor.contains("/console/stats") && auditor.contains("/console/access-report"))
        #expect(!auditor.contains("/console/catalog") && !auditor.contains("/console/complaints"))
        let operatorHome = try Console.get(service, "data-office", "/console/").bodyText
        #expect(operatorHome.contains("/console/catalog") && operatorHome.contains("/console/credit") && operatorHome.contains("/console/audit"))
        let requester = try Console.get(service, "housing-fund", "/console/").bodyText
        #expect(!requester.contains("/console/audit") && !requester.contains("/console/catalog"))

        let auditorPages = ["/console/audit", "/console/audit/checkpoint", "/console/stats", "/console/stats.csv", "/console/access-report"]
        let operatorPages = ["/console/catalog", "/console/catalog/1", "/console/catalog/change", "/console/complaints", "/console/credit"]
        for path in auditorPages + operatorPages {
            let page = try Console.get(service, "housing-fund", path)
            #expect(page.status == 403, "\(path)")
            #expect(page.bodyText.contains("urn:heyan:problem:forbidden"), "\(path)")
        }
        for path in operatorPages { #expect(try Console.get(service, "audit-office", path).status == 403, "\(path)") }
        #expect(try Console.get(service, "data-office", "/console/stats").status == 200)
        let english = try Console.get(service, "audit-office", "/console/audit?lang=en")
        #expect(english.bodyText.contains("Audit log search") && english.bodyText.contains("lang=\"en\""))
        // A form post of another department's role is refused by the page and stores nothing.
        let csrf = try Console.hidden("csrf", in: try Console.get(service, "housing-fund", "/console/requests/new?type=CIV-MARRIAGE").bodyText)
        #expect(try Console.post(service, "housing-fund", "/console/access-report", [("csrf", csrf), ("subject", Self.subject), ("reason", "x")]).status == 403)
        let accesses = try service.runtime.store.auditEntries(matching: AuditFilter(action: SubjectAccessReport.action), after: 0, limit: 10)
        #expect(accesses.isEmpty)
    }

    @Test(arguments: Engine.all) func auditSearchIsTheAPIsQueryByPostWithPaging(_ engine: Engine) throws {
        let service = try InProcessService(engine: engine)
        try Self.verification(service)
        try Self.verification(service, subject: "110101199003070011")
        let page = try Console.get(service, "audit-office", "/console/audit")
        #expect(page.status == 200 && page.bodyText.contains("type=\"datetime-local\""))
        let csrf = try Console.hidden("csrf", in: page.bodyText)

        // The subject's entries, two to a page; the next page through the API's cursor.
        let first = try Console.post(service, "audit-office", "/console/audit", [("csrf", csrf), ("subject", Self.subject), ("limit", "2")])
        #expect(first.status == 200)
        Self.inert(first, "audit search")
        #expect(first.bodyText.contains("verification.submitted") && !first.bodyText.contains("110101199003070011"))
        let cursor = try Console.hidden("cursor", in: first.bodyText)
        let second = try Console.post(
            service, "audit-office", "/console/audit",
            [("csrf", csrf), ("subject", Self.subject), ("limit", "2"), ("cursor", cursor)])
        #expect(second.status == 200 && second.bodyText.contains("verification.answered"))
        let api = try service.request("audit-office", "GET", "/v1/audit?subject=\(Self.subject)")
        let all = api.bodyText.components(separatedBy: "\"seq\":").count - 1
        let shown = [first, second].map { $0.bodyText.components(separatedBy: "<td class=\"num\">").count - 1 }.reduce(0, +)
        #expect(shown == min(all, 4))

        // Filters: action and a time range in Beijing time; a range in the future finds nothing.
        let answered = try Console.post(
            service, "audit-office", "/console/audit", [("csrf", csrf), ("action", "verification.answered"), ("department", "civil-affairs")])
        #expect(answered.bodyText.components(separatedBy: "<td class=\"num\">").count - 1 == 2)
        let future = try Console.post(service, "audit-office", "/console/audit", [("csrf", csrf), ("from", "2099-01-01T08:00")])
        #expect(future.status == 200 && future.bodyText.contains("<strong>0</strong>"))
        // The API's 400 for a time it cannot read, shown above the form with the input kept.
        let bad = try Console.post(service, "audit-office", "/console/audit", [("csrf", csrf), ("from", "yesterday")])
        #expect(bad.status == 400 && bad.bodyText.contains("RFC 3339") && bad.bodyText.contains("value=\"yesterday\""))
        // A forged search is refused.
        #expect(try Console.post(service, "audit-office", "/console/audit", [("subject", Self.subject)]).status == 403)
        #expect(try Console.post(service, "audit-office", "/console/audit", [("csrf", csrf)], origin: "https://evil.example").status == 403)
    }

    @Test func checkpointNoteVerifiedWithTheLogKeyAndTheJWSCheckpoint() throws {
        let service = try InProcessService(auditLogKey: true)
        try Self.verification(service)
        let before = try Console.get(service, "audit-office", "/console/audit/checkpoint")
        #expect(before.status == 200 && before.bodyText.contains("No checkpoint has been signed yet"))
        try service.publishCheckpoint()
        let page = try Console.get(service, "audit-office", "/console/audit/checkpoint")
        #expect(page.status == 200)
        let note = try service.request("audit-office", "GET", "/v1/audit/log/checkpoint").bodyText
        let checkpoint = try Checkpoint(body: try NoteVerifierKey(vkey: try #require(service.runtime.transparencyLog?.vkey)).verify(try SignedNote(parsing: note)))
        #expect(page.bodyText.contains("data-verified=\"true\""))
        #expect(page.bodyText.contains("<dd class=\"tree-size\">\(checkpoint.size)</dd>"))
        #expect(page.bodyText.contains(checkpoint.root.base64))
        #expect(page.bodyText.contains(try #require(service.runtime.transparencyLog?.vkey)))
        #expect(page.bodyText.contains("JWS") && page.bodyText.components(separatedBy: "验证通过").count - 1 == 2)
    }

    @Test func statisticsChartsAndTheSameTablesAsCSV() throws {
        let service = try InProcessService()
        try Self.verification(service)
        let page = try Console.get(service, "audit-office", "/console/stats")
        #expect(page.status == 200)
        Self.inert(page, "statistics")
        #expect(page.bodyText.components(separatedBy: "<svg xmlns=\"http://www.w3.org/2000/svg\" class=\"chart\"").count - 1 == 3)
        #expect(page.bodyText.contains("data-section=\"exemptions\"") && page.bodyText.contains("data-section=\"requests\""))
        let csv = try Console.get(service, "audit-office", "/console/stats.csv")
        #expect(csv.status == 200)
        #expect(csv.headers["Content-Type"]?.hasPrefix("text/csv") == true)
        #expect(csv.headers["Content-Disposition"]?.hasPrefix("attachment") == true)
        let api = try service.request("audit-office", "GET", "/v1/stats?format=csv")
        #expect(csv.bodyText == api.bodyText, "the same tables as the API's CSV")
        // Days in Beijing time; a day the API cannot read is its 400, shown on the page.
        let window = try Console.get(service, "audit-office", "/console/stats?from=2099-01-01&to=2099-01-31")
        #expect(window.status == 200 && window.bodyText.contains("2099-01-01"))
        let bad = try Console.get(service, "audit-office", "/console/stats?from=soon")
        #expect(bad.status == 400 && bad.bodyText.contains("RFC 3339"))
    }

    @Test(arguments: Engine.all) func subjectAccessReportIsTheAPIsReportAndIsAudited(_ engine: Engine) throws {
        let service = try InProcessService(engine: engine)
        try Self.verification(service)
        try Self.verification(service, subject: "110101199003070011")
        let form = try Console.get(service, "data-office", "/console/access-report")
        let csrf = try Console.hidden("csrf", in: form.bodyText)
        // The API's 400 without a reason; nothing audited.
        let missing = try Console.post(service, "data-office", "/console/access-report", [("csrf", csrf), ("subject", Self.subject), ("reason", " ")])
        #expect(missing.status == 400 && missing.bodyText.contains("reason"))
        #expect(missing.bodyText.contains("value=\"\(Self.subject)\""), "the input is kept")
        #expect(try service.runtime.store.auditEntries(matching: AuditFilter(action: SubjectAccessReport.action), after: 0, limit: 10).isEmpty)

        // By a clerk (经办人) of the data office: the access's audit entry names the clerk (docs/console.md, "Recorded").
        let report = try Console.post(
            service, "data-office", "/console/access-report", [("csrf", csrf), ("subject", Self.subject), ("reason", "市民申请 2026-0042 <b>")],
            clerk: (id: "data01", name: "赵敏"))
        #expect(report.status == 200)
        Self.inert(report, "access report")
        #expect(report.bodyText.contains("@media print") || report.bodyText.contains("console.css"), "printable")
        #expect(!report.bodyText.contains("110101199003070011") && !report.bodyText.contains("married"))
        // The same entries as the API's report, with their log indexes.
        let api = try service.request("audit-office", "GET", "/v1/subjects/\(Self.subject)/access-report?reason=compare")
        let indexes = api.bodyText.components(separatedBy: "\"logIndex\":").dropFirst().map { String($0.prefix { $0.isNumber }) }
        let shown = report.bodyText.components(separatedBy: "<td class=\"num\">").dropFirst().map { String($0.prefix { $0.isNumber }) }
        #expect(!shown.isEmpty && shown == Array(indexes.dropLast()), "the API's report also lists the console's access")
        let accesses = try service.runtime.store.auditEntries(matching: AuditFilter(action: SubjectAccessReport.action), after: 0, limit: 10)
        #expect(accesses.map(\.event.actor) == ["data-office", "audit-office"])
        #expect(accesses.first?.event.detail["reason"] == "市民申请 2026-0042 <b>")
        #expect(accesses.first?.event.subjectID == Self.subject)
        #expect(accesses.map(\.event.clerk) == ["data01", nil])
    }

    @Test func catalogVersionsAndAChangeValidatedByTheAPI() throws {
        let service = try InProcessService()
        let versions = try Console.get(service, "data-office", "/console/catalog")
        #expect(versions.status == 200 && versions.bodyText.contains("<strong class=\"active-version\">1</strong>"))
        let one = try Console.get(service, "data-office", "/console/catalog/1")
        #expect(one.status == 200 && one.bodyText.contains("CIV-MARRIAGE") && one.bodyText.contains("《婚姻登记条例》"))
        #expect(try Console.get(service, "data-office", "/console/catalog/99").status == 404)
        let form = try Console.get(service, "data-office", "/console/catalog/change")
        let csrf = try Console.hidden("csrf", in: form.bodyText)
        #expect(try Console.hidden("baseVersion", in: form.bodyText) == "1")

        func change(_ fields: [(String, String)]) throws -> HTTPResponse {
            try Console.post(service, "data-office", "/console/catalog/change", [("csrf", csrf), ("baseVersion", "1")] + fields)
        }
        // The API's 422s, each next to its field; the input kept; nothing stored.
        let invalid = try change([("reason", ""), ("legalBasis", Self.hostile), ("op", "amend"), ("code", "CIV-MARRIAGE"),
                                  ("json", #"{"timeLimitWorkingDays": -3}"#)])
        #expect(invalid.status == 422)
        #expect(invalid.bodyText.contains("data-field=\"reason\"") && invalid.bodyText.contains("data-field=\"json\""))
        #expect(invalid.bodyText.contains("changes[0].fields.timeLimitWorkingDays"))
        Self.inert(invalid, "catalog change form")
        #expect(invalid.bodyText.contains("{&quot;timeLimitWorkingDays&quot;: -3}"))
        let notJSON = try change([("reason", "r"), ("legalBasis", "b"), ("op", "amend"), ("code", "CIV-MARRIAGE"), ("json", "timeLimit=2")])
        #expect(notJSON.status == 422 && notJSON.bodyText.contains("data-field=\"json\""))
        #expect(try Self.latestVersion(service) == 1)

        let stored = try change([("reason", "办理时限压缩"), ("legalBasis", "市政府常务会议纪要〔2026〕12号"), ("op", "amend"),
                                 ("code", "CIV-MARRIAGE"), ("json", #"{"timeLimitWorkingDays": 2}"#)])
        #expect(stored.status == 303)
        #expect(stored.headers["Location"] == "/console/catalog/2")
        #expect(try Self.latestVersion(service) == 2)
        Self.inert(try Console.get(service, "data-office", "/console/catalog"), "catalog versions")
        Self.inert(try Console.get(service, "data-office", "/console/catalog/2"), "catalog version")
        // The same base again: the API's 409.
        let conflict = try change([("reason", "r"), ("legalBasis", "b"), ("op", "cancel"), ("code", "CIV-MARRIAGE"), ("cancelReason", "x")])
        #expect(conflict.status == 409 && conflict.bodyText.contains("version"))
        let changed = try service.runtime.store.auditEntries(matching: AuditFilter(action: .catalogChanged), after: 0, limit: 10)
        #expect(changed.filter { $0.event.actor == "data-office" }.count == 1)
    }

    @Test(arguments: Engine.all) func complaintsHandledWithANote(_ engine: Engine) throws {
        let service = try InProcessService(engine: engine)
        let filed = try service.request(
            "hrss", "POST", "/v1/complaints",
            json: #"{"againstDepartment":"housing-fund","certificateDemanded":"COMM-ALIVE","description":"<script>alert(1)</script>窗口要求提交生存证明<b>"}"#)
        #expect(filed.status == 201)
        let open = try Console.get(service, "data-office", "/console/complaints")
        #expect(open.status == 200)
        Self.inert(open, "complaints")
        #expect(open.bodyText.contains("&lt;script&gt;alert(1)&lt;/script&gt;窗口要求提交生存证明"))
        let action = try #require(open.bodyText.firstRange(of: "action=\"/console/complaints/").map {
            String(open.bodyText[$0.upperBound...].prefix { $0 != "\"" })
        })
        let csrf = try Console.hidden("csrf", in: open.bodyText)
        let empty = try Console.post(service, "data-office", "/console/complaints/\(action)", [("csrf", csrf), ("reply", "")])
        #expect(empty.status == 422 && empty.bodyText.contains("data-field=\"reply\""))
        let handled = try Console.post(service, "data-office", "/console/complaints/\(action)", [("csrf", csrf), ("reply", "已责令住房公积金中心改正<b>")])
        #expect(handled.status == 303)
        let again = try Console.post(service, "data-office", "/console/complaints/\(action)", [("csrf", csrf), ("reply", "again")])
        #expect(again.status == 409)
        let list = try Console.get(service, "data-office", "/console/complaints?status=handled")
        #expect(list.bodyText.contains("已责令住房公积金中心改正&lt;b&gt;"))
        #expect(!(try Console.get(service, "data-office", "/console/complaints").bodyText.contains("action=\"/console/complaints/")))
        let entries = try service.runtime.store.auditEntries(matching: AuditFilter(action: .complaintHandled), after: 0, limit: 10)
        #expect(entries.map(\.event.actor) == ["data-office"])
    }

    @Test(arguments: Engine.all) func creditListWithRemoval(_ engine: Engine) throws {
        let service = try InProcessService(engine: engine)
        let form = try Console.get(service, "data-office", "/console/credit")
        let csrf = try Console.hidden("csrf", in: form.bodyText)
        // A commitment sampled for a spot check and found false lists its subject.
        var subject = ""
        for number in 0..<80 {
            subject = TestSubjects.residentID(800 + number)
            let created = try service.request("housing-fund", "POST", "/v1/commitments", json: CommitmentFlowTests.body(subject: subject))
            #expect(created.status == 201)
            if created.bodyText.contains("\"sampled\":true") { break }
        }
        let lease = try service.request("tax-bureau", "GET", "/v1/queue?limit=10&lease=60").bodyText
        let item = try #require(lease.firstRange(of: "\"id\":\"qsc_").map { "qsc_" + lease[$0.upperBound...].prefix { $0 != "\"" } }, "\(lease)")
        let token = try #require(lease.firstRange(of: "\"leaseToken\":\"").map { String(lease[$0.upperBound...].prefix { $0 != "\"" }) })
        let answered = try service.request(
            "tax-bureau", "POST", "/v1/queue/\(item)/answer",
            json: #"{"leaseToken":"\#(token)","outcome":"false-commitment","evidence":"税务核查记录 <b>2026-0042</b>"}"#)
        #expect(answered.status == 200, "\(answered.bodyText)")

        let list = try Console.post(service, "data-office", "/console/credit", [("csrf", csrf), ("subject", subject)])
        #expect(list.status == 200)
        Self.inert(list, "credit list")
        #expect(list.bodyText.contains("<strong class=\"listed\">在信用名单上</strong>"))
        let entry = try Console.hidden("entry", in: list.bodyText)
        let noReason = try Console.post(service, "data-office", "/console/credit/remove", [("csrf", csrf), ("subject", subject), ("entry", entry), ("reason", "")])
        #expect(noReason.status == 422 && noReason.bodyText.contains("data-field=\"reason\""))
        #expect(try Console.post(service, "audit-office", "/console/credit/remove", [("csrf", csrf), ("subject", subject), ("entry", entry), ("reason", "x")]).status == 403)
        let removed = try Console.post(
            service, "data-office", "/console/credit/remove", [("csrf", csrf), ("subject", subject), ("entry", entry), ("reason", "已完成信用修复")])
        #expect(removed.status == 200)
        #expect(removed.bodyText.contains("不在信用名单上") && removed.bodyText.contains("已完成信用修复"))
        let api = try service.request("audit-office", "GET", "/v1/credit/\(subject)")
        #expect(api.bodyText.contains("\"listed\":false"))
    }
}
