import HeyanDomain
import Testing

/// The clerk (经办人) in an audit entry (docs/audit.md): covered by the canonical encoding when
/// present; an entry without one encodes byte for byte as every entry did before the field existed,
/// so existing logs, leaves and checkpoints still verify.
@Suite struct AuditClerkTests {
    static let event = AuditEvent(
        action: .verificationAnswered, actor: "civil-affairs", owner: "civil-affairs", queueItemID: "qi_1",
        detail: ["outcome": "confirmed"])

    @Test func anEntryWithoutAClerkEncodesAsBefore() {
        let bytes = AuditEntry.canonicalBytes(sequence: 7, time: 1_700_000_000_000, event: Self.event)
        #expect(
            String(decoding: bytes, as: UTF8.self)
                == #"{"action":"verification.answered","actor":"civil-affairs","detail":{"outcome":"confirmed"},"owner":"civil-affairs","queueItem":"qi_1","seq":7,"time":1700000000000}"#)
        #expect(Self.event.by(clerk: nil) == Self.event)
    }

    @Test func theClerkIsCoveredByTheEncodingInKeyOrder() {
        let byClerk = Self.event.by(clerk: "ca.007")
        let bytes = AuditEntry.canonicalBytes(sequence: 7, time: 1_700_000_000_000, event: byClerk)
        #expect(
            String(decoding: bytes, as: UTF8.self)
                == #"{"action":"verification.answered","actor":"civil-affairs","clerk":"ca.007","detail":{"outcome":"confirmed"},"owner":"civil-affairs","queueItem":"qi_1","seq":7,"time":1700000000000}"#)
        #expect(APIView.auditEntry(AuditEntry(sequence: 7, time: 0, event: byClerk, previousHash: [], hash: []))
            .jsonBytes().starts(with: Array(#"{"seq":7"#.utf8)))
    }

    @Test func clerkIDsAreSpelledLikeMatterCodes() {
        for good in ["hf-0042", "ca.007", "A_1", "9"] { #expect(CodeSyntax.isClerkID(good), "\(good)") }
        for bad in ["", "-x", ".x", "a b", "李四", String(repeating: "a", count: 65), "a/b"] {
            #expect(!CodeSyntax.isClerkID(bad), "\(bad)")
        }
    }

    @Test func answersAndSpotChecksCarryTheClerkIntoTheirEntries() {
        var answer = QueueTransitionsTests.answer(token: "lt_1")
        answer.clerk = "ca.007"
        let leased = QueueTransitionsTests.item(.leased(token: "lt_1", expiresAt: QueueTransitionsTests.t0 + 60_000))
        guard case .answer(let transition) = QueueTransitions.answer(answer, item: leased, verification: QueueTransitionsTests.pending)
        else { Issue.record("the answer was not admitted"); return }
        let attestation = Attestation(
            id: "att_1", verificationID: "ver_01", issuer: "civil-affairs", requester: "housing-fund",
            certificateType: "CIV-MARRIAGE", subjectID: RulesFixture.residentID, outcome: .denied, jws: "x", issuedAt: 0,
            expiresAt: 1)
        #expect(transition.attested(by: attestation).audit.clerk == "ca.007")
        let lease = QueueTransitions.lease(
            QueueTransitionsTests.item(), of: QueueTransitionsTests.pending, token: "lt_2", now: QueueTransitionsTests.t0,
            duration: 1000, clerk: "ca.009")
        #expect(lease?.audit.clerk == "ca.009")
        #expect(attestation.revoked(reason: "r", by: "civil-affairs", clerk: "ca.008", at: 5).event.clerk == "ca.008")
    }
}
