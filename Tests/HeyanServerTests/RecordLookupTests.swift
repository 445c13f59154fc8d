import HeyanDomain
import HeyanHTTP
import HeyanPostgresStore
import HeyanTestSupport
import Testing

/// A data-sharing verification on PostgreSQL reads its record through the store's record reader,
/// off the event loop (docs/postgresql.md, "Reads and the record reader"); a lost reader
/// connection is a transient store failure as any other.
@Suite struct RecordLookupTests {
    @Test(.enabled(if: Engine.all.contains(.postgresql)))
    func aLostRecordReaderConnectionIs503ThenTheNextVerificationIsAnswered() throws {
        let service = try RunningService(engine: .postgresql)
        let store = try #require(service.runtime.store as? PostgresVerificationStore)
        let police = try DepartmentClient(service, "public-security")
        let hrss = try DepartmentClient(service, "hrss")
        let subject = TestSubjects.residentID(20)
        #expect(
            try police.send(
                "PUT", "/v1/records/PSB-NO-CRIMINAL-RECORD/\(subject)", json: #"{"claims":{"hasCriminalRecord":false}}"#
            ).status == 201)
        func ask() throws -> ClientResponse {
            try hrss.post(
                "/v1/verifications",
                TestSubjects.verificationBody(
                    type: "PSB-NO-CRIMINAL-RECORD", matter: "HR-RECRUIT-001", subject: subject,
                    claims: #"{"hasCriminalRecord":false}"#, purpose: "招聘：核验无犯罪记录"))
        }
        let first = try ask()
        #expect(first.status == 201)
        #expect(first["outcome"] as? String == "confirmed")
        let before = store.recordReadBatches

        let pid = store.recordReaderBackendPID
        try PostgresCluster.shared().psql("SELECT pg_terminate_backend(\(pid), 5000)")
        let refused = try ask()
        #expect(refused.status == 503, "\(refused.bodyText)")
        #expect(refused["type"] as? String == "urn:heyan:problem:store-unavailable")
        #expect(refused.headers["Retry-After"] != nil)

        let again = try ask()
        #expect(again.status == 201)
        #expect(again["outcome"] as? String == "confirmed")
        #expect(store.recordReaderBackendPID != pid)
        #expect(store.recordReadBatches - before == 2)
        // The refused request stored nothing.
        let stored = try store.verifications(requester: "hrss", before: nil, limit: 10).map(\.id)
        #expect(Set(stored) == Set([first["id"] as? String, again["id"] as? String].compactMap { $0 }))
        #expect(stored.count == 2)
    }
}
