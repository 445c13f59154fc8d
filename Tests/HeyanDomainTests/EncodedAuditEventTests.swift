import HeyanDomain
import Testing

/// ``EncodedAuditEvent`` writes the canonical entry member by member, before the entry has a
/// sequence (on the request's thread): its bytes must be exactly ``AuditEntry/canonicalBytes``,
/// which the chain hash and the leaf cover and outside verifiers recompute. Both are checked against
/// the definition (docs/audit.md): every present member as a `JSONValue` object, keys sorted by their
/// UTF-8 bytes, the detail's keys sorted, serialized without whitespace.
@Suite struct EncodedAuditEventTests {
    static func definition(sequence: Int64, time: Millis, event: AuditEvent) -> [UInt8] {
        var fields: [(String, JSONValue)] = [
            ("action", .string(event.action.rawValue)), ("actor", .string(event.actor)), ("seq", .int(sequence)),
            ("time", .int(time)),
        ]
        let optional: [(String, String?)] = [
            ("requester", event.requester), ("owner", event.owner), ("certificateType", event.certificateType),
            ("subjectId", event.subjectID), ("verification", event.verificationID),
            ("attestation", event.attestationID), ("queueItem", event.queueItemID), ("clerk", event.clerk),
        ]
        for case (let name, let value?) in optional { fields.append((name, .string(value))) }
        if let detail = detailDefinition(event.detail) { fields.append(("detail", detail)) }
        fields.sort { $0.0.utf8.lexicographicallyPrecedes($1.0.utf8) }
        return JSONValue.object(fields).jsonBytes()
    }

    static func detailDefinition(_ detail: [String: String]) -> JSONValue? {
        detail.isEmpty ? nil : .object(detail.keys.sorted().map { ($0, .string(detail[$0]!)) })
    }

    static let events: [AuditEvent] = [
        AuditEvent(action: .requestRefused, actor: "heyan"),
        AuditEvent(
            action: .verificationSubmitted, actor: "housing-fund", requester: "housing-fund", owner: "civil-affairs",
            certificateType: "CIV-MARRIAGE", subjectID: "11010519491231002X", verificationID: "ver_01",
            attestationID: "att_01",
            detail: [
                "matterCode": "HF-WITHDRAW-001", "purpose": "住房公积金提取：核验婚姻状况", "method": "data-sharing",
                "routedTo": "data-sharing", "outcome": "confirmed", "expiresAt": "2027-03-06T06:39:47.550Z",
            ]),
        AuditEvent(
            action: .verificationAnswered, actor: "civil-affairs", owner: "civil-affairs", queueItemID: "qi_1",
            clerk: "ca.007", detail: ["outcome": "denied", "note": "quote \" backslash \\ newline \n tab \t \u{1}"]),
        AuditEvent(
            action: AuditAction(rawValue: "record.put"), actor: "a\"b", requester: "", owner: "\u{7f}é",
            certificateType: "T", subjectID: "s\\", verificationID: "v", attestationID: "a", queueItemID: "q",
            clerk: "c", detail: ["seq": "1", "Zeta": "z", "alpha": "a", "中文": "值", "": "empty"]),
        AuditEvent(action: .recordDeleted, actor: "x", subjectID: "only-subject"),
        AuditEvent(action: .queueOverdue, actor: "heyan", verificationID: "ver_only"),
    ]

    @Test(arguments: events)
    func bytesAreTheCanonicalEncoding(event: AuditEvent) {
        for (sequence, time) in [(Int64(1), Int64(0)), (42, 1_700_000_000_123), (Int64.max, -5)] {
            let encoded = EncodedAuditEvent(event, at: time)
            var bytes: [UInt8] = [0xAA]  // appended, not replaced
            encoded.appendCanonicalBytes(sequence: sequence, to: &bytes)
            #expect(bytes == [0xAA] + AuditEntry.canonicalBytes(sequence: sequence, time: time, event: event))
            #expect(bytes == [0xAA] + Self.definition(sequence: sequence, time: time, event: event))
            #expect(encoded.detailText == AuditDetailText.encode(event.detail))
            let detailText = Self.detailDefinition(event.detail).map { String(decoding: $0.jsonBytes(), as: UTF8.self) }
            #expect(encoded.detailText == detailText)
            #expect(encoded.event == event && encoded.time == time)
        }
    }
}

extension AuditEvent: CustomTestStringConvertible {
    public var testDescription: String { "\(action.rawValue) by \(actor)" }
}
