import CSQLite
import HeyanCrypto
import HeyanDomain
import HeyanTestSupport
import Testing

@testable import HeyanStorage

/// Migration 17: the auditor's department, certificate-type and action filters read `audit_facets`
/// up to `audit_facet_progress.through` and the entries after it directly. Whatever the split,
/// a filtered page must be the entries a plain filter over the whole log gives.
@Suite("Audit facets: filtered audit pages through the facet rows and after them")
struct AuditFacetTests {
    let directory = TemporaryDirectory()
    static let t0: Millis = 1_767_225_600_000

    static let departments = ["dept-a", "dept-b", "dept-c", "dept-d"]
    static let types = ["marriage-status", "residence", "no-criminal-record"]
    static let actions: [AuditAction] = [.requestRefused, .recordPut, .verificationQueued, .queueLeased]

    /// The `i`-th event of a log where every department, type and action recurs and a department is
    /// sometimes actor and requester, or actor and owner, of one entry.
    static func event(_ i: Int) -> AuditEvent {
        let actor = departments[i % 4]
        return AuditEvent(
            action: actions[(i / 3) % 4], actor: actor,
            requester: i % 5 == 0 ? nil : (i % 7 == 0 ? actor : departments[(i + 1) % 4]),
            owner: i % 6 == 0 ? nil : (i % 11 == 0 ? actor : departments[(i + 2) % 4]),
            certificateType: i % 9 == 0 ? nil : types[i % 3], subjectID: i % 4 == 0 ? nil : "S-\(i % 5)")
    }

    static func matches(_ entry: AuditEntry, _ filter: AuditFilter) -> Bool {
        let e = entry.event
        if let s = filter.subjectID, e.subjectID != s { return false }
        if let d = filter.department, e.actor != d && e.requester != d && e.owner != d { return false }
        if let t = filter.certificateType, e.certificateType != t { return false }
        if let a = filter.action, e.action != a { return false }
        if let from = filter.from, entry.time < from { return false }
        if let to = filter.to, entry.time >= to { return false }
        return true
    }

    static let filters: [AuditFilter] = [
        AuditFilter(), AuditFilter(department: "dept-a"), AuditFilter(department: "dept-c"),
        AuditFilter(certificateType: "residence"), AuditFilter(action: .recordPut),
        AuditFilter(department: "dept-b", action: .queueLeased),
        AuditFilter(department: "dept-d", certificateType: "marriage-status", action: .requestRefused),
        AuditFilter(certificateType: "no-criminal-record", action: .verificationQueued),
        AuditFilter(department: "dept-a", from: t0 + 20_000, to: t0 + 50_000),
        AuditFilter(action: .recordPut, from: t0 + 30_000),
        AuditFilter(subjectID: "S-2"), AuditFilter(subjectID: "S-3", department: "dept-b"),
        AuditFilter(from: t0 + 10_000, to: t0 + 40_000), AuditFilter(department: "dept-nobody"),
    ]

