import Glibc

/// `active`, `revoked` or `expired`, as `GET /v1/attestations/{id}/status` reports.
public enum AttestationStatus: String, Sendable, Codable, CaseIterable {
    case active, revoked, expired
}

/// A signed electronic attestation (电子证明) as stored: the JWS and what is needed to find and
/// revoke it without parsing the JWS.
public struct Attestation: Sendable, Equatable {
    /// `att_` + 26 characters; also the JWS `jti`.
    public var id: String
    public var verificationID: String
    /// The owning department whose answer it carries (payload `issuer`).
    public var issuer: String
    public var requester: String
    public var certificateType: String
    public var subjectID: String
    public var outcome: Outcome
    /// JWS compact serialization.
    public var jws: String
    public var issuedAt: Millis
    public var expiresAt: Millis
    public var revokedAt: Millis?
    public var revocationReason: String?
    public var revokedBy: String?

    public init(
        id: String, verificationID: String, issuer: String, requester: String, certificateType: String,
        subjectID: String, outcome: Outcome, jws: String, issuedAt: Millis, expiresAt: Millis, revokedAt: Millis? = nil,
        revocationReason: String? = nil, revokedBy: String? = nil
    ) {
        self.id = id
        self.verificationID = verificationID
        self.issuer = issuer
        self.requester = requester
        self.certificateType = certificateType
        self.subjectID = subjectID
        self.outcome = outcome
        self.jws = jws
        self.issuedAt = issuedAt
        self.expiresAt = expiresAt
        self.revokedAt = revokedAt
        self.revocationReason = revocationReason
        self.revokedBy = revokedBy
    }

    public func status(at now: Millis) -> AttestationStatus {
        if revokedAt != nil { return .revoked }
        return now >= expiresAt ? .expired : .active
    }
}

extension Attestation {
    /// Revoking this (not yet revoked) attestation: the attestation as it becomes, and its audit
    /// entry — the same on every engine.
    public func revoked(reason: String, by actor: String, clerk: String? = nil, at now: Millis)
        -> (attestation: Attestation, event: AuditEvent)
    {
        var revoked = self
        revoked.revokedAt = now
        revoked.revocationReason = reason
        revoked.revokedBy = actor
        let event = AuditEvent(
            action: .attestationRevoked, actor: actor, requester: requester, owner: issuer, certificateType: certificateType,
            subjectID: subjectID, verificationID: verificationID, attestationID: id, clerk: clerk, detail: ["reason": reason])
        return (revoked, event)
    }
}

extension Attestation {
    /// The compact JWS split at its first `.`: the protected header (both stores keep it once, in
    /// `jws_headers`) and the payload and signature; nil when the text has no `.`. The `.` is found
    /// with `memchr`: the header carries the `x5c` chain (~1.9 KB), and walking it as Characters or
    /// through the generic UTF-8 path cost ~55,000–720,000 instructions per attestation.
    public var jwsSplitAtHeader: (header: Substring, rest: Substring)? {
        let jws = self.jws
        let offset = jws.utf8.withContiguousStorageIfAvailable { bytes -> Int? in
            guard let base = bytes.baseAddress, let found = memchr(base, 0x2E, bytes.count) else { return nil }
            return UnsafeRawPointer(found) - UnsafeRawPointer(base)
        }
        let dot: String.Index?
        if let offset {
            dot = offset.map { jws.utf8.index(jws.utf8.startIndex, offsetBy: $0) }
        } else {
            dot = jws.utf8.firstIndex(of: UInt8(ascii: "."))
        }
        guard let dot else { return nil }
        return (jws[..<dot], jws[jws.utf8.index(after: dot)...])
    }
}
