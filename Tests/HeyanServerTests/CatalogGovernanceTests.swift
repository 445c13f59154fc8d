import Foundation
import HeyanHTTP
import HeyanTestSupport
import Testing

/// Catalog governance end to end over mTLS: versioned changes deciding later requests, past
/// versions, refusals that store nothing; complaints; statistics checked against the audit log.
/// Every exchange is also checked against `schemas/openapi.yaml`.
@Suite struct CatalogGovernanceTests {
    /// Records exchanges under their spec templates for the OpenAPI check.
    final class Exchanges: @unchecked Sendable {
        // @unchecked: used from the test's thread only.
        var recorded: [RecordedExchange] = []

        static func template(_ path: String) -> String {
            let parts = path.split(separator: "?")[0].split(separator: "/").map(String.init)
            if parts.count == 3 && parts[1] == "catalog" && !["versions", "changes"].contains(parts[2]) {
                return "/v1/catalog/{code}"
            }
            if parts.count == 4 && parts[1] == "complaints" { return "/v1/complaints/{id}/handle" }
            if parts.count == 3 && parts[1] == "verifications" { return "/v1/verifications/{id}" }
            return "/" + parts.joined(separator: "/")
        }

        @discardableResult
        func note(_ method: String, _ path: String, _ response: ClientResponse) -> ClientResponse {
            recorded.append(
                RecordedExchange(
                    method: method, path: Self.template(path), status: response.status,
                    contentType: response.headers["Content-Type"] ?? "", body: response.bodyText))
            return response
        }

        func get(_ client: DepartmentClient, _ path: String) throws -> ClientResponse {
            note("GET", path, try client.get(path))
        }

        func post(_ client: DepartmentClient, _ path: String, _ body: String) throws -> ClientResponse {
            note("POST", path, try client.post(path, body))
        }

        func checkAgainstSpec() throws {
            #expect(try OpenAPIConformance.check(recorded) == [])
        }
    }

    static func rfc3339(_ date: Date) -> String {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        return formatter.string(from: date)
    }

    static let adoptionItem = """
        {"code":"CIV-ADOPTION","name":{"zh":"收养关系证明","en":"Proof of adoption"},"category":"legal-relationship",
         "owner":"civil-affairs","method":"department-verification","legalBasis":"《中华人民共和国民法典》第一千一百零五条",
         "subjectTypes":["resident-id"],"claims":{"adopted":{"type":"boolean","description":"是否登记收养"}},
         "requesters":[{"department":"housing-fund","matterCodes":["HF-WITHDRAW-003"]}],
         "timeLimitWorkingDays":2,"validityDays":30}
        """

