import HeyanDomain
import HeyanTestSupport
import Testing

@Suite struct RulesAPIViewTests {
    static func text(_ value: JSONValue) -> String { String(decoding: value.jsonBytes(), as: UTF8.self) }
    static func text(_ bytes: [UInt8]) -> String { String(decoding: bytes, as: UTF8.self) }
    static func queueItemText(_ leased: LeasedItem) -> String {
        var buffer: [UInt8] = []
        APIView.writeQueueItem(leased, into: &buffer)
        return text(buffer)
    }

    static let created: Millis = 1_768_539_600_000  // 2026-01-16T05:00:00.000Z
    static let pending = Verification(
        id: "ver_01", certificateType: "CIV-MARRIAGE", method: .departmentVerification, requester: "housing-fund",
        owner: "civil-affairs", matterCode: "HF-WITHDRAW-001", purpose: "提取住房公积金",
        subject: Subject(idType: .residentID, id: RulesFixture.residentID, name: "张三"),
        claims: ["maritalStatus": .string("married")], state: .pending, createdAt: created,
        dueAt: created + 3 * 86_400_000, catalogVersion: 4)

    static let attestation = Attestation(
        id: "att_01", verificationID: "ver_01", issuer: "civil-affairs", requester: "housing-fund",
        certificateType: "CIV-MARRIAGE", subjectID: RulesFixture.residentID, outcome: .denied, jws: "h.p.s",
        issuedAt: created + 60_000, expiresAt: created + 60_000 + 30 * 86_400_000)

    @Test func pendingVerification() {
        #expect(
            Self.text(APIView.verificationBytes(Self.pending, attestation: nil))
                == #"{"id":"ver_01","status":"pending","certificateType":"CIV-MARRIAGE","method":"department-verification","#
                + #""requester":"housing-fund","owner":"civil-affairs","matterCode":"HF-WITHDRAW-001","purpose":"提取住房公积金","#
                + #""subject":{"idType":"resident-id","id":"11010519491231002X","name":"张三"},"claims":{"maritalStatus":"married"},"#
                + #""createdAt":"2026-01-16T05:00:00.000Z","dueAt":"2026-01-19T05:00:00.000Z","catalogVersion":4}"#)
    }

    @Test func answeredVerification() {
        var answer = VerificationAnswer(
            outcome: .denied, disclosed: ["maritalStatus": .string("divorced")], note: "登记为离婚",
            answeredAt: Self.created + 60_000, attestationID: "att_01")
        var answered = Self.pending
        answered.state = .answered(answer)
        #expect(
            Self.text(APIView.verificationBytes(answered, attestation: Self.attestation))
                == #"{"id":"ver_01","status":"answered","certificateType":"CIV-MARRIAGE","method":"department-verification","#
                + #""requester":"housing-fund","owner":"civil-affairs","matterCode":"HF-WITHDRAW-001","purpose":"提取住房公积金","#
                + #""subject":{"idType":"resident-id","id":"11010519491231002X","name":"张三"},"claims":{"maritalStatus":"married"},"#
                + #""createdAt":"2026-01-16T05:00:00.000Z","dueAt":"2026-01-19T05:00:00.000Z","outcome":"denied","#
                + #""disclosed":{"maritalStatus":"divorced"},"note":"登记为离婚","answeredAt":"2026-01-16T05:01:00.000Z","#
                + #""attestation":{"id":"att_01","jws":"h.p.s","expiresAt":"2026-02-15T05:01:00.000Z"},"catalogVersion":4}"#)
        // An outcome with nothing disclosed still says so.
        answer.disclosed = [:]
        answered.state = .answered(answer)
        #expect(Self.text(APIView.verificationBytes(answered, attestation: nil)).contains(#""outcome":"denied","disclosed":{},"#))
    }

