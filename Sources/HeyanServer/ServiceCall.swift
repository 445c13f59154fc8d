import HeyanDomain
import HeyanHTTP

/// One authenticated call to a route: the request, the caller's department, the route's
/// parameters, and the way to answer (once, from any thread).
struct ServiceCall: Sendable {
    let request: HTTPRequest
    let context: RequestContext
    let department: Department
    let route: RouteMatch
    private let finish: @Sendable (HTTPResponse, AuditEvent?) -> Void

    init(
        request: HTTPRequest, context: RequestContext, department: Department, route: RouteMatch,
        finish: @escaping @Sendable (HTTPResponse, AuditEvent?) -> Void
    ) {
        self.request = request
        self.context = context
        self.department = department
        self.route = route
        self.finish = finish
    }

    var code: String { department.code }

    func parameter(_ name: String) -> String { route.parameters[name] ?? "" }

    /// Sends `response`. A 4xx response is audited as a refused request before it is sent;
    /// `refusal` lets a route put more into that audit entry (subject, certificate type).
    func respond(_ response: HTTPResponse, refusal: AuditEvent? = nil) { finish(response, refusal) }

    func respond(json status: Int, _ value: JSONValue) { finish(.json(status, value.jsonBytes()), nil) }

    func respond(_ refusal: Refusal, audit: AuditEvent? = nil) { finish(.problem(refusal.problem), audit) }

    func fail(_ problem: Problem) { finish(.problem(problem), nil) }

    /// Maps an unexpected error (storage, signing) to 500 without leaking internals.
    func fail(_ error: any Error, log: EventLog) {
        log.log(.error, "internal-error", [("route", route.template), ("error", "\(error)")])
        finish(.problem(.internalError()), nil)
    }
}

extension Refusal {
    /// The RFC 9457 form of a refusal.
    var problem: Problem {
        Problem(
            slug: slug, title: title, status: status, detail: detail,
            errors: errors.map { Problem.FieldError(path: $0.path, message: $0.message) }, extra: extra)
    }
}
