// Audit actions of commitments, spot checks and the credit list (docs/commitments.md). The
// commitment ID is in `detail.commitment`; the receipt's ID in the entry's `attestation`.
extension AuditAction {
    /// A requester submitted a commitment (detail: commitment, matterCode, purpose, signedAt,
    /// signedVia, textSha256, sampleRule, sampleSeed, sampleValue, spotCheckRate, sampled).
    public static let commitmentSubmitted = AuditAction(rawValue: "commitment.submitted")
    /// A sampled commitment's spot check was put in the owner's queue (detail: commitment, dueAt).
    public static let spotCheckQueued = AuditAction(rawValue: "spot-check.queued")
    /// The owner answered a spot check (detail: commitment, outcome, note?, evidence?).
    public static let spotCheckAnswered = AuditAction(rawValue: "spot-check.answered")
    /// A false commitment put the subject on the credit list (detail: entry, commitment, reason,
    /// evidence).
    public static let creditListed = AuditAction(rawValue: "credit.listed")
    /// The operator removed a credit entry after credit repair (detail: entry, reason).
    public static let creditRemoved = AuditAction(rawValue: "credit.removed")
}
