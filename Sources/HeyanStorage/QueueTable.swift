import HeyanDomain

/// The columns `queue_items` and `spot_checks` share: both hold leasable work
/// (``LeasableWork``) in the same layout.
protocol QueueTableColumns: TableColumns {
    static var id: Self { get }
    static var owner: Self { get }
    static var createdAt: Self { get }
    static var dueAt: Self { get }
    static var state: Self { get }
    static var leaseToken: Self { get }
    static var leaseExpiresAt: Self { get }
    static var leaseCount: Self { get }
    static var overdue: Self { get }
    static var answeredLeaseToken: Self { get }
}

extension StoredRow where Column: QueueTableColumns {
    /// The ``QueueItemState`` of the row: a leased row must have its token and expiry, a done row
    /// the token that answered it.
    func queueState() throws -> QueueItemState {
        switch try value(.state, as: QueueItemState.Name.self) {
        case .pending: .pending
        case .leased: .leased(token: try text(.leaseToken), expiresAt: try integer(.leaseExpiresAt))
        case .done: .done(answeredToken: try text(.answeredLeaseToken))
        }
    }
}

/// The SQL of a queue table: lease candidates, the state a transition wrote, overdue marking and
/// depth. It only persists; what changes is decided by ``QueueTransitions`` and ``SpotCheckRules``.
/// State names come from ``QueueItemState/Name``, never spelled in the SQL by hand: bound, except in
/// the two lease reads and the overdue sweeps, where they are written into the SQL. The expired-lease
/// read's partial index (`…_leased_by_expiry`, migration 18) serves only a query that names its
/// `state = 'leased'`; and SQLite re-prepares a statement at every new binding of a value it compared
/// with a partial index's condition (the pending read's state did so against that index, at every
/// lease; the overdue sweep's against the overdue index's `state <> 'done'`).
struct QueueTable<Column: QueueTableColumns>: Sendable {
    /// Statements the writer runs at every lease or answer: found by identity, not by hashing their text.
    let pendingSQL: StatementKey
    let expiredSQL: StatementKey
    let leasedSQL: StatementKey
    let doneSQL: StatementKey
    let overdueSQL: String
    let depthSQL: String

    init() {
        let table = Column.table
        let columns = Column.selectList()
        // Two reads merged by the caller, rather than one OR query that SQLite would have to sort in
        // full: the pending rows in due order from their index; the expired leases, a range of the
        // leased rows' index by expiry (usually empty, sorted here) — never a walk over every row
        // the owner holds leased.
        let (pending, leased) = (QueueItemState.Name.pending.rawValue, QueueItemState.Name.leased.rawValue)
        pendingSQL = StatementKey(
            "SELECT \(columns) FROM \(table) WHERE owner = ?1 AND state = '\(pending)' ORDER BY due_at, created_at LIMIT ?2")
        expiredSQL = StatementKey(
            """
            SELECT \(columns) FROM \(table) INDEXED BY \(table)_leased_by_expiry
            WHERE owner = ?1 AND state = '\(leased)' AND lease_expires_at <= ?3
            ORDER BY due_at, created_at LIMIT ?2
            """)
        leasedSQL = StatementKey(
            "UPDATE \(table) SET state = ?2, lease_token = ?3, lease_expires_at = ?4, lease_count = ?5 WHERE id = ?1")
        doneSQL = StatementKey("UPDATE \(table) SET state = ?2, answered_lease_token = ?3 WHERE id = ?1")
        overdueSQL = "UPDATE \(table) SET overdue = 1 WHERE id = ?1"
        // Read at every /metrics scrape, so its cost must not grow with the history: the owners are
        // found by index seeks (one per owner), then only each owner's pending and leased rows are
        // read through the (owner, state, …) index, never the answered ones.
        depthSQL = """
            WITH RECURSIVE owners(owner) AS (
                SELECT min(owner) FROM \(table)
                UNION ALL
                SELECT (SELECT min(later.owner) FROM \(table) later WHERE later.owner > owners.owner)
                FROM owners WHERE owners.owner IS NOT NULL)
            SELECT owners.owner,
                sum(item.state = ?2 OR item.lease_expires_at <= ?1),
                sum(item.state = ?3 AND item.lease_expires_at > ?1),
                sum(item.overdue),
                min(item.created_at)
            FROM owners JOIN \(table) item ON item.owner = owners.owner AND item.state IN (?2, ?3)
            GROUP BY owners.owner ORDER BY owners.owner
            """
    }

    /// Binds the state columns of `work` at their insert positions (``TableColumns/parameter``).
    func bindState(_ work: some LeasableWork, on statement: SQLiteStatement) throws {
        var answeredToken: String?
        if case .done(let token) = work.state { answeredToken = token }
        try statement.bind(work.state.name.rawValue, at: Column.state.parameter)
        try statement.bindText(work.leaseToken, at: Column.leaseToken.parameter)
        try statement.bindInteger(work.leaseExpiresAt, at: Column.leaseExpiresAt.parameter)
        try statement.bind(Int64(work.leaseCount), at: Column.leaseCount.parameter)
        try statement.bindText(answeredToken, at: Column.answeredLeaseToken.parameter)
    }

