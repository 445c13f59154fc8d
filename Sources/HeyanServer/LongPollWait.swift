import HeyanDomain
import HeyanHTTP

extension ServiceContext {
    /// `wait=S` of a long poll: an integer from 0 to the API's bound (60 s, or the configured
    /// maximum when that is larger), else 400. A value above the configured `longPollMaxSeconds`
    /// waits that long instead: "up to S seconds" stays true, and a client written against the
    /// documented bound works on a server configured lower.
    func longPollWait(_ call: ServiceCall) throws(Problem) -> Int {
        min(try queryInteger(call, "wait", default: 0, range: 0...max(60, longPollMaxSeconds)), longPollMaxSeconds)
    }

    /// The reply of a long-polled read (`GET /v1/verifications/{id}?wait=S`, `GET /v1/commitments/{id}?wait=S`):
    /// `read` at once; while what it read is not settled and `wait=S` asks to, again when `change`
    /// commits or after S seconds, whichever comes first — and then answered whatever it reads.
    ///
    /// The waiter is registered before the first read, so a change committed in between still wakes
    /// it; ``ChangeWaiters/cancel(_:)`` decides whether the first read or the waiter answers.
    func longPoll(
        _ call: ServiceCall, on change: StoreChange, read: @escaping @Sendable () throws -> LongPollRead
    ) throws(Problem) -> Reply {
        let wait = try longPollWait(call)
        let answerNow: @Sendable () -> Reply = {
            do { return try read().reply } catch { return .failure(error) }
        }
        guard wait > 0 else { return answerNow() }
        return .later(Later { [waiters] answer in
            let waiter = waiters.wait(for: change, seconds: Double(wait)) { _ in
                let reply = answerNow()
                answer { reply }
            }
            let first: Reply
            do {
                let state = try read()
                if case .current(_, settled: false) = state { return }  // the waiter answers
                first = state.reply
            } catch {
                first = .failure(error)
            }
            if waiters.cancel(waiter) { answer { first } }
        })
    }
}

/// What a long-polled read found.
enum LongPollRead: Sendable {
    /// An answer that waiting cannot change (not found, not visible).
    case final(Reply)
    /// The resource as it is; a long poll waits while it is not `settled`.
    case current(Reply, settled: Bool)

    var reply: Reply {
        switch self {
        case .final(let reply), .current(let reply, _): reply
        }
    }
}
