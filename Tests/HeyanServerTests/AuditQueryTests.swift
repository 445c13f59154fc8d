import HeyanTestSupport
import Testing

/// Audit query parameters found by `make conformance`.
@Suite struct AuditQueryTests {
    @Test func longFractionsAreTimesAndEmptyFiltersAreRefused() throws {
        let service = try RunningService()
        let auditor = try DepartmentClient(service, "audit-office")
        // Used to trap in Timestamp.parse and take the whole service down.
        #expect(try auditor.get("/v1/audit?from=0062-06-19T17%3A50%3A24.8Z&to=1300-05-29T13%3A19%3A30.31222-08%3A52").status == 200)
        #expect(try auditor.get("/v1/audit?from=2026-01-01T00%3A00%3A00.123456789Z").status == 200)
        for name in ["subject", "department", "type", "action"] {
            #expect(try auditor.get("/v1/audit?\(name)=").status == 400, "\(name)")
        }
        // Filters must be codes as the spec says (found by make conformance: 65 characters passed).
        #expect(try auditor.get("/v1/audit?type=" + String(repeating: "0", count: 65)).status == 400)
        #expect(try auditor.get("/v1/audit?type=civ-marriage").status == 400)
        #expect(try auditor.get("/v1/audit?department=Housing-Fund").status == 400)
        #expect(try auditor.get("/v1/audit?type=CIV-MARRIAGE&department=housing-fund").status == 200)
        #expect(try auditor.get("/healthz").status == 200)
    }
}
