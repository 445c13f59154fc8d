/// The subject access report of PIPL Art. 44–45, "who looked me up" (docs/audit.md, "Subject
/// access report"): every audit entry naming one subject — verifications, commitments, record
/// changes, revocations, earlier access reports — with who asked, who owned, the matter, purpose,
/// method, outcome, time and its index in the transparency log, and never the underlying values
/// (claims and names are not in the log; of `detail` only the fields below are shown).
public enum SubjectAccessReport {
    /// The audit action of one report request (the access itself is audited, with its reason).
    public static let action = AuditAction(rawValue: "subject.access-report")

    /// The `detail` fields a report shows: none of them carries a certificate's values.
    public static let shownDetail: Set<String> = [
        "matterCode", "purpose", "method", "outcome", "routedTo", "answeredBy", "reason", "dueAt", "expiresAt",
        "commitment", "catalogStanding", "onBehalfOfCitizen", "erasedAt",
    ]

    /// One entry of the report.
    public static func entry(_ e: AuditEntry) -> JSONValue {
        var members: [(String, JSONValue)] = [
            // The tree index is the sequence − 1 (docs/transparency-log.md).
            ("logIndex", .int(e.sequence - 1)),
            ("time", .string(Timestamp.rfc3339(e.time))),
            ("action", .string(e.event.action.rawValue)),
            ("actor", .string(e.event.actor)),
        ]
        func add(_ name: String, _ value: String?) {
            if let value { members.append((name, .string(value))) }
        }
        // The clerk (经办人) who handled it, when known: the officer's ID, as a paper record names one.
        add("clerk", e.event.clerk)
        add("requester", e.event.requester)
        add("owner", e.event.owner)
        add("certificateType", e.event.certificateType)
        add("verification", e.event.verificationID)
        add("attestation", e.event.attestationID)
        for key in e.event.detail.keys.sorted() where shownDetail.contains(key) {
            members.append((key, .string(e.event.detail[key]!)))
        }
        return .object(members)
    }

    /// The whole report: the subject, when it was made, and the entries in log order.
    public static func json(subjectID: String, generatedAt: Millis, entries: [AuditEntry]) -> JSONValue {
        .object([
            ("subjectId", .string(subjectID)),
            ("generatedAt", .string(Timestamp.rfc3339(generatedAt))),
            ("count", .int(Int64(entries.count))),
            ("entries", .array(entries.map(entry))),
        ])
    }

    /// Every entry naming `subjectID`, read page by page from the subject index.
    public static func entries(subjectID: String, from store: any VerificationStore) throws -> [AuditEntry] {
        var all: [AuditEntry] = []
        var after: Int64 = 0
        while true {
            let page = try store.auditEntries(matching: AuditFilter(subjectID: subjectID), after: after, limit: 1000)
            all += page
            guard page.count == 1000, let last = page.last else { return all }
            after = last.sequence
        }
    }
}
