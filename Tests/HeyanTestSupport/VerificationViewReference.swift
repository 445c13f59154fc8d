import HeyanDomain

/// The API's view of a verification built as a `JSONValue` tree, member by member as docs/api.md lists
/// them: an independent reference for `APIView.verificationBytes`, which writes the same JSON without a
/// tree (RulesAPIViewTests compares the two for every shape; VerificationServiceTests holds a planned
/// response body to it).
public enum VerificationViewReference {
    public static func tree(_ v: Verification, attestation: Attestation?) -> JSONValue {
        func time(_ millis: Millis) -> JSONValue { .string(Timestamp.rfc3339(millis)) }
        var members: [(String, JSONValue)] = []
        members.append(("id", .string(v.id)))
        members.append(("status", .string(v.status.rawValue)))
        members.append(("certificateType", .string(v.certificateType)))
        members.append(("method", .string(v.method.rawValue)))
        members.append(("requester", .string(v.requester)))
        members.append(("owner", .string(v.owner)))
        members.append(("matterCode", .string(v.matterCode)))
        members.append(("purpose", .string(v.purpose)))
        members.append(("subject", v.subject.json))
        members.append(("claims", v.claims.canonicalJSON))
        members.append(("createdAt", time(v.createdAt)))
        if let dueAt = v.dueAt { members.append(("dueAt", time(dueAt))) }
        if let outcome = v.outcome {
            members.append(("outcome", .string(outcome.rawValue)))
            members.append(("disclosed", v.disclosed.canonicalJSON))
        }
        if let note = v.note { members.append(("note", .string(note))) }
        if let answeredAt = v.answeredAt { members.append(("answeredAt", time(answeredAt))) }
        if let attestation {
            members.append((
                "attestation",
                .object([
                    ("id", .string(attestation.id)), ("jws", .string(attestation.jws)),
                    ("expiresAt", time(attestation.expiresAt)),
                ])
            ))
        }
        members.append(("catalogVersion", .int(Int64(v.catalogVersion))))
        return .object(members)
    }
}
