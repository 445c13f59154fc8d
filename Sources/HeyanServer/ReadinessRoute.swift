import HeyanDomain
import HeyanHTTP
import Synchronization

/// `GET /readyz`: 200 `{"status":"ready"}` while the store can commit, 503 `store-unavailable`
/// with `Retry-After` while it cannot (docs/api.md, docs/storage.md "Readiness"), and 503 `unavailable`
/// "draining" from the moment a graceful stop began, so a load balancer takes the node out before it
/// stops accepting (docs/cluster.md, "Rolling restart"). `/healthz` stays liveness: it answers 200 as
/// long as the process serves.
final class ReadinessRoute: Sendable {
    let context: ServiceContext
    let minimumFreeBytes: Int64
    /// The last answer, so that only changes are logged.
    let wasReady = Atomic<Bool>(true)
    /// Set once by ``HeyanService/beginDraining()``; never cleared (the process is stopping).
    let draining = Atomic<Bool>(false)

    init(_ context: ServiceContext, minimumFreeBytes: Int64) {
        self.context = context
        self.minimumFreeBytes = minimumFreeBytes
    }

    func register(in router: inout Router<HeyanService.Handler>) {
        router.add("GET", "/readyz") { [self] _ in answer() }
    }

    static let ready = HTTPResponse.json(200, Array(#"{"status":"ready"}"#.utf8))

    func answer() -> Reply {
        if draining.load(ordering: .relaxed) {
            return .problem(.serviceUnavailable(detail: "Not ready: draining (the node is stopping).", retryAfter: 1))
        }
        return .awaiting({ [context, minimumFreeBytes] in
            context.store.checkReadiness(minimumFreeBytes: minimumFreeBytes, completion: $0)
        }) { [self] readiness in
            let previous = wasReady.exchange(readiness.isReady, ordering: .relaxed)
            if readiness.isReady {
                if !previous { context.log.log(.info, "store-ready") }
                return .response(Self.ready)
            }
            let reason = readiness.reason ?? "the store cannot commit"
            if previous { context.log.log(.warning, "store-not-ready", [("reason", reason)]) }
            return .problem(
                .storeUnavailable(detail: "Not ready: \(reason).", retryAfter: Problem.storeRetryAfterSeconds))
        }
    }
}