    /// The body of `POST /v1/verifications` is written without the tree: byte for byte the view's.
    @Test func verificationBytesMatchTheView() {
        var answered = Self.pending
        answered.state = .answered(
            VerificationAnswer(
                outcome: .confirmed, disclosed: ["maritalStatus": .string("married"), "since": .integer(2001)],
                note: "line\n\"quoted\"\\", answeredAt: Self.created + 60_000, attestationID: "att_01"))
        var dataSharing = answered
        dataSharing.method = .dataSharing
        dataSharing.dueAt = nil
        dataSharing.purpose = "核验\u{1}\t婚姻状况 \"测试\""
        dataSharing.subject.name = "张\"三"
        dataSharing.claims = [:]
        if case .answered(var answer) = dataSharing.state {
            answer.note = nil
            answer.disclosed = [:]
            dataSharing.state = .answered(answer)
        }
        for (verification, attestation) in [
            (Self.pending, nil), (answered, Self.attestation), (answered, nil), (dataSharing, Self.attestation),
        ] as [(Verification, Attestation?)] {
            #expect(
                APIView.verificationBytes(verification, attestation: attestation, reservingCapacity: 64)
                    == VerificationViewReference.tree(verification, attestation: attestation).jsonBytes())
        }
    }

    @Test func queueItem() {
        let item = QueueItem(
            id: "qi_01", kind: .verification, verificationID: "ver_01", owner: "civil-affairs", createdAt: Self.created,
            dueAt: Self.created + 3 * 86_400_000, state: .leased(token: "lt_secret", expiresAt: Self.created + 300_000),
            leaseCount: 2, overdue: false)
        let view = Self.queueItemText(LeasedItem(item: item, verification: Self.pending))
        #expect(view.hasPrefix(#"{"id":"qi_01","kind":"verification","verification":{"id":"ver_01","status":"pending","#))
        // The verification inside is the verification's own body, byte for byte.
        let verification = Self.text(APIView.verificationBytes(Self.pending, attestation: nil))
        #expect(view.dropFirst(#"{"id":"qi_01","kind":"verification","verification":"#.utf8.count).hasPrefix(verification))
        #expect(
            view.hasSuffix(
                #""catalogVersion":4},"leaseToken":"lt_secret","leaseExpiresAt":"2026-01-16T05:05:00.000Z","#
                    + #""dueAt":"2026-01-19T05:00:00.000Z","overdue":false,"leaseCount":2}"#))
    }

    @Test func attestationAndItsStatus() {
        let now = Self.created + 120_000
        #expect(
            Self.text(APIView.attestationBytes(Self.attestation, now: now))
                == #"{"id":"att_01","verification":"ver_01","issuer":"civil-affairs","requester":"housing-fund","#
                + #""certificateType":"CIV-MARRIAGE","outcome":"denied","jws":"h.p.s","status":"active","#
                + #""issuedAt":"2026-01-16T05:01:00.000Z","expiresAt":"2026-02-15T05:01:00.000Z"}"#)
        #expect(
            Self.text(APIView.attestationStatus(Self.attestation, now: now))
                == #"{"id":"att_01","status":"active","checkedAt":"2026-01-16T05:02:00.000Z","expiresAt":"2026-02-15T05:01:00.000Z"}"#)
        #expect(
            Self.text(APIView.attestationStatus(Self.attestation, now: Self.attestation.expiresAt))
                .contains(#""status":"expired""#))
        var revoked = Self.attestation
        revoked.revokedAt = now
        revoked.revocationReason = "签发错误"
        revoked.revokedBy = "civil-affairs"
        #expect(
            Self.text(APIView.attestationStatus(revoked, now: now))
                == #"{"id":"att_01","status":"revoked","checkedAt":"2026-01-16T05:02:00.000Z","expiresAt":"2026-02-15T05:01:00.000Z","#
                + #""revokedAt":"2026-01-16T05:02:00.000Z","revocationReason":"签发错误"}"#)
        #expect(
            Self.text(APIView.attestationBytes(revoked, now: now))
                == #"{"id":"att_01","verification":"ver_01","issuer":"civil-affairs","requester":"housing-fund","#
                + #""certificateType":"CIV-MARRIAGE","outcome":"denied","jws":"h.p.s","status":"revoked","#
                + #""issuedAt":"2026-01-16T05:01:00.000Z","expiresAt":"2026-02-15T05:01:00.000Z","#
                + #""revokedAt":"2026-01-16T05:02:00.000Z","revocationReason":"签发错误"}"#)
    }

    @Test func recordAuditEntryAndCheckpoint() {
        let record = SharedRecord(
            certificateType: "NR-REAL-ESTATE", subjectID: RulesFixture.uscc, owner: "natural-resources",
            claims: ["residentialPropertyCount": .integer(2), "ownsProperty": .bool(true)], updatedAt: Self.created)
        #expect(
            Self.text(APIView.record(record))
                == #"{"certificateType":"NR-REAL-ESTATE","subjectId":"91350100M000100Y43","owner":"natural-resources","#
                + #""claims":{"ownsProperty":true,"residentialPropertyCount":2},"updatedAt":"2026-01-16T05:00:00.000Z"}"#)

        let entry = AuditEntry(
            sequence: 7, time: Self.created,
            event: AuditEvent(
                action: .verificationSubmitted, actor: "housing-fund", requester: "housing-fund", owner: "civil-affairs",
                certificateType: "CIV-MARRIAGE", subjectID: RulesFixture.residentID, verificationID: "ver_01",
                detail: ["purpose": "提取住房公积金", "matterCode": "HF-WITHDRAW-001"]),
            previousHash: [0x00, 0xAB], hash: [0xFF, 0x01])
        #expect(
            Self.text(APIView.auditEntry(entry))
                == #"{"seq":7,"time":"2026-01-16T05:00:00.000Z","action":"verification.submitted","actor":"housing-fund","#
                + #""requester":"housing-fund","owner":"civil-affairs","certificateType":"CIV-MARRIAGE","#
                + #""subjectId":"11010519491231002X","verification":"ver_01","#
                + #""detail":{"matterCode":"HF-WITHDRAW-001","purpose":"提取住房公积金"},"previousHash":"00ab","hash":"ff01"}"#)

        let checkpoint = AuditCheckpoint(size: 7, head: [0xFF, 0x01], time: Self.created, jws: "h.p.s")
        #expect(
            Self.text(APIView.checkpoint(checkpoint))
                == #"{"size":7,"head":"ff01","time":"2026-01-16T05:00:00.000Z","jws":"h.p.s"}"#)
    }
}
