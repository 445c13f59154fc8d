import HeyanDomain
import HeyanHTTP

/// A handler's answer to one call, returned (or thrown: a ``Problem`` or ``Refusal`` is answered
/// as a problem, any other error as a failure). Every path of a handler returns exactly one, which
/// the compiler checks; ``HeyanService`` audits, logs, measures and sends it.
enum Reply: Sendable {
    /// A response as is (2xx, or a ready-made error body).
    case response(HTTPResponse)
    /// A page for a person (the console): sent as is; when it is a 4xx, audited (if the route's
    /// policy says so) with the problem type it stands for.
    case page(HTTPResponse, problemType: String?)
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
    /// its result; `map` returns one reply on every path. `map` runs on the connection's thread,
    /// not on the thread that completes `operation` (``Later``).
    static func awaiting<T: Sendable>(
        _ operation: @escaping @Sendable (_ completion: @escaping @Sendable (T) -> Void) -> Void,
        then map: @escaping @Sendable (T) -> Reply
    ) -> Reply {
        .later(Later { answer in operation { value in answer { map(value) } } })
    }

    /// `map` of what `read` reads: at once when the store answers now (SQLite: no hop), else once its
    /// completion comes, on the connection's thread (``awaiting(_:then:)``). A failed read, or an
    /// error `map` throws, is the reply of that error — thrown now, or answered later.
    static func reading<T: Sendable>(
        _ read: StoreRead<T>, then map: @escaping @Sendable (T) throws -> Reply
    ) throws -> Reply {
        switch read {
        case .now(let value):
            return try map(value.get())
        case .later(let start):
            return .awaiting(start) { value in
                do { return try map(value.get()) } catch { return Reply(thrown: error) }
            }
        }
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

/// An answer that comes later. `start` gets `answer`, which takes what makes the reply:
/// ``HeyanService`` calls it on the connection's thread, so that a store completion's view, JSON and
/// accounting are not the work of the store's one writer thread that completes it. The first
/// answer is sent, and any later one is dropped and logged as a fault (`reply-repeated`) — the
/// long-polls race a waiter's timeout against a change, and ``ChangeWaiters/cancel(_:)`` decides
/// which one answers.
struct Later: Sendable {
    typealias Answer = @Sendable (_ make: @escaping @Sendable () -> Reply) -> Void
    let start: @Sendable (_ answer: @escaping Answer) -> Void
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
