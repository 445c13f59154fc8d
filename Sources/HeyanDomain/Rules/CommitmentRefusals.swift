// The refusals of the commitment routes (docs/commitments.md), one factory per slug.
extension Refusal {
    /// Where a requester turns when a commitment is not possible: a verification by the owner.
    static let verificationAlternative: JSONValue = .object([
        ("method", .string("department-verification")),
        ("endpoint", .string("/v1/verifications")),
    ])

    /// 409 `not-commitment`: the type is answered another way; ask `POST /v1/verifications`.
    public static func notCommitment(_ type: CertificateType) -> Refusal {
        Refusal(
            status: 409, slug: "not-commitment", title: "Not a commitment type",
            detail:
                "'\(type.code)' is answered by '\(type.method.rawValue)', not replaced by a commitment: "
                + "ask POST /v1/verifications.",
            extra: [
                ("certificateType", .string(type.code)), ("method", .string(type.method.rawValue)),
                ("verificationEndpoint", .string("/v1/verifications")),
            ])
    }

    /// 409 `commitment-excluded`: the catalog marks the type as excluded from commitments.
    public static func commitmentExcluded(_ type: CertificateType, reason: String) -> Refusal {
        Refusal(
            status: 409, slug: "commitment-excluded", title: "Commitment not accepted for this type",
            detail:
                "Commitments are not accepted for '\(type.code)' (\(type.name.zh)): \(reason). "
                + "Ask the owning department to verify instead: POST /v1/verifications.",
            extra: [
                ("certificateType", .string(type.code)), ("reason", .string(reason)),
                ("alternative", verificationAlternative),
            ])
    }

    /// 409 `credit-listed`: the subject made a false commitment and is on the credit list until
    /// credit repair; the owning department must verify instead.
    public static func creditListed(_ entry: CreditEntry) -> Refusal {
        Refusal(
            status: 409, slug: "credit-listed", title: "Applicant on the credit list",
            detail:
                "The applicant has a recorded false commitment (\(entry.certificateType), commitment "
                + "\(entry.commitmentID)) and may not replace a certificate by a commitment until credit repair. "
                + "Ask the owning department to verify instead: POST /v1/verifications.",
            extra: [
                ("reason", .string("false-commitment")),
                ("creditEntry", .string(entry.id)),
                ("recordedAt", .string(Timestamp.rfc3339(entry.recordedAt))),
                ("alternative", verificationAlternative),
            ])
    }
}
