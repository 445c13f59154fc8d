import Glibc
import HeyanDomain
import HeyanPostgres

// What several nodes on one database share: the audit queue's integration and the leadership of
// the periodic work (docs/postgresql.md, "Audit" and "Leader election").

extension PostgresVerificationStore: NodeCoordination {
    public var leadsPeriodicWork: Bool { election.isLeader }

    public func auditIntegrationBacklog() throws -> AuditIntegrationBacklog {
        try read { try AuditQueue.backlog(on: $0) }
    }

    /// Waits until every audit entry committed before the call (on any node) is integrated into
    /// the tree, for at most `timeout` seconds; answers whether it is. Readers that name entries by
    /// sequence call it first (``auditEntries(matching:after:limit:)``), so a request sees the
    /// entries of the writes it follows.
    @discardableResult
    public func awaitAuditIntegration(timeout: Double = 2) throws -> Bool {
        let last: Int64? = try read {
            try $0.query("SELECT max(id) AS last FROM audit_queue").rows.first?.decodeIfPresent("last")
        }
        guard let last else { return true }
        integrator.wake()
        let deadline = monotonicSeconds() + timeout
        while true {
            // One of those still waits exactly when the oldest queued id is at most `last`.
            guard let first = try read({ try AuditQueue.firstID(on: $0) }), first <= last else { return true }
            guard monotonicSeconds() < deadline else { return false }
            usleep(5_000)
        }
    }

    /// Runs `body` as ``write(_:completion:)`` does, once the entries committed before the call are
    /// integrated (at most 2 s, waited for on a thread of its own, not the writer's): a checkpoint
    /// then covers every entry committed before it was asked for, as on SQLite.
    func writeAfterIntegration<T: Sendable>(
        _ body: @escaping @Sendable (WriteTransaction) throws -> T, completion: @escaping StoreCompletion<T>
    ) {
        Thread.detach { [self] in
            _ = try? awaitAuditIntegration()
            write(body, completion: completion)
        }
    }

    // MARK: - test hooks and figures (package-internal)

    /// Pauses (true) or resumes this node's integrator.
    package func pauseAuditIntegration(_ paused: Bool) {
        integrator.paused.store(paused, ordering: .releasing)
        if !paused { integrator.wake() }
    }

    /// Runs `hook` inside each integration transaction of this node just before its COMMIT, with
    /// the batch's size (nil removes it).
    package func beforeIntegrationCommit(_ hook: (@Sendable (Int) -> Void)?) {
        integrator.beforeCommit.withLock { $0 = hook }
    }

    /// Seconds from queueing to integration of the most recent entries this node integrated.
    package var auditIntegrationDelays: [Double] { integrator.recentDelays }

    /// Entries and batches this node's integrator committed.
    package var auditIntegrations: (entries: Int, batches: Int) { integrator.integrated }
    /// Vacuums of `audit_queue` this node's integrator ran.
    package var auditQueueVacuums: Int { integrator.vacuums }

    /// The server processes of this node's integrator and leader-election connections.
    package var coordinationBackendPIDs: (integrator: Int32, leader: Int32) {
        (integrator.connectionPID, election.connectionPID)
    }
}
