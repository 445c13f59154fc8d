import HeyanDomain
import HeyanHTTP
import HeyanServer
import HeyanTestSupport
import Testing

/// The clerks' console (docs/console.md) in-process: pages, headers, CSRF refusals, the API's
/// validation shown next to the field, hostile strings rendered inert, and which refusals reach
/// the audit log.
@Suite struct ConsoleRouteTests {
    static let origin = "https://heyan.test"
    static let hostile = "<script>alert('x')</script>公积金提取"

    /// A console request from `department`, as a browser on heyan's own page sends it.
    static func get(
        _ service: InProcessService, _ department: String, _ path: String, clerk: (id: String, name: String)? = nil
    ) throws -> HTTPResponse {
        try service.request(department, "GET", path, headers: [("Host", "heyan.test")], clerk: clerk)
    }

    static func post(
        _ service: InProcessService, _ department: String, _ path: String, _ fields: [(String, String)],
        origin: String? = ConsoleRouteTests.origin, clerk: (id: String, name: String)? = nil
    ) throws -> HTTPResponse {
        var headers = [("Host", "heyan.test"), ("Content-Type", "application/x-www-form-urlencoded")]
        if let origin { headers.append(("Origin", origin)) }
        let body = fields.map { "\(encode($0.0))=\(encode($0.1))" }.joined(separator: "&")
        return try service.request(department, "POST", path, headers: headers, json: body, clerk: clerk)
    }

    static func encode(_ text: String) -> String {
        var out = ""
        for byte in text.utf8 {
            if (0x30...0x39).contains(byte) || (0x41...0x5A).contains(byte) || (0x61...0x7A).contains(byte) || byte == 0x2D || byte == 0x2E || byte == 0x5F {
                out.unicodeScalars.append(Unicode.Scalar(byte))
            } else {
                out += "%" + String(byte, radix: 16, uppercase: true).leftPadded
            }
        }
        return out
    }

    /// The value of the hidden input `name` in `page`.
    static func hidden(_ name: String, in page: String) throws -> String {
        let marker = "name=\"\(name)\" value=\""
        guard let start = page.firstRange(of: marker)?.upperBound else { throw TestFailure("no \(name) in the page") }
        return String(page[start...].prefix { $0 != "\"" })
    }

    static func refusedCount(_ service: InProcessService) throws -> Int {
        try service.runtime.store.auditEntries(matching: AuditFilter(action: .requestRefused), after: 0, limit: 10_000).count
    }

    static func marriageForm(_ csrf: String, _ key: String, id: String = "11010519491231002X") -> [(String, String)] {
        [("csrf", csrf), ("idempotencyKey", key), ("certificateType", "CIV-MARRIAGE"), ("matterCode", "HF-WITHDRAW-001"),
         ("purpose", hostile), ("subject.idType", "resident-id"), ("subject.id", id), ("subject.name", "张三<b>"),
         ("claims.maritalStatus", "married")]
    }

    @Test func homeCarriesTheSecurityHeadersAndTheDepartment() throws {
        let service = try InProcessService()
        let response = try Self.get(service, "housing-fund", "/console/")
        #expect(response.status == 200)
        #expect(response.headers["Content-Type"] == "text/html; charset=utf-8")
        let csp = try #require(response.headers["Content-Security-Policy"])
        #expect(csp.contains("frame-ancestors 'none'") && !csp.contains("unsafe-inline"))
        #expect(csp.contains("script-src 'self'") && csp.contains("connect-src 'self'"), "only heyan's own script file")
        #expect(response.headers["Referrer-Policy"] == "no-referrer")
        #expect(response.headers["Cache-Control"] == "no-store")
        #expect(response.bodyText.contains("住房公积金管理中心"))
        #expect(response.bodyText.contains("lang=\"zh-CN\""))
        let english = try Self.get(service, "housing-fund", "/console/?lang=en")
        #expect(english.bodyText.contains("Housing Provident Fund Management Center"))
    }

    @Test func browserNoiseIsNotAuditedButAPIRefusalsAre() throws {
        let service = try InProcessService()
        let before = try Self.refusedCount(service)
        #expect(try Self.get(service, "housing-fund", "/favicon.ico").status == 404)
        let missing = try Self.get(service, "housing-fund", "/console/nowhere")
        #expect(missing.status == 404 && missing.headers["Content-Security-Policy"] != nil)
        #expect(try Self.get(service, "civil-affairs", "/console/requests/new").status == 403)
        #expect(try Self.refusedCount(service) == before)
        #expect(try Self.get(service, "housing-fund", "/v1/nowhere").status == 404)
        #expect(try Self.refusedCount(service) == before + 1)
    }

    @Test func apiRoutesStillRefuseFormsAndConsoleFormsRefuseJSON() throws {
        let service = try InProcessService()
        let form = try service.request(
            "housing-fund", "POST", "/v1/verifications",
            headers: [("Content-Type", "application/x-www-form-urlencoded")], json: "certificateType=CIV-MARRIAGE")
        #expect(form.status == 415)
        let json = try service.request(
            "housing-fund", "POST", "/console/requests", headers: [("Host", "heyan.test"), ("Origin", Self.origin)], json: "{}")
        #expect(json.status == 415)
    }

