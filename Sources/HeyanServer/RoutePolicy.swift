/// What a route accepts and what its refusals leave behind, set when the route is registered
/// (``Router/add(_:_:policy:_:)``). The API's routes read JSON and audit every refusal; the
/// clerks' console (docs/console.md) reads HTML forms, and a page a browser merely navigated to —
/// a 403 page, a 404 — is not worth an audit entry, while a refused form post is.
struct RoutePolicy: Sendable, Equatable {
    enum Bodies: Sendable, Equatable {
        /// `application/json` or `application/*+json`; a form is refused with 415.
        case json
        /// `application/x-www-form-urlencoded` only (the console's forms).
        case form
    }

    var bodies: Bodies
    /// Whether a 4xx answer to this route is written to the audit log (``RefusalAudit``).
    var auditsRefusals: Bool

    /// The API: JSON bodies, every refusal audited.
    static let api = RoutePolicy(bodies: .json, auditsRefusals: true)
    /// A console page (GET): nothing read, its refusals not audited.
    static let consolePage = RoutePolicy(bodies: .form, auditsRefusals: false)
    /// A console form post (state-changing): form bodies, refusals audited like the API's.
    static let consoleForm = RoutePolicy(bodies: .form, auditsRefusals: true)
}