    /// On a manual clock: the change takes effect when the test moves time past `effectiveAt`.
    @Test(arguments: Engine.all) func catalogChangeDecidesRequestsFromItsEffectiveTime(_ engine: Engine) throws {
        let clock = ManualClock()
        let service = try RunningService(clock: clock, engine: engine)
        let spec = Exchanges()
        let operatorClient = try DepartmentClient(service, "data-office")
        let housing = try DepartmentClient(service, "housing-fund")
        let auditor = try DepartmentClient(service, "audit-office")

        // Before: the configured catalog (version 1) decides.
        let before = try spec.post(housing, "/v1/verifications", TestSubjects.verificationBody(subject: TestSubjects.residentID(11)))
        #expect(before.status == 202)
        #expect(before["catalogVersion"] as? Int == 1)
        let beforeID = try #require(before["id"] as? String)
        let versions = try spec.get(operatorClient, "/v1/catalog/versions")
        #expect(versions["active"] as? Int == 1)

        // The change: cancel CIV-MARRIAGE, add CIV-ADOPTION, effective in two seconds.
        let effective = Date(timeIntervalSince1970: Double(clock.now()) / 1000 + 2)
        let change = """
            {"baseVersion":1,"effectiveAt":"\(Self.rfc3339(effective))","reason":"婚姻状况改由数据共享核查；新增收养关系证明",
             "legalBasis":"市政府常务会议纪要〔2026〕12号",
             "changes":[{"op":"cancel","code":"CIV-MARRIAGE","reason":"通过部门间信息共享核查"},
                        {"op":"add","item":\(Self.adoptionItem)},
                        {"op":"amend","code":"PSB-KINSHIP","fields":{"timeLimitWorkingDays":2}}]}
            """
        let stored = try spec.post(operatorClient, "/v1/catalog/changes", change)
        #expect(stored.status == 201, "\(stored.bodyText)")
        #expect(stored["version"] as? Int == 2)
        #expect(stored["status"] as? String == "scheduled")
        #expect(stored["changedCodes"] as? [String] == ["CIV-MARRIAGE", "CIV-ADOPTION", "PSB-KINSHIP"])
        #expect(stored.headers["Location"] == "/v1/catalog?version=2")

        // Not yet in effect: version 1 still decides.
        let stillOld = try spec.post(housing, "/v1/verifications", TestSubjects.verificationBody(subject: TestSubjects.residentID(12)))
        #expect(stillOld.status == 202)
        #expect(stillOld["catalogVersion"] as? Int == 1)
        let adoptionBody = TestSubjects.verificationBody(
            type: "CIV-ADOPTION", matter: "HF-WITHDRAW-003", subject: TestSubjects.residentID(13),
            claims: #"{"adopted":true}"#, purpose: "住房公积金提取：核验收养关系")
        #expect(try spec.post(housing, "/v1/verifications", adoptionBody).status == 422)

        clock.advance(seconds: 1.95)  // 50 ms before: version 1 still decides
        #expect(try housing.post("/v1/verifications", adoptionBody).status == 422)
        clock.advance(seconds: 0.1)

        // After: the cancelled item is 410 with its reason, the new one is accepted under version 2.
        let cancelled = try spec.post(housing, "/v1/verifications", TestSubjects.verificationBody(subject: TestSubjects.residentID(14)))
        #expect(cancelled.status == 410)
        #expect(cancelled["reason"] as? String == "通过部门间信息共享核查")
        let added = try spec.post(housing, "/v1/verifications", adoptionBody)
        #expect(added.status == 202, "\(added.bodyText)")
        #expect(added["catalogVersion"] as? Int == 2)
        // The request decided before keeps its version.
        #expect(try spec.get(housing, "/v1/verifications/\(beforeID)")["catalogVersion"] as? Int == 1)

        // Both versions stay readable.
        let v1 = try spec.get(housing, "/v1/catalog?version=1")
        let v1Items = try #require(v1["items"] as? [[String: Any]])
        #expect(v1["version"] as? Int == 1)
        #expect(v1Items.first { $0["code"] as? String == "CIV-MARRIAGE" }?["method"] as? String == "department-verification")
        #expect(!v1Items.contains { $0["code"] as? String == "CIV-ADOPTION" })
        let v2 = try spec.get(housing, "/v1/catalog?version=2")
        let v2Items = try #require(v2["items"] as? [[String: Any]])
        let marriage = try #require(v2Items.first { $0["code"] as? String == "CIV-MARRIAGE" })
        #expect(marriage["method"] as? String == "cancelled")
        #expect((marriage["cancellation"] as? [String: Any])?["reason"] as? String == "通过部门间信息共享核查")
        #expect(v2Items.first { $0["code"] as? String == "PSB-KINSHIP" }?["timeLimitWorkingDays"] as? Int == 2)
        #expect(try spec.get(housing, "/v1/catalog")["version"] as? Int == 2)
        #expect(try spec.get(housing, "/v1/catalog/CIV-ADOPTION?version=2").status == 200)
        #expect(try spec.get(housing, "/v1/catalog/CIV-ADOPTION?version=1").status == 404)
        #expect(try spec.get(housing, "/v1/catalog?version=9").status == 404)
        #expect(try spec.get(housing, "/v1/catalog?version=zero").status == 400)

        // The change is audited with its version, reason and codes.
        let audit = try #require(try auditor.get("/v1/audit?action=catalog.changed")["entries"] as? [[String: Any]])
        #expect(audit.count == 2)
        let detail = try #require(audit.last?["detail"] as? [String: String])
        #expect(audit.last?["actor"] as? String == "data-office")
        #expect(detail["version"] == "2")
        #expect(detail["baseVersion"] == "1")
        #expect(detail["codes"] == "CIV-MARRIAGE,CIV-ADOPTION,PSB-KINSHIP")
        #expect(detail["reason"] == "婚姻状况改由数据共享核查；新增收养关系证明")
        #expect((audit.first?["detail"] as? [String: String])?["source"] == "configuration")
        try spec.checkAgainstSpec()
    }

    @Test(arguments: Engine.all) func refusedChangesStoreNothing(_ engine: Engine) throws {
        let service = try RunningService(engine: engine)
        let spec = Exchanges()
        let operatorClient = try DepartmentClient(service, "data-office")
        let simple = #"{"reason":"调整","legalBasis":"依据","changes":[{"op":"cancel","code":"EDU-DEGREE","reason":"直接取消"}]}"#

        // Only the operator changes the catalog.
        for department in ["housing-fund", "audit-office", "civil-affairs"] {
            let refused = try spec.post(try DepartmentClient(service, department), "/v1/catalog/changes", simple)
            #expect(refused.status == 403, "\(department)")
        }

        // Every invalid change is reported with its path, and nothing is stored.
        let invalid = """
            {"reason":"调整","legalBasis":"依据","effectiveAt":"2001-01-01T00:00:00Z",
             "changes":[{"op":"add","item":\(Self.adoptionItem.replacingOccurrences(of: "\"owner\":\"civil-affairs\"", with: "\"owner\":\"civil-afairs\""))},
                        {"op":"cancel","code":"NO-SUCH-ITEM","reason":"直接取消"},
                        {"op":"amend","code":"PSB-KINSHIP","fields":{"timeLimitWorkingDays":0}},
                        {"op":"add","item":{"code":"X-1"}},
                        {"op":"rename","code":"EDU-DEGREE"}]}
            """
        let refused = try spec.post(operatorClient, "/v1/catalog/changes", invalid)
        #expect(refused.status == 422)
        let paths = Set(refused.errorPaths)
        #expect(
            paths.isSuperset(of: [
                "effectiveAt", "changes[0].item.owner", "changes[1].code", "changes[2].fields.timeLimitWorkingDays",
                "changes[4].op",
            ]), "\(refused.bodyText)")
        #expect(paths.contains { $0.hasPrefix("changes[3].item") })
        #expect(try spec.post(operatorClient, "/v1/catalog/changes", "[1]").status == 400)
        // A stale base version is a conflict.
        let stale = try spec.post(
            operatorClient, "/v1/catalog/changes", simple.replacingOccurrences(of: "{\"reason\"", with: "{\"baseVersion\":7,\"reason\""))
        #expect(stale.status == 409)
        #expect(stale["latestVersion"] as? Int == 1)

        let versions = try spec.get(operatorClient, "/v1/catalog/versions")
        #expect((versions["versions"] as? [Any])?.count == 1)
        let auditor = try DepartmentClient(service, "audit-office")
        #expect((try auditor.get("/v1/audit?action=catalog.changed")["entries"] as? [Any])?.count == 1)

        // The valid change then applies at once (no effectiveAt: now).
        let applied = try spec.post(operatorClient, "/v1/catalog/changes", simple)
        #expect(applied.status == 201)
        #expect(applied["status"] as? String == "active")
        let degree = try spec.get(operatorClient, "/v1/catalog/EDU-DEGREE")
        #expect(degree["method"] as? String == "cancelled")
        #expect((degree["requesters"] as? [Any])?.isEmpty == true)
        try spec.checkAgainstSpec()
    }

