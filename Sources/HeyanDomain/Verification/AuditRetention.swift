/// Erasing personal data after the retention period (docs/audit.md, "Retention"): what is erased,
/// what is kept, and the audit entry that records each erasure.
public enum AuditRetention {
    /// The audit entry of one erasure run (actor `heyan`; detail: the cut-off instants and counts).
    public static let action = AuditAction(rawValue: "audit.erased")

    /// Refused-request entries: security logs, kept `securityLogDays`.
    public static let securityActions: Set<String> = ["request.refused", "request.refused.aggregate"]

    /// The `detail` fields an erased entry keeps: they name a matter, a purpose, a method, a
    /// result or a count, never a person. Everything else (free-text reasons, routes that may hold
    /// a subject ID, `onBehalfOfCitizen`, who answered) goes with the subject ID and the salt.
    public static let keptDetail: Set<String> = [
        "matterCode", "purpose", "method", "outcome", "routedTo", "dueAt", "expiresAt", "leaseExpiresAt",
        "leaseCount", "dueBeyondCalendar", "status", "problem", "count", "from", "to", "byProblem", "byStatus",
        "version", "baseVersion", "effectiveAt", "codes", "source", "catalogStanding",
    ]

    public static func keptDetail(of detail: [String: String]) -> [String: String] {
        detail.filter { keptDetail.contains($0.key) }
    }

    /// The `audit.erased` entry of a run that erased `counts` (appended in the erasing transaction
    /// when anything was erased) — the same on every engine.
    public static func erasedEvent(_ request: ErasureRequest, _ counts: ErasureCounts) -> AuditEvent {
        AuditEvent(
            action: action, actor: "heyan",
            detail: [
                "accessBefore": Timestamp.rfc3339(request.accessBefore),
                "securityBefore": Timestamp.rfc3339(request.securityBefore),
                "entries": String(counts.entries), "securityEntries": String(counts.securityEntries),
                "verifications": String(counts.verifications), "attestations": String(counts.attestations),
            ])
    }
}

/// One erasure run: entries, verifications and attestations older than the cut-offs lose their
/// personal data, at most `limit` rows of each kind per run.
public struct ErasureRequest: Sendable, Equatable {
    /// Entries naming a subject, verifications and attestations before this instant.
    public var accessBefore: Millis
    /// Refused-request entries before this instant.
    public var securityBefore: Millis
    public var now: Millis
    public var limit: Int

    public init(accessBefore: Millis, securityBefore: Millis, now: Millis, limit: Int = 10_000) {
        self.accessBefore = accessBefore
        self.securityBefore = securityBefore
        self.now = now
        self.limit = limit
    }
}

/// What one erasure run erased.
public struct ErasureCounts: Sendable, Equatable {
    public var entries = 0
    public var securityEntries = 0
    public var verifications = 0
    public var attestations = 0
    /// The sequence of the `audit.erased` entry, nil when nothing was erased.
    public var auditSequence: Int64?

    public init() {}

    public var total: Int { entries + securityEntries + verifications + attestations }
}