    @Test("each filter pages the same entries as a filter over the whole log, with facet chunks 1, 7 and 1,000", arguments: [1, 7, 1_000])
    func pagesAgree(chunk: Int) throws {
        var configuration = SQLiteConfiguration()
        configuration.auditFacetChunk = chunk
        let store = try SQLiteVerificationStore(
            path: directory.file("heyan.sqlite"), hash: Digest.sha256, configuration: configuration)
        defer { store.close() }
        for i in 0..<61 {
            try wait { store.recordRefusal(Self.event(i), at: Self.t0 + Millis(i) * 1000, completion: $0) }
        }
        let all = try store.auditEntries(matching: AuditFilter(), after: 0, limit: 1_000)
        #expect(all.count == 61)
        let through = try store.database.read { try $0.fetchScalar("SELECT through FROM audit_facet_progress")?.integerValue }
        // One entry per batch: the facet rows reach the last multiple of the chunk.
        #expect(through == Int64(61 / chunk * chunk))

        for filter in Self.filters {
            let expected = all.filter { Self.matches($0, filter) }.map(\.sequence)
            #expect(try store.auditEntries(matching: filter, after: 0, limit: 1_000).map(\.sequence) == expected, "\(filter)")
            // Pages of 4 from the start, and a page starting in the middle.
            var paged: [Int64] = []
            var after: Int64 = 0
            while true {
                let page = try store.auditEntries(matching: filter, after: after, limit: 4).map(\.sequence)
                paged += page
                guard page.count == 4, let last = page.last else { break }
                after = last
            }
            #expect(paged == expected, "\(filter)")
            #expect(
                try store.auditEntries(matching: filter, after: 30, limit: 3).map(\.sequence)
                    == Array(expected.filter { $0 > 30 }.prefix(3)), "\(filter)")
        }
    }

    @Test("a facet-driven page searches the facet key and the entries after `through`; it never scans the log")
    func queryPlansSearch() throws {
        let store = try SQLiteStore(path: directory.file("plan.sqlite"))
        for filter in [
            AuditFilter(department: "dept-a"), AuditFilter(certificateType: "residence", from: Self.t0),
            AuditFilter(action: .recordPut), AuditFilter(subjectID: "S-1", department: "dept-a"),
            AuditFilter(from: Self.t0), AuditFilter(),
        ] {
            let plan = try store.read { db in
                let explain = try db.prepare("EXPLAIN QUERY PLAN " + AuditQuery.sql(for: filter))
                var details: [String] = []
                while try explain.step() { details.append(explain.text(at: 3) ?? "") }
                return details
            }
            #expect(!plan.isEmpty)
            // "SCAN a" (a whole table) is how SQLite names a full scan; a rowid range is "SEARCH a USING
            // INTEGER PRIMARY KEY", a facet "SEARCH f USING PRIMARY KEY".
            #expect(plan.allSatisfy { !$0.hasPrefix("SCAN a") && !$0.hasPrefix("SCAN f") && !$0.hasPrefix("SCAN audit") }, "\(filter): \(plan)")
            if filter.department != nil && filter.subjectID == nil {
                #expect(plan.contains { $0.hasPrefix("SEARCH f USING PRIMARY KEY") }, "\(plan)")
            }
        }
    }

    @Test("migration 17 writes the facet rows of a version-16 log and drops the five indexes they replace")
    func migratesVersion16() throws {
        let path = directory.file("v16.sqlite")
        do {
            let old = try SQLiteStore(path: path, migrator: Migrator(Array(HeyanSchema.migrations.prefix(16))))
            try old.write { db in
                for i in 0..<40 {
                    let e = Self.event(i)
                    try db.execute(
                        """
                        INSERT INTO audit_log (sequence, time, action, actor, requester, owner, certificate_type,
                            subject_id, previous_hash, hash) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?9)
                        """,
                        arguments: [
                            .integer(Int64(i + 1)), .integer(Self.t0 + Millis(i)), .text(e.action.rawValue), .text(e.actor),
                            e.requester.map { .text($0) } ?? .null, e.owner.map { .text($0) } ?? .null,
                            e.certificateType.map { .text($0) } ?? .null, e.subjectID.map { .text($0) } ?? .null,
                            .blob([UInt8](repeating: 0, count: 32)),
                        ])
                }
            }
        }
        let store = try SQLiteStore(path: path)
        #expect(store.schemaVersion == HeyanSchema.latestVersion)  // 17 and those after it
        var expected: Set<String> = []
        for i in 0..<40 {
            let e = Self.event(i)
            for department in [e.actor, e.requester, e.owner].compactMap({ $0 }) { expected.insert("1 \(department) \(i + 1)") }
            if let type = e.certificateType { expected.insert("2 \(type) \(i + 1)") }
            expected.insert("3 \(e.action.rawValue) \(i + 1)")
        }
        let (rows, through, indexes) = try store.read { db in
            (
                try db.fetchAll("SELECT facet, value, sequence FROM audit_facets").map { row in
                    "\(row[0].integerValue ?? -1) \(row[1].textValue ?? "") \(row[2].integerValue ?? -1)"
                },
                try db.fetchScalar("SELECT through FROM audit_facet_progress")?.integerValue,
                try db.fetchScalar(
                    """
                    SELECT count(*) FROM sqlite_schema WHERE name IN ('audit_log_by_actor', 'audit_log_by_requester',
                        'audit_log_by_owner', 'audit_log_by_certificate_type', 'audit_log_by_action')
                    """)
            )
        }
        #expect(rows.count == expected.count)
        #expect(Set(rows) == expected)
        #expect(through == 40)
        #expect(indexes == .integer(0))
        // No IN list in its CHECK: SQLite would build a temporary table for each row inserted (the
        // first draft's `facet IN (1, 2, 3)` cost the writer ~19,000 instructions per entry).
        let definition = try store.read { try $0.fetchScalar("SELECT sql FROM sqlite_schema WHERE name = 'audit_facets'")?.textValue }
        #expect(definition?.contains("BETWEEN 1 AND 3") == true)
        #expect(definition?.contains(" IN (") == false)
        #expect(try store.integrityCheck())
    }
}