    @Test(arguments: Engine.all) func complaintLifecycle(_ engine: Engine) throws {
        let service = try RunningService(engine: engine)
        let spec = Exchanges()
        let hrss = try DepartmentClient(service, "hrss")
        let operatorClient = try DepartmentClient(service, "data-office")
        let housing = try DepartmentClient(service, "housing-fund")

        let first = try spec.post(
            hrss, "/v1/complaints",
            #"{"againstDepartment":"housing-fund","certificateDemanded":"COMM-ALIVE","matterCode":"HF-WITHDRAW-001","description":"窗口要求申请人提交生存证明"}"#)
        #expect(first.status == 201, "\(first.bodyText)")
        #expect(first["status"] as? String == "open")
        #expect(first["catalogStanding"] as? String == "cancelled")
        #expect(first["onBehalfOfCitizen"] as? Bool == false)
        let firstID = try #require(first["id"] as? String)
        let second = try spec.post(
            operatorClient, "/v1/complaints",
            #"{"againstDepartment":"education","certificateDemanded":"社区开具的居住证明","description":"市民来电反映：入学报名要求社区居住证明","onBehalfOfCitizen":true}"#)
        #expect(second.status == 201)
        #expect(second["catalogStanding"] as? String == "unlisted")
        #expect(second["filedBy"] as? String == "data-office")

        // Only the operator files on behalf of a citizen; the department must exist.
        let notOperator = try spec.post(
            housing, "/v1/complaints",
            #"{"againstDepartment":"hrss","certificateDemanded":"X","description":"d","onBehalfOfCitizen":true}"#)
        #expect(notOperator.status == 422)
        #expect(notOperator.errorPaths == ["onBehalfOfCitizen"])
        let unknown = try spec.post(
            housing, "/v1/complaints", #"{"againstDepartment":"hrs","certificateDemanded":"X","description":"d"}"#)
        #expect(unknown.status == 422)
        #expect(unknown.errorPaths == ["againstDepartment"])

        // A department sees what it filed; the operator sees all.
        let mine = try #require(try spec.get(hrss, "/v1/complaints")["complaints"] as? [[String: Any]])
        #expect(mine.map { $0["id"] as? String } == [firstID])
        #expect((try spec.get(operatorClient, "/v1/complaints?status=open")["complaints"] as? [Any])?.count == 2)
        #expect((try spec.get(operatorClient, "/v1/complaints?status=handled")["complaints"] as? [Any])?.count == 0)
        #expect(try spec.get(operatorClient, "/v1/complaints?status=closed").status == 400)

        // Handling: operator only, once.
        let reply = #"{"reply":"已责令住房公积金管理中心整改，取消该证明要求。"}"#
        #expect(try spec.post(hrss, "/v1/complaints/\(firstID)/handle", reply).status == 403)
        let handled = try spec.post(operatorClient, "/v1/complaints/\(firstID)/handle", reply)
        #expect(handled.status == 200)
        #expect(handled["status"] as? String == "handled")
        #expect(handled["handledBy"] as? String == "data-office")
        #expect(handled["reply"] as? String == "已责令住房公积金管理中心整改，取消该证明要求。")
        #expect(try spec.post(operatorClient, "/v1/complaints/\(firstID)/handle", reply).status == 409)
        #expect(try spec.post(operatorClient, "/v1/complaints/cmp_NOPE/handle", reply).status == 404)
        let handledList = try #require(try spec.get(hrss, "/v1/complaints?status=handled")["complaints"] as? [[String: Any]])
        #expect(handledList.first?["reply"] as? String == "已责令住房公积金管理中心整改，取消该证明要求。")

        let auditor = try DepartmentClient(service, "audit-office")
        let filed = try #require(try auditor.get("/v1/audit?action=complaint.filed")["entries"] as? [[String: Any]])
        #expect(filed.count == 2)
        #expect((filed.first?["detail"] as? [String: String])?["againstDepartment"] == "housing-fund")
        #expect((filed.first?["detail"] as? [String: String])?["complaint"] == firstID)
        let handledAudit = try #require(try auditor.get("/v1/audit?action=complaint.handled")["entries"] as? [[String: Any]])
        #expect(handledAudit.count == 1)
        #expect(handledAudit.first?["actor"] as? String == "data-office")
        try spec.checkAgainstSpec()
    }
}