    /// Leases up to `limit` of `owner`'s leasable rows at `now` (pending, or leased with an
    /// expired lease), oldest due first: for each, reads what it is about (`about`), asks
    /// `transition` (a ``QueueTransitions`` or ``SpotCheckRules`` lease) with a fresh token, and
    /// persists the step with its audit event. Returns the leased work with what it is about.
    func lease<Work: LeasableWork, About>(
        owner: String, limit: Int, now: Millis, in session: WriteSession,
        decode: (SQLiteStatement) throws -> Work, about: (Work) throws -> About,
        transition: (Work, About, _ token: String) -> QueueStep<Work>?
    ) throws -> [(work: Work, about: About)] {
        guard limit > 0 else { return [] }
        let db = session.connection
        func read(_ key: StatementKey, bind: (SQLiteStatement) throws -> Void) throws -> [Work] {
            let statement = try db.cachedStatement(key)
            try statement.bind(owner, at: 1)
            try statement.bind(Int64(limit), at: 2)
            try bind(statement)
            var rows: [Work] = []
            while try statement.step() { rows.append(try decode(statement)) }
            return rows
        }
        let candidates = Work.leaseOrder(
            pending: try read(pendingSQL) { _ in }, expired: try read(expiredSQL) { try $0.bind(now, at: 3) }, limit: limit)
        var leased: [(work: Work, about: About)] = []
        leased.reserveCapacity(candidates.count)
        for candidate in candidates {
            let subject = try about(candidate)
            guard let step = transition(candidate, subject, try session.random.token()) else { continue }
            try persistState(of: step.work, on: db)
            try session.appendAudit(step.audit, at: now)
            leased.append((step.work, subject))
        }
        return leased
    }

    /// Writes the state a transition gave `work` (its lease, or done under the answering token).
    func persistState(of work: some LeasableWork, on db: SQLiteConnection) throws {
        switch work.state {
        case .leased(let token, let expiresAt):
            let statement = try db.cachedStatement(leasedSQL)
            try statement.bind(work.id, at: 1)
            try statement.bind(work.state.name.rawValue, at: 2)
            try statement.bind(token, at: 3)
            try statement.bind(expiresAt, at: 4)
            try statement.bind(Int64(work.leaseCount), at: 5)
            try statement.run()
        case .done(let answeredToken):
            let statement = try db.cachedStatement(doneSQL)
            try statement.bind(work.id, at: 1)
            try statement.bind(work.state.name.rawValue, at: 2)
            try statement.bind(answeredToken, at: 3)
            try statement.run()
        case .pending:
            preconditionFailure("no transition returns work to pending")
        }
    }

    /// Marks overdue every row `selectSQL` returns (bound `?1` = `now`; its done state is written into
    /// it) for which `step` decides a ``QueueStep``, audited with its event. Rows are read first, then
    /// updated, so the update never runs under the open SELECT. Returns how many were marked.
    func markOverdue<Work: LeasableWork>(
        now: Millis, selectSQL: String, in session: WriteSession,
        step: (SQLiteStatement) throws -> QueueStep<Work>?
    ) throws -> Int {
        let select = try session.connection.cachedStatement(selectSQL)
        try select.bind(now, at: 1)
        var marked: [QueueStep<Work>] = []
        while try select.step() {
            if let next = try step(select) { marked.append(next) }
        }
        for next in marked {
            let update = try session.connection.cachedStatement(overdueSQL)
            try update.bind(next.work.id, at: 1)
            try update.run()
            try session.appendAudit(next.audit, at: now)
        }
        return marked.count
    }

    /// Depth per owner. A leased row whose lease expired waits for a worker again: it counts as
    /// pending.
    func depths(now: Millis, on db: SQLiteConnection) throws -> [QueueCount] {
        let statement = try db.cachedStatement(depthSQL)
        try statement.bind(now, at: 1)
        try statement.bind(QueueItemState.Name.pending.rawValue, at: 2)
        try statement.bind(QueueItemState.Name.leased.rawValue, at: 3)
        var counts: [QueueCount] = []
        while try statement.step() {
            guard let owner = statement.text(at: 0) else {
                throw StoredRowError.null(table: Column.table, key: "(group)", column: Column.owner.rawValue)
            }
            counts.append(
                QueueCount(
                    owner: owner, pending: Int(statement.int64(at: 1)), leased: Int(statement.int64(at: 2)),
                    overdue: Int(statement.int64(at: 3)), oldestCreatedAt: statement.int64(at: 4)))
        }
        return counts
    }
}
