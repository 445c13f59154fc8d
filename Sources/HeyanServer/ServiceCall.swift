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

/// A handler's answer to one call, returned (or thrown: a ``Problem`` or ``Refusal`` is answered
/// as a problem, any other error as a failure). Every path of a handler returns exactly one, which
/// the compiler checks; ``HeyanService`` audits, logs, measures and sends it.
enum Reply: Sendable {
    /// A response as is (2xx, or a ready-made error body).
    case response(HTTPResponse)
    /// A refusal: a 4xx is audited as a refused request before it is sent.
    case problem(Problem)
    /// An unexpected error (storage, signing): a transient store failure is 503
    /// `store-unavailable` with `Retry-After` (nothing was stored; the same request may succeed
    /// later), anything else 500 without leaking internals. Logged with its `store.*` code.
    case failure(any Error)
    /// The answer comes later, from another thread (a store write's completion, a long-poll).
    case later(Later)

    static func json(_ status: Int, _ value: JSONValue) -> Reply { .response(.json(status, value.jsonBytes())) }

    /// Refuses with the rules' verdict.
    static func refusal(_ refusal: Refusal) -> Reply { .problem(refusal.problem) }

    /// Starts `operation` — a store call, which completes exactly once — and answers with `map` of
    /// its result; `map` returns one reply on every path.
    static func awaiting<T: Sendable>(
        _ operation: @escaping @Sendable (_ completion: @escaping @Sendable (T) -> Void) -> Void,
        then map: @escaping @Sendable (T) -> Reply
    ) -> Reply {
        .later(Later { answer in operation { answer(map($0)) } })
    }

    /// The reply of an error a handler threw.
    init(thrown error: any Error) {
        switch error {
        case let problem as Problem: self = .problem(problem)
        case let refusal as Refusal: self = .problem(refusal.problem)
        default: self = .failure(error)
        }
    }
}

/// An answer that comes later. `start` gets `answer`; the first reply it is given is sent, and
/// any later one is dropped and logged as a fault (`reply-repeated`) — the long-polls race a
/// waiter's timeout against a change, and ``ChangeWaiters/cancel(_:)`` decides which one answers.
struct Later: Sendable {
    let start: @Sendable (_ answer: @escaping @Sendable (Reply) -> Void) -> Void
}

extension Result where Failure == any Error {
    /// The reply of a store completion: the value's reply, or the failure.
    func reply(_ map: (Success) -> Reply) -> Reply {
        switch self {
        case .success(let value): map(value)
        case .failure(let error): .failure(error)
        }
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
