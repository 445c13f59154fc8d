import HeyanDomain
import HeyanHTTP

/// Who did it within the department: the clerk (经办人) of a request (docs/console.md, "Clerks").
///
/// A clerk's client certificate names one clerk (SAN URI `urn:heyan:clerk:<id>`) next to its
/// department; that clerk is the request's and cannot be overridden. A department's own
/// certificate names none; its system may then pass the clerk it acts for in the `Heyan-Clerk`
/// header (docs/api.md). Either way the ID is spelled as ``CodeSyntax/isClerkID(_:)`` says, and
/// it goes into every audit entry the request writes.
struct ClerkAttribution: Sendable, Equatable {
    /// The clerk's ID, or nil when the request names none.
    var id: String?
    /// The clerk's name from the certificate's commonName (a clerk's certificate only).
    var name: String?

    static let header = "Heyan-Clerk"

    /// The clerk a certificate names when it names exactly one, well spelled; else nil. A refusal
    /// of the request still names this clerk (its certificate is authentic, whatever it sent).
    static func certificateClerk(_ context: RequestContext) -> String? {
        context.clerkIDs.count == 1 && CodeSyntax.isClerkID(context.clerkIDs[0]) ? context.clerkIDs[0] : nil
    }

    /// The request's clerk, or the problem that refuses it: a certificate naming several clerks or
    /// a misspelled one (403), a misspelled or repeated header (400), a header naming another
    /// clerk than the certificate does (403).
    static func resolve(_ request: HTTPRequest, _ context: RequestContext) -> Result<ClerkAttribution, Problem> {
        let fromCertificate = certificateClerk(context).map { ClerkAttribution(id: $0, name: context.clientName) }
        if fromCertificate == nil, !context.clerkIDs.isEmpty {
            return .failure(
                .forbidden(
                    detail: "The client certificate must name at most one clerk (SAN URI urn:heyan:clerk:<id>, "
                        + CodeSyntax.clerkIDRule + ")."))
        }
        let headers = request.headers.values(header)
        guard let given = headers.first else { return .success(fromCertificate ?? ClerkAttribution()) }
        guard headers.count == 1, CodeSyntax.isClerkID(given) else {
            return .failure(
                .badRequest(detail: "The \(header) header must appear once and name a clerk ID: \(CodeSyntax.clerkIDRule)."))
        }
        if let fromCertificate {
            guard fromCertificate.id == given else {
                return .failure(
                    .forbidden(
                        detail: "This client certificate is clerk '\(fromCertificate.id ?? "")''s; "
                            + "a \(header) header cannot name another clerk."))
            }
            return .success(fromCertificate)
        }
        return .success(ClerkAttribution(id: given, name: nil))
    }
}
