import Dispatch
import HeyanDomain
import HeyanHTTP
import HeyanPostgresStore
import HeyanTestSupport
import Synchronization
import Testing

/// The audit queue's back-pressure through the service (docs/postgresql.md, "Audit: queue and
/// integrator"): with 4,096 entries waiting for integration an audited write is answered 503
/// `store-unavailable` with `Retry-After`, stores nothing, and `/metrics` shows the backlog and the
/// leadership; integration resumed, the same write succeeds. On SQLite the backlog is always 0 and
/// the node always leads.
@Suite struct AuditBacklogTests {
    static func scrape(_ client: DepartmentClient) throws -> [String: String] {
        let text = try client.get("/metrics").bodyText
        var values: [String: String] = [:]
        for line in text.split(separator: "\n") where !line.hasPrefix("#") {
            let parts = line.split(separator: " ")
            if parts.count == 2 { values[String(parts[0])] = String(parts[1]) }
        }
        return values
    }

    @Test(arguments: Engine.all) func metricsShowLeadershipAndAnEmptyBacklog(_ engine: Engine) throws {
        let service = try RunningService(engine: engine)
        let police = try DepartmentClient(service, "public-security")
        let subject = TestSubjects.residentID(7)
        let put = try police.send(
            "PUT", "/v1/records/PSB-NO-CRIMINAL-RECORD/\(subject)", json: #"{"claims":{"hasCriminalRecord":false}}"#)
        #expect(put.status == 201)
        // Integrated (within the integrator's pass spacing on PostgreSQL), the backlog is empty.
        if let store = service.runtime.store as? PostgresVerificationStore {
            #expect(try store.awaitAuditIntegration(timeout: 10))
        }
        let metrics = try Self.scrape(try DepartmentClient(service, "data-office"))
        #expect(metrics["heyan_leader"] == "1")
        #expect(metrics["heyan_audit_integration_backlog"] == "0")
        #expect(metrics["heyan_audit_integration_oldest_seconds"] == "0.0")
    }

    @Test(.enabled(if: Engine.all.contains(.postgresql)))
    func aFullQueueRefusesAuditedWritesWith503() throws {
        let service = try RunningService(engine: .postgresql)
        let store = try #require(service.runtime.store as? PostgresVerificationStore)
        #expect(try store.awaitAuditIntegration(timeout: 10))  // what the start wrote
        store.pauseAuditIntegration(true)
        // 5,000 entries waiting: one write of 5,000 records, straight to the store. One job with
        // more entries than the limit is admitted on a short queue (a records:batch may hold 10,000).
        let records = (0..<5000).map {
            SharedRecord(
                certificateType: "PSB-NO-CRIMINAL-RECORD", subjectID: "FILL\($0)", owner: "public-security",
                claims: ["hasCriminalRecord": .bool(false)], updatedAt: 0)
        }
        let filled = DispatchSemaphore(value: 0)
        let outcome = Mutex<Result<[RecordWriteResult], any Error>?>(nil)
        store.putRecords(records, actor: "public-security", now: 0) { result in
            outcome.withLock { $0 = result }
            filled.signal()
        }
        filled.wait()
        #expect(try outcome.withLock { $0 }?.get().count == 5000)

        let police = try DepartmentClient(service, "public-security")
        let operatorOffice = try DepartmentClient(service, "data-office")
        let metrics = try Self.scrape(operatorOffice)
        #expect(metrics["heyan_audit_integration_backlog"] == "5000")
        #expect(metrics["heyan_leader"] == "1")
        #expect(Double(metrics["heyan_audit_integration_oldest_seconds"] ?? "-1") ?? -1 >= 0)

        let subject = TestSubjects.residentID(8)
        let target = "/v1/records/PSB-NO-CRIMINAL-RECORD/\(subject)"
        let body = #"{"claims":{"hasCriminalRecord":false}}"#
        let refused = try police.send("PUT", target, json: body)
        #expect(refused.status == 503, "\(refused.bodyText)")
        #expect(refused.headers["Content-Type"] == "application/problem+json")
        #expect(refused["type"] as? String == "urn:heyan:problem:store-unavailable")
        #expect(refused.headers["Retry-After"] != nil)
        #expect(try store.record(certificateType: "PSB-NO-CRIMINAL-RECORD", subjectID: subject) == nil)

        store.pauseAuditIntegration(false)
        #expect(try store.awaitAuditIntegration(timeout: 10))
        #expect(try police.send("PUT", target, json: body).status == 201)
        #expect(try store.awaitAuditIntegration(timeout: 10))
        #expect(try Self.scrape(operatorOffice)["heyan_audit_integration_backlog"] == "0")
    }
}

/// A console form whose store write fails (the audit queue full, on PostgreSQL) answers a page — the
/// 503 problem rendered with `Retry-After` — not the API's JSON problem, which a clerk's browser would
/// show as text.
@Suite struct ConsoleStoreFailureTests {
    @Test(.enabled(if: Engine.all.contains(.postgresql)))
    func aFullAuditQueueIsAPageOnTheConsole() throws {
        let service = try InProcessService(engine: .postgresql)
        let store = try #require(service.runtime.store as? PostgresVerificationStore)
        #expect(try store.awaitAuditIntegration(timeout: 10))
        store.pauseAuditIntegration(true)
        defer { store.pauseAuditIntegration(false) }
        let records = (0..<5000).map {
            SharedRecord(
                certificateType: "PSB-NO-CRIMINAL-RECORD", subjectID: "FILL\($0)", owner: "public-security",
                claims: ["hasCriminalRecord": .bool(false)], updatedAt: 0)
        }
        let filled = DispatchSemaphore(value: 0)
        store.putRecords(records, actor: "public-security", now: 0) { _ in filled.signal() }
        filled.wait()

        let csrf = try ConsoleOwnerPageTests.csrf(service, "public-security", "/console/records")
        let subject = TestSubjects.residentID(9)
        let refused = try ConsoleRouteTests.post(
            service, "public-security", "/console/records/put",
            [("csrf", csrf), ("certificateType", "PSB-NO-CRIMINAL-RECORD"), ("subjectId", subject),
             ("claims.hasCriminalRecord", "false")])
        #expect(refused.status == 503)
        #expect(refused.headers["Content-Type"]?.hasPrefix("text/html") == true, "\(refused.headers)")
        #expect(refused.headers["Retry-After"] != nil)
        #expect(refused.bodyText.contains("urn:heyan:problem:store-unavailable"))
        #expect(try store.record(certificateType: "PSB-NO-CRIMINAL-RECORD", subjectID: subject) == nil)
    }
}
