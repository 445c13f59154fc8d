import HeyanDomain
import HeyanHTTP
@testable import HeyanServer
import HeyanTestSupport
import Testing

/// ``VerificationService/plan(_:requester:clerk:catalogVersion:now:record:calendar:issuer:)`` without
/// HTTP and without a store: the decision is a value, compared whole.
@Suite struct VerificationServiceTests {
    static let now: Millis = 1_795_000_000_000  // 2026-11-19T07:46:40Z, a Thursday

    @Test func aDepartmentVerificationIsQueuedForItsOwnerWithItsAuditEntry() throws {
        let service = try InProcessService()
        let runtime = service.runtime
        let catalog = runtime.configuration.catalog
        let housing = try #require(runtime.configuration.departments["housing-fund"])
        let subject = TestSubjects.residentID(900)
        let draft = try VerificationRequestRules.evaluate(
            body: Array(TestSubjects.verificationBody(subject: subject).utf8), requester: housing, catalog: catalog,
            today: CalendarDate(daysSince1970: Int(Self.now / 86_400_000))
        ).get()
        let issuer = AttestationIssuer(
            issuerURI: "urn:heyan:service", signer: runtime.signer, metrics: runtime.service.metrics,
            newIdentifier: { prefix, _ in prefix + "TEST" })

        let plan = try VerificationService.plan(
            draft, requester: "housing-fund", catalogVersion: catalog.version, now: Self.now, record: nil,
            calendar: runtime.calendar, issuer: issuer)

        let type = try #require(catalog["CIV-MARRIAGE"])
        let dueAt = DueDate.dueAt(for: type, submittedAt: Self.now, calendar: runtime.calendar)
        // The test configuration lists no holidays, so its calendar covers no year: the due time is
        // counted past its coverage, and the plan says so.
        #expect(DueDate.isBeyondCalendar(dueAt: dueAt, calendar: runtime.calendar))
        #expect(plan.new.dueBeyondCalendar)
        #expect(plan.status == 202)
        #expect(plan.location == "/v1/verifications/ver_TEST")
        #expect(plan.new.attestation == nil)
        #expect(plan.new.idempotency == nil)
        #expect(
            plan.new.queueItem
                == QueueItem(
                    id: "qi_TEST", kind: .verification, verificationID: "ver_TEST", owner: "civil-affairs",
                    createdAt: Self.now, dueAt: dueAt))
        #expect(plan.new.verification.status == .pending)
        #expect(plan.new.verification.dueAt == dueAt)
        #expect(plan.new.verification.catalogVersion == catalog.version)
        #expect(
            plan.new.audit == [
                AuditEvent(
                    action: .verificationSubmitted, actor: "housing-fund", requester: "housing-fund",
                    owner: "civil-affairs", certificateType: "CIV-MARRIAGE", subjectID: subject,
                    verificationID: "ver_TEST", queueItemID: "qi_TEST",
                    detail: [
                        "matterCode": "HF-WITHDRAW-001", "purpose": "住房公积金提取：核验婚姻状况",
                        "method": "department-verification", "routedTo": "queue", "dueAt": Timestamp.rfc3339(dueAt),
                        "dueBeyondCalendar": "true",
                    ])
            ])
        #expect(plan.body == VerificationViewReference.tree(plan.new.verification, attestation: nil).jsonBytes())
    }
}
