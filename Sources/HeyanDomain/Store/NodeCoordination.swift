/// How one node shares the service with the other nodes on its database (docs/postgresql.md,
/// "Several nodes"): whether it runs the periodic work now, and how far the audit tree lags behind
/// the committed entries.
///
/// A store only one process can open (SQLite) always leads and integrates each batch in the
/// batch's own transaction, so its backlog is always empty.
public protocol NodeCoordination: AnyObject, Sendable {
    /// True while this node is the one that runs the service's periodic work: overdue marking,
    /// audit checkpoints and witness pushes, retention. Several nodes may briefly both believe they
    /// lead (a lost connection is noticed within a second or so); every such job is safe to run
    /// twice, and checkpoints are checked against the stored newest one under the tree's lock.
    var leadsPeriodicWork: Bool { get }
    /// The audit entries committed but not yet integrated into the tree.
    func auditIntegrationBacklog() throws -> AuditIntegrationBacklog
}

/// Audit entries committed but not yet in the Merkle tree (`/metrics`).
public struct AuditIntegrationBacklog: Sendable, Equatable {
    /// How many.
    public var entries: Int
    /// Seconds since the oldest of them was queued (0 when there is none).
    public var oldestAgeSeconds: Double

    public init(entries: Int, oldestAgeSeconds: Double) {
        self.entries = entries
        self.oldestAgeSeconds = oldestAgeSeconds
    }

    /// Nothing waits: every committed entry is in the tree.
    public static let empty = AuditIntegrationBacklog(entries: 0, oldestAgeSeconds: 0)
}
