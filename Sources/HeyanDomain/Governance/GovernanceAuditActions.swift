extension AuditAction {
    /// A new catalog version was stored (detail: version, baseVersion, effectiveAt, reason,
    /// legalBasis, codes — comma-separated — and source: `api` or `configuration`).
    public static let catalogChanged = AuditAction(rawValue: "catalog.changed")
    /// A complaint was filed (detail: complaint, againstDepartment, certificateDemanded,
    /// catalogStanding, onBehalfOfCitizen, matterCode).
    public static let complaintFiled = AuditAction(rawValue: "complaint.filed")
    /// The operator handled a complaint (detail: complaint, againstDepartment).
    public static let complaintHandled = AuditAction(rawValue: "complaint.handled")
}
