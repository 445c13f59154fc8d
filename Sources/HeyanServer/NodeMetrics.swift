import HeyanDomain

/// `/metrics` lines of this node's place among the nodes on its database (docs/metrics.md): whether
/// it leads the periodic work, and the audit entries committed but not yet in the tree.
enum NodeMetrics {
    /// The lines; the backlog is left out (and the failure logged) when the store cannot read it now.
    static func render(_ store: any NodeCoordination, log: EventLog) -> String {
        var text = """
            # HELP heyan_leader 1 while this node runs the periodic work (overdue marking, checkpoints, retention), else 0.
            # TYPE heyan_leader gauge
            heyan_leader \(store.leadsPeriodicWork ? 1 : 0)

            """
        do {
            let backlog = try store.auditIntegrationBacklog()
            text += """
                # HELP heyan_audit_integration_backlog Audit entries committed but not yet integrated into the tree.
                # TYPE heyan_audit_integration_backlog gauge
                heyan_audit_integration_backlog \(backlog.entries)
                # HELP heyan_audit_integration_oldest_seconds Age of the oldest audit entry not yet integrated (0 when none).
                # TYPE heyan_audit_integration_oldest_seconds gauge
                heyan_audit_integration_oldest_seconds \(backlog.oldestAgeSeconds)

                """
        } catch {
            log.log(.warning, "metrics-read-failed", [("gauge", "audit-backlog"), ("error", "\(StoreError(error))")])
        }
        return text
    }
}