    @Test func forgedPostsAreRefusedAndStoreNothing() throws {
        let service = try InProcessService()
        let page = try Self.get(service, "housing-fund", "/console/requests/new?type=CIV-MARRIAGE").bodyText
        let csrf = try Self.hidden("csrf", in: page)
        let before = try Self.refusedCount(service)
        let noToken = try Self.post(service, "housing-fund", "/console/requests", Self.marriageForm("", "k1"))
        let otherOrigin = try Self.post(
            service, "housing-fund", "/console/requests", Self.marriageForm(csrf, "k2"), origin: "https://evil.example")
        let noOrigin = try Self.post(service, "housing-fund", "/console/requests", Self.marriageForm(csrf, "k3"), origin: nil)
        let nullOriginCrossSite = try service.request(
            "housing-fund", "POST", "/console/requests",
            headers: [("Host", "heyan.test"), ("Content-Type", "application/x-www-form-urlencoded"), ("Origin", "null"),
                      ("Sec-Fetch-Site", "cross-site")],
            json: Self.marriageForm(csrf, "k5").map { "\(Self.encode($0.0))=\(Self.encode($0.1))" }.joined(separator: "&"))
        let otherDepartmentsToken = try Self.post(
            service, "hrss", "/console/requests", Self.marriageForm(csrf, "k4"))
        for response in [noToken, otherOrigin, noOrigin, nullOriginCrossSite, otherDepartmentsToken] {
            #expect(response.status == 403)
            #expect(response.bodyText.contains("urn:heyan:problem:forbidden"))
        }
        #expect(try Self.refusedCount(service) == before + 5, "refused form posts are audited")
        let submitted = try service.runtime.store.auditEntries(
            matching: AuditFilter(action: .verificationSubmitted), after: 0, limit: 100)
        #expect(submitted.isEmpty)
    }

    @Test func theServersValidationIsShownNextToTheField() throws {
        let service = try InProcessService()
        let page = try Self.get(service, "housing-fund", "/console/requests/new?type=CIV-MARRIAGE").bodyText
        #expect(page.contains("HF-WITHDRAW-001") && page.contains("maritalStatus"))
        let csrf = try Self.hidden("csrf", in: page)
        let response = try Self.post(
            service, "housing-fund", "/console/requests", Self.marriageForm(csrf, "bad", id: "110105194912310021"))
        #expect(response.status == 422)
        #expect(response.bodyText.contains("data-field=\"subject.id\""))
        #expect(response.bodyText.contains("value=\"110105194912310021\""), "the clerk's input is kept")
    }

    @Test func theWholeStoryWithHostileStringsRenderedInert() throws {
        let service = try InProcessService()
        let form = try Self.get(service, "housing-fund", "/console/requests/new?type=CIV-MARRIAGE").bodyText
        let submitted = try Self.post(
            service, "housing-fund", "/console/requests",
            Self.marriageForm(try Self.hidden("csrf", in: form), try Self.hidden("idempotencyKey", in: form)))
        #expect(submitted.status == 303)
        let location = try #require(submitted.headers["Location"])
        #expect(location.hasPrefix("/console/requests/ver_") && !location.contains("11010519491231002X"))

        let queue = try Self.get(service, "civil-affairs", "/console/queue")
        #expect(queue.status == 200)
        let leased = try Self.post(
            service, "civil-affairs", "/console/queue/lease", [("csrf", try Self.hidden("csrf", in: queue.bodyText))])
        #expect(leased.status == 200)
        #expect(leased.bodyText.contains("《婚姻登记条例》"))
        // The disclosure field is named by the catalog's description of the claim, tied to its control.
        #expect(leased.bodyText.contains(
            "<label for=\"disclosed.maritalStatus\">披露：婚姻登记机关记载的当前婚姻状况 <code>maritalStatus</code></label>"))
        #expect(leased.bodyText.contains("<select id=\"disclosed.maritalStatus\" name=\"disclosed.maritalStatus\">"))
        #expect(leased.bodyText.contains("用证部门可见"))
        let action = try #require(leased.bodyText.firstRange(of: "action=\"/console/queue/").map {
            String(leased.bodyText[$0.upperBound...].prefix { $0 != "\"" })
        })
        let answered = try Self.post(
            service, "civil-affairs", "/console/queue/\(action)",
            [("csrf", try Self.hidden("csrf", in: leased.bodyText)), ("leaseToken", try Self.hidden("leaseToken", in: leased.bodyText)),
             ("outcome", "confirmed"), ("note", "<img src=x onerror=alert(1)>"), ("disclosed.maritalStatus", "married")])
        #expect(answered.status == 303)

        let result = try Self.get(service, "housing-fund", location)
        #expect(result.bodyText.contains("属实") && result.bodyText.contains("maritalStatus"))
        let print = try Self.get(service, "housing-fund", location + "/print")
        #expect(print.bodyText.contains("<svg") && print.bodyText.contains("att_"))

        let pages = [
            try Self.get(service, "civil-affairs", "/console/queue"), try Self.get(service, "housing-fund", "/console/requests"),
            result, print, leased,
        ]
        for page in pages {
            // The one script tag is heyan's own file; no other (no stored one) on any page.
            let own = "<script src=\"/console/static/console.js\" defer></script>"
            #expect(!page.bodyText.replacing(own, with: "").contains("<script"), "no other script tag on any page")
            #expect(!page.bodyText.contains("<img"))
            #expect(!page.bodyText.contains("<b>"))
        }
        #expect(pages[1].bodyText.contains("&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;"))
        #expect(result.bodyText.contains("&lt;img src=x onerror=alert(1)&gt;"))
    }
}

extension String {
    fileprivate var leftPadded: String { count == 1 ? "0" + self : self }
}
