import HeyanDomain

/// The audit log's department, certificate-type and action lookups (migration 17): one table the
/// writer fills behind the log's head, a chunk of entries at a time, instead of five secondary
/// indexes on `audit_log` that every entry paid for in its own commit.
///
/// Each of those indexes (actor, requester, owner, certificate type, action) wrote ~3 WAL pages
/// per commit of ~20 data-sharing verifications even though each was appended at its end — 13.5 of
/// the ~46 pages a commit wrote (docs/storage.md, "Migration 17"). `audit_facets` holds one row per
/// (facet, value, entry): each department the entry names as actor, requester or owner (once,
/// whatever its roles), its certificate type, its action. The writer adds the rows of every entry
/// after ``AuditFacetIndexer/through`` in the batch that takes the head ``AuditFacetIndexer/chunk``
/// entries past it, so each value's run grows by many rows per page; `audit_facet_progress`
/// records how far the rows reach, in the same transaction. A query reads the facet rows up to
/// there and the entries after it directly (``AuditQuery``), so it sees every committed entry.
enum AuditFacet: Int64 {
    /// A department the entry names as actor, requester or owner.
    case department = 1
    case certificateType = 2
    case action = 3
}

enum AuditFacetSchema {
    /// The CHECK is a range, not an IN list: SQLite evaluates `IN (1, 2, 3)` by building a temporary
    /// table for every row inserted (``CheckConstraintSchema``).
    static let migration = Migration(version: 17, name: "audit-facets") { db in
        try db.execute(
            """
            CREATE TABLE audit_facets (
                facet    INTEGER NOT NULL CHECK (facet BETWEEN 1 AND 3),
                value    TEXT NOT NULL,
                sequence INTEGER NOT NULL,
                PRIMARY KEY (facet, value, sequence)
            ) STRICT, WITHOUT ROWID;
            CREATE TABLE audit_facet_progress (
                id      INTEGER PRIMARY KEY CHECK (id = 1),
                through INTEGER NOT NULL
            ) STRICT;
            INSERT INTO audit_facet_progress (id, through) SELECT 1, coalesce(max(sequence), 0) FROM audit_log;
            """)
        let through = try db.fetchScalar("SELECT through FROM audit_facet_progress")?.integerValue ?? 0
        try db.execute(AuditFacetIndexer.insertSQL, arguments: [.integer(0), .integer(through)])
        try db.execute(
            """
            DROP INDEX audit_log_by_actor;
            DROP INDEX audit_log_by_requester;
            DROP INDEX audit_log_by_owner;
            DROP INDEX audit_log_by_certificate_type;
            DROP INDEX audit_log_by_action;
            """)
    }
}

/// Adds the facet rows of the entries behind the head, on the writer connection inside the batch's
/// transaction (``GroupCommitWriter``), and knows how far they reach. Used only by the writer thread.
struct AuditFacetIndexer {
    /// Entries the head runs ahead of the facet rows before a batch adds theirs (and its own).
    let chunk: Int64
    /// The last entry whose facet rows are written (in this transaction or committed).
    private(set) var through: Int64

    init(chunk: Int, connection: SQLiteConnection) throws {
        precondition(chunk > 0, "the audit facet chunk must be at least one entry")
        self.chunk = Int64(chunk)
        through = try Self.load(connection)
    }

    /// Reads `through` from the database (after a rolled-back batch).
    mutating func reload(_ connection: SQLiteConnection) throws {
        through = try Self.load(connection)
    }

    private static func load(_ connection: SQLiteConnection) throws -> Int64 {
        guard let value = try connection.fetchScalar("SELECT through FROM audit_facet_progress")?.integerValue else {
            throw StoredRowError.null(table: "audit_facet_progress", key: "1", column: "through")
        }
        return value
    }

    /// Writes the facet rows of entries `through + 1 … head` once they number ``chunk`` or more.
    mutating func catchUp(head: Int64, on connection: SQLiteConnection) throws {
        guard head - through >= chunk else { return }
        let insert = try connection.cachedStatement(Self.insert)
        try insert.bind(through, at: 1)
        try insert.bind(head, at: 2)
        try insert.run()
        let progress = try connection.cachedStatement(Self.progress)
        try progress.bind(head, at: 1)
        try progress.run()
        through = head
    }

