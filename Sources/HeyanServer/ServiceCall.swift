import HeyanDomain
import HeyanHTTP

/// One authenticated call to a route: the request, the caller's department and the route's
/// parameters. A value: a handler reads it and returns its ``Reply``; it has no way to answer on
/// its own, so it cannot answer twice or forget to.
struct ServiceCall: Sendable {
    let request: HTTPRequest
    let context: RequestContext
    let department: Department
    let route: RouteMatch

    var code: String { department.code }

    /// The value of a `{name}` segment of the route's template (always present once matched).
    func parameter(_ name: String) -> String { route.parameters[name] ?? "" }
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

extension EventLog {
    /// The problem an unexpected error is answered with, logged with the route: a transient store
    /// failure is 503 `store-unavailable` with `Retry-After` (nothing was stored), anything else 500
    /// without internals (its `store.*` code in the log only).
    func problem(for error: any Error, route: String) -> Problem {
        if error.isTransientStoreFailure {
            log(.warning, "store-unavailable", [("route", route), ("error", "\(StoreError(error))")])
            return .storeUnavailableNow
        }
        let shown: any Error = error is any StoreFailure ? StoreError(error) : error
        log(.error, "internal-error", [("route", route), ("error", "\(shown)")])
        return .internalError()
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
