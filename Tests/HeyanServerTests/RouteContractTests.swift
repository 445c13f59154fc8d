import FoundationEssentials
import HeyanDomain
import HeyanHTTP
import HeyanServer
import HeyanTestSupport
import Testing

/// One route's contract at a time, in-process (``InProcessService``): a request value through the
/// router as a department, the response value back, no socket. The flows over real mTLS are in
/// the end-to-end suites.
@Suite struct RouteContractTests {
    struct Problem: Decodable, Equatable {
        var type: String
        var status: Int
        var detail: String
    }

    struct CatalogList: Decodable {
        struct Item: Decodable { var code: String }
        var items: [Item]
    }

    struct CatalogItem: Decodable {
        struct Cancellation: Decodable { var reason: String }
        var method: String
        var owner: String?
        var legalBasis: String
        var cancellation: Cancellation?
    }

    @Test func healthzAnswersAnyKnownDepartment() throws {
        let service = try InProcessService()
        let response = try service.request("audit-office", "GET", "/healthz")
        #expect(response.status == 200)
        #expect(response.bodyText == #"{"status":"ok"}"#)
        #expect(response.headers["Content-Type"] == "application/json")
    }

    @Test func catalogListsTheConfiguredItemsExactly() throws {
        let service = try InProcessService()
        let response = try service.request("housing-fund", "GET", "/v1/catalog")
        #expect(response.status == 200)
        let codes = try response.decode(CatalogList.self).items.map(\.code)
        let configured = try JSONDecoder().decode(
            CatalogList.self, from: Data(try readFile("\(packageRoot())/config/catalog.json"))
        ).items.map(\.code)
        #expect(Set(codes).isSuperset(of: ["CIV-MARRIAGE", "PSB-NO-CRIMINAL-RECORD", "COMM-ALIVE"]))
        #expect(codes == configured)
        #expect(codes.count == 14)
    }

    @Test func catalogItemHasMethodLegalBasisAndGrants() throws {
        let service = try InProcessService()
        let response = try service.request("hrss", "GET", "/v1/catalog/CIV-MARRIAGE")
        #expect(response.status == 200)
        let item = try response.decode(CatalogItem.self)
        #expect(item.method == "department-verification")
        #expect(item.owner == "civil-affairs")
        #expect(item.legalBasis == "《婚姻登记条例》第二条、第四条")
        let cancelled = try service.request("hrss", "GET", "/v1/catalog/COMM-ALIVE").decode(CatalogItem.self)
        #expect(cancelled.method == "cancelled")
        #expect(cancelled.cancellation?.reason == "通过部门间信息共享核查")
    }

    @Test func unknownItemIsAProblem404() throws {
        let service = try InProcessService()
        let response = try service.request("hrss", "GET", "/v1/catalog/NO-SUCH-ITEM")
        #expect(response.status == 404)
        #expect(response.headers["Content-Type"] == "application/problem+json")
        #expect(
            try response.decode(Problem.self)
                == Problem(
                    type: "urn:heyan:problem:not-found", status: 404,
                    detail: "No certificate type 'NO-SUCH-ITEM' in the catalog."))
    }

    @Test func unknownRouteIs404AndWrongMethodIs405WithAllow() throws {
        let service = try InProcessService()
        #expect(try service.request("hrss", "GET", "/v1/nothing-here").status == 404)
        let response = try service.request("hrss", "DELETE", "/v1/catalog")
        #expect(response.status == 405)
        #expect(response.headers["Allow"] == "GET, HEAD")
        #expect(try response.decode(Problem.self).status == 405)
    }

    @Test func unknownDepartmentGets403OnEveryRoute() throws {
        let service = try InProcessService()
        for path in ["/healthz", "/metrics", "/v1/catalog", "/v1/catalog/CIV-MARRIAGE", "/v1/nothing"] {
            let response = try service.request("not-a-department", "GET", path)
            #expect(response.status == 403, "\(path)")
            #expect(response.headers["Content-Type"] == "application/problem+json")
            #expect(
                try response.decode(Problem.self)
                    == Problem(
                        type: "urn:heyan:problem:forbidden", status: 403,
                        detail: "Department 'not-a-department' is not registered with this heyan service."))
        }
    }

    struct Verification: Decodable, Equatable {
        var id: String
        var status: String
        var owner: String
        var certificateType: String
        var createdAt: String
        var dueAt: String?
    }

    /// `Idempotency-Key`: the same body replays the stored response (marked), another body is a
    /// 409, a malformed key a 400 — the one helper both create routes use.
    @Test func idempotencyKeyReplaysConflictsAndRefuses() throws {
        let service = try InProcessService()
        let body = TestSubjects.verificationBody(subject: TestSubjects.residentID(501))
        let key = [("Idempotency-Key", "key-501")]
        let first = try service.request("housing-fund", "POST", "/v1/verifications", headers: key, json: body)
        #expect(first.status == 202)
        #expect(first.headers["Idempotent-Replayed"] == nil)
        let created = try first.decode(Verification.self)
        #expect(created.id.hasPrefix(HeyanDomain.Verification.idPrefix) && created.id.utf8.count == 4 + 26)
        #expect(first.headers["Location"] == "/v1/verifications/\(created.id)")
        #expect(created.status == "pending")
        #expect(created.owner == "civil-affairs")
        // The due time is the catalog's deadline counted in working days from the submission.
        let type = try #require(service.runtime.configuration.catalog["CIV-MARRIAGE"])
        let createdAt = try #require(Timestamp.parse(created.createdAt))
        #expect(
            created.dueAt
                == Timestamp.rfc3339(DueDate.dueAt(for: type, submittedAt: createdAt, calendar: service.runtime.calendar)))

        let replayed = try service.request("housing-fund", "POST", "/v1/verifications", headers: key, json: body)
        #expect(replayed.status == 202)
        #expect(replayed.headers["Idempotent-Replayed"] == "true")
        #expect(replayed.body == first.body)

        let other = TestSubjects.verificationBody(subject: TestSubjects.residentID(502))
        let reused = try service.request("housing-fund", "POST", "/v1/verifications", headers: key, json: other)
        #expect(
            try reused.decode(Problem.self)
                == Problem(
                    type: "urn:heyan:problem:conflict", status: 409,
                    detail: "This Idempotency-Key was used before with a different request body."))

        // The key is per requester: another department's same key is a new request.
        let theirs = TestSubjects.verificationBody(matter: "HC-PURCHASE-QUAL-001", subject: TestSubjects.residentID(501))
        let elsewhere = try service.request("housing-construction", "POST", "/v1/verifications", headers: key, json: theirs)
        #expect(elsewhere.status == 202)
        #expect(try elsewhere.decode(Verification.self).id != created.id)

        let malformed = try service.request(
            "housing-fund", "POST", "/v1/verifications", headers: [("Idempotency-Key", "")], json: body)
        #expect(
            try malformed.decode(Problem.self)
                == Problem(
                    type: "urn:heyan:problem:malformed-request", status: 400,
                    detail: "Idempotency-Key must be 1 to 200 visible ASCII characters."))
    }
}