    /// The facet rows of entries `?1 < sequence ≤ ?2`: a department that is an entry's actor and
    /// requester or owner, or requester and owner, once. No ORDER BY (and UNION ALL, so no temporary
    /// b-tree): the rows go into pages of one transaction whatever their order, and sorting them
    /// cost more instructions than it saved.
    static let insertSQL = """
        INSERT INTO audit_facets (facet, value, sequence)
            SELECT 1, actor, sequence FROM audit_log WHERE sequence > ?1 AND sequence <= ?2
            UNION ALL SELECT 1, requester, sequence FROM audit_log
                WHERE sequence > ?1 AND sequence <= ?2 AND requester IS NOT NULL AND requester <> actor
            UNION ALL SELECT 1, owner, sequence FROM audit_log
                WHERE sequence > ?1 AND sequence <= ?2 AND owner IS NOT NULL AND owner <> actor AND owner IS NOT requester
            UNION ALL SELECT 2, certificate_type, sequence FROM audit_log
                WHERE sequence > ?1 AND sequence <= ?2 AND certificate_type IS NOT NULL
            UNION ALL SELECT 3, action, sequence FROM audit_log WHERE sequence > ?1 AND sequence <= ?2
        """
    private static let insert = StatementKey(insertSQL)
    private static let progress = StatementKey("UPDATE audit_facet_progress SET through = ?1 WHERE id = 1")
}

/// The SQL of ``SQLiteVerificationStore/auditEntries(matching:after:limit:)`` for the fields a
/// filter sets: one text per combination (at most 64), so the statement cache stays small. Bind
/// `:after`, `:limit` and the named parameter of each field set (`:subject`, `:department`,
/// `:type`, `:action`, `:from`, `:to`).
enum AuditQuery {
    static func sql(for filter: AuditFilter) -> String {
        // The lookup that drives the scan: the subject's index, else a facet, else the time indexes.
        let facet: (facet: AuditFacet, parameter: String)? =
            if filter.subjectID != nil { nil }
            else if filter.department != nil { (.department, ":department") }
            else if filter.certificateType != nil { (.certificateType, ":type") }
            else if filter.action != nil { (.action, ":action") }
            else { nil }
        let timeDrives = filter.subjectID == nil && facet == nil
        // `+` keeps SQLite from reading a time index when another lookup drives the scan.
        let time = timeDrives ? "a.time" : "+a.time"
        var conditions: [String] = []
        if filter.subjectID != nil { conditions.append("a.subject_id = :subject") }
        if filter.department != nil {
            conditions.append("(a.actor = :department OR a.requester = :department OR a.owner = :department)")
        }
        if filter.certificateType != nil { conditions.append("a.certificate_type = :type") }
        if filter.action != nil { conditions.append("a.action = :action") }
        if filter.from != nil { conditions.append("\(time) >= :from") }
        if filter.to != nil { conditions.append("\(time) < :to") }
        let select = "SELECT \(AuditRow.columns) FROM audit_log"

        if let facet {
            // The facet rows up to audit_facet_progress.through, each joined to its entry for the
            // other conditions; after that, the entries themselves. Each part is ordered and limited.
            let indexed =
                "SELECT f.sequence FROM audit_facets f CROSS JOIN audit_log a ON a.sequence = f.sequence "
                + "WHERE f.facet = \(facet.facet.rawValue) AND f.value = \(facet.parameter) AND f.sequence > :after"
                + conditions.map { " AND \($0)" }.joined() + " ORDER BY f.sequence LIMIT :limit"
            let tail =
                "SELECT a.sequence FROM audit_log a "
                + "WHERE a.sequence > max(:after, (SELECT through FROM audit_facet_progress WHERE id = 1))"
                + conditions.map { " AND \($0)" }.joined() + " ORDER BY a.sequence LIMIT :limit"
            return "\(select) WHERE sequence IN (SELECT sequence FROM (\(indexed)) UNION ALL SELECT sequence FROM (\(tail)))"
                + " ORDER BY sequence LIMIT :limit"
        }
        let whereClause = (["a.sequence > :after"] + conditions).joined(separator: " AND ")
        if timeDrives && (filter.from != nil || filter.to != nil) {
            // Entries still holding their salt are indexed by time in audit_log_unerased_by_time,
            // erased ones in audit_log_erased_by_time (migration 14): one index-ordered, limited
            // scan of each, merged, rather than an OR that makes SQLite sort every entry after the cursor.
            let scans = ["a.salt IS NOT NULL", "a.salt IS NULL"].map { term in
                "SELECT sequence FROM (SELECT a.sequence FROM audit_log a WHERE \(term) AND \(whereClause) "
                    + "ORDER BY a.sequence LIMIT :limit)"
            }
            return "\(select) WHERE sequence IN (\(scans.joined(separator: " UNION ALL "))) ORDER BY sequence LIMIT :limit"
        }
        return "\(select) a WHERE \(whereClause) ORDER BY a.sequence LIMIT :limit"
    }
}
