/// A fact an owner shares for a `data-sharing` certificate type (数据共享): the claims about one
/// subject, used to answer verifications at once.
public struct SharedRecord: Sendable, Equatable {
    public var certificateType: String
    public var subjectID: String
    public var owner: String
    public var claims: ClaimSet
    public var updatedAt: Millis

    public init(certificateType: String, subjectID: String, owner: String, claims: ClaimSet, updatedAt: Millis) {
        self.certificateType = certificateType
        self.subjectID = subjectID
        self.owner = owner
        self.claims = claims
        self.updatedAt = updatedAt
    }
}
