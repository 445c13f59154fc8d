import HeyanDomain
import HeyanHTTP

/// One authenticated call to a route: the request, the caller's department, the route's
/// parameters, and the way to answer (once, from any thread).
struct ServiceCall: Sendable {
    let request: HTTPRequest
    let context: RequestContext
    let department: Department
    let route: RouteMatch
    /// Sends a response; the problem type of an error response goes into the refusal's audit entry.
    private let finish: @Sendable (_ response: HTTPResponse, _ problemType: String?) -> Void

    init(
        request: HTTPRequest, context: RequestContext, department: Department, route: RouteMatch,
        finish: @escaping @Sendable (_ response: HTTPResponse, _ problemType: String?) -> Void
    ) {
        self.request = request
        self.context = context
        self.department = department
        self.route = route
        self.finish = finish
    }

    var code: String { department.code }

    func parameter(_ name: String) -> String { route.parameters[name] ?? "" }

    /// Sends a successful `response`.
    func respond(_ response: HTTPResponse) { finish(response, nil) }

    func respond(json status: Int, _ value: JSONValue) { finish(.json(status, value.jsonBytes()), nil) }

    /// Refuses with the rules' verdict; a 4xx is audited as a refused request before it is sent.
    func respond(_ refusal: Refusal) { fail(refusal.problem) }

    /// Answers with a problem; a 4xx is audited as a refused request before it is sent.
    func fail(_ problem: Problem) { finish(.problem(problem), problem.type) }

    /// Maps an unexpected error (storage, signing) to 500 without leaking internals; a transient
    /// store failure (a full disk, an I/O error, a lock timeout) to 503 `store-unavailable` with
    /// `Retry-After`: nothing was stored, and the same request may succeed later.
    func fail(_ error: any Error, log: EventLog) {
        if error.isTransientStoreFailure {
            log.log(.warning, "store-unavailable", [("route", route.template), ("error", "\(error)")])
            let problem = Problem.storeUnavailableNow
            return finish(.problem(problem), problem.type)
        }
        log.log(.error, "internal-error", [("route", route.template), ("error", "\(error)")])
        finish(.problem(.internalError()), nil)
    }
}

extension Problem {
    /// Seconds a client waits before sending a request again that the store could not commit.
    static let storeRetryAfterSeconds = 5

    /// The 503 of a write (or read) the store could not do just now (docs/api.md).
    static var storeUnavailableNow: Problem {
        .storeUnavailable(
            detail: "The store cannot commit right now; nothing of this request was stored. "
                + "Send it again after \(storeRetryAfterSeconds) s.",
            retryAfter: storeRetryAfterSeconds)
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
