import FoundationEssentials
import HeyanDomain
import HeyanHTTP
import Synchronization

/// heyan's HTTP API: authenticates the department behind the client certificate, routes, answers,
/// audits every refused request, and records one log line and one metrics sample per request.
public final class HeyanService: HTTPResponder {
    /// Decodes the call, calls a service, and returns (or throws) its one answer.
    typealias Handler = @Sendable (ServiceCall) throws -> Reply

    private let context: ServiceContext
    private let router: Router<Handler>
    private let rateLimiter: DepartmentRateLimiter
    /// Which refusals get their own audit entry and which are counted (``RefusalAudit``).
    let refusals: RefusalAudit
    /// `GET /readyz`, which ``beginDraining()`` turns to 503.
    private let readiness: ReadinessRoute
    public var metrics: ServiceMetrics { context.metrics }
    private var log: EventLog { context.log }

    init(context: ServiceContext, limits: ServiceLimits = ServiceLimits()) throws {
        self.context = context
        refusals = RefusalAudit(
            perSecond: limits.refusalAuditPerSecond, burst: limits.refusalAuditBurst,
            intervalSeconds: limits.refusalAuditIntervalSeconds,
            intervalStarted: { [timer = context.waiters.timer] in timer.wake(by: $0) })
        var router = Router<Handler>()
        router.add("GET", "/healthz") { _ in .response(Self.health) }
        let minimumFreeBytes = Int64(limits.minimumFreeDiskBytes)
        readiness = ReadinessRoute(context, minimumFreeBytes: minimumFreeBytes)
        readiness.register(in: &router)
        router.add("GET", "/metrics") { [context] _ in
            // A queue depth the store cannot read now is left out of this scrape, and said in the log.
            func read<T>(_ what: String, _ body: () throws -> [T]) -> [T] {
                do { return try body() } catch {
                    context.log.log(.warning, "metrics-read-failed", [("gauge", what), ("error", "\(StoreError(error))")])
                    return []
                }
            }
            let input = ServiceMetrics.ScrapeInput(
                queues: read("queues") { try context.store.queueCounts() },
                spotChecks: read("spot-checks") { try context.store.spotCheckQueueCounts() },
                signingCertificateNotAfter: context.signer.chain.first?.notAfter, now: context.now())
            // heyan_store_ready says what /readyz says: the same check (free-space reserve, last
            // transient failure, a probe commit at most once a second).
            return .awaiting({ context.store.checkReadiness(minimumFreeBytes: minimumFreeBytes, completion: $0) }) {
                readiness in
                var scraped = input
                scraped.storeReady = readiness.isReady
                return .response(
                    .text(200, context.metrics.render(scraped) + CalendarCoverage.metric(context.calendar)
                            + TransparencyLogRoutes.metrics(context.auditLog, publisher: context.transparencyLog)
                            + NodeMetrics.render(context.store, log: context.log),
                        contentType: "text/plain; version=0.0.4; charset=utf-8"))
            }
        }
        SigningKeyRoutes(context).register(in: &router)
        CatalogRoutes(context).register(in: &router)
        VerificationRoutes(context).register(in: &router)
        QueueRoutes(context).register(in: &router)
        RecordRoutes(context).register(in: &router)
        AttestationRoutes(context).register(in: &router)
        AuditRoutes(context).register(in: &router)
        ComplaintRoutes(context).register(in: &router)
        StatisticsRoutes(context).register(in: &router)
        CommitmentRoutes(context).register(in: &router)
        CreditRoutes(context).register(in: &router)
        TransparencyLogRoutes(context).register(in: &router)
        AuditTileRoutes(context).register(in: &router)
        SubjectAccessRoutes(context).register(in: &router)
        ConsoleRoutes(context).register(in: &router)
        self.router = router
        rateLimiter = DepartmentRateLimiter(context.directory) { [clock = context.clock] in clock.monotonicNanoseconds() }
    }

    static let health = HTTPResponse.json(200, Array(#"{"status":"ok"}"#.utf8))

    /// A graceful stop has begun: `GET /readyz` answers 503 "draining" from now on, while requests are
    /// still served, so a load balancer's health check takes this node out of rotation.
    public func beginDraining() {
        readiness.draining.store(true, ordering: .relaxed)
    }

    public func respond(to request: HTTPRequest, context requestContext: RequestContext, sink: ResponseSink) {
        var clerk = ClerkAttribution.certificateClerk(requestContext)
        func refuse(_ problem: Problem, actor: String, route: String = "-", audited: Bool = true) {
            complete(.problem(problem), problemType: problem.type, request: request, requestContext: requestContext,
                actor: actor, clerk: clerk, route: route, audited: audited, sink: sink)
        }
        guard let code = requestContext.department else {
            return refuse(
                .forbidden(
                    detail: "The client certificate must name exactly one heyan department (one SAN URI urn:heyan:dept:<code>); it names none or several."),
                actor: "anonymous")
        }
        guard let department = context.directory[code] else {
            return refuse(.forbidden(detail: "Department '\(code)' is not registered with this heyan service."), actor: code)
        }
        let attribution: ClerkAttribution
        switch ClerkAttribution.resolve(request, requestContext) {
        case .success(let resolved): attribution = resolved
        case .failure(let problem): return refuse(problem, actor: code)
        }
        clerk = attribution.id
        // Fairness: the department's token bucket, before any work. `/healthz` and `/readyz` are
        // exempt (probes must not be refused; they write nothing but a rate-limited probe row).
        if request.path != "/healthz", request.path != "/readyz", let seconds = rateLimiter.admit(code) {
            return refuse(.tooManyRequests(retryAfter: seconds), actor: code)
        }
        switch router.resolve(method: request.method, path: request.path) {
        case .matched(let handler, let match):
            if let problem = MediaTypePolicy.refusal(for: request, bodies: match.policy.bodies) {
                return refuse(problem, actor: code, route: match.template, audited: match.policy.auditsRefusals)
            }
            let call = ServiceCall(
                request: request, context: requestContext, department: department, route: match,
                attribution: attribution)
            let reply: Reply
            do { reply = try handler(call) } catch { reply = Reply(thrown: error) }
            deliver(reply, route: match.template, sink: sink) { [self] response, problemType in
                complete(response, problemType: problemType, request: request, requestContext: requestContext,
                    actor: code, clerk: attribution.id, route: match.template, audited: match.policy.auditsRefusals,
                    sink: sink)
            }
        case .notFound where ConsoleRoutes.isBrowserPath(request.path):
            // A console 404 or a browser's favicon request is answered, not audited.
            complete(ConsoleRoutes.notFoundPage(request), problemType: nil, request: request,
                requestContext: requestContext, actor: code, clerk: clerk, route: "-", audited: false, sink: sink)
        case .notFound:
            refuse(.notFound(detail: "No route for \(request.method) \(request.path)."), actor: code)
        case .methodNotAllowed(let allowed):
            refuse(.methodNotAllowed(allowed: allowed), actor: code, audited: !ConsoleRoutes.isBrowserPath(request.path))
        }
    }

    /// Turns a handler's reply into the one response of the call: a problem with its type (for the
    /// refusal's audit entry), a failure mapped to 503 or 500, a later reply when it comes (the
    /// first one; a second is a fault, logged and dropped). A later reply is made and finished on
    /// the connection's thread (`sink`), not on the store's writer or a timer thread that answered
    /// it.
    private func deliver(
        _ reply: Reply, route: String, sink: ResponseSink,
        to finish: @escaping @Sendable (HTTPResponse, _ problemType: String?) -> Void
    ) {
        switch reply {
        case .response(let response):
            finish(response, nil)
        case .page(let response, let problemType):
            finish(response, problemType)
        case .problem(let problem):
            finish(.problem(problem), problem.type)
        case .failure(let error):
            let problem = log.problem(for: error, route: route)
            finish(.problem(problem), problem.type)
        case .later(let later):
            let answered = Atomic<Bool>(false)
            later.start { [self] make in
                guard !answered.exchange(true, ordering: .acquiringAndReleasing) else {
                    return log.log(.error, "reply-repeated", [("route", route), ("reply", "\(make())")])
                }
                sink.onConnectionThread { [self] in deliver(make(), route: route, sink: sink, to: finish) }
            }
        }
    }

    /// Logs, measures and sends; a 4xx response is first written to the audit log as a refused
    /// request (durably: the response waits for the commit), or, beyond the department's rate of
    /// individual entries, counted into its next `request.refused.aggregate` entry (``RefusalAudit``).
    private func complete(
        _ response: HTTPResponse, problemType: String?, request: HTTPRequest, requestContext: RequestContext,
        actor: String, clerk: String?, route: String, audited: Bool = true, sink: ResponseSink
    ) {
        let send: @Sendable (HTTPResponse) -> Void = { [context] response in
            let seconds = Double(context.clock.monotonicNanoseconds() &- requestContext.receivedAt) / 1e9
            context.metrics.record(route: route, status: response.status, seconds: seconds, department: actor)
            context.log.logRequest(
                department: actor, method: request.method, route: route, status: response.status,
                durationMs: seconds * 1000, connection: requestContext.connectionID)
            sink.send(response)
        }
        guard audited, (400..<500).contains(response.status) else { return send(response) }
        let decision = refusals.admit(
            actor: actor, status: response.status, problemType: problemType, now: context.clock.monotonicNanoseconds(),
            wallNow: context.now())
        guard decision == .individual else { return send(response) }
        var event = AuditEvent(action: .requestRefused, actor: actor, clerk: clerk)
        event.detail["method"] = request.method
        event.detail["route"] = route
        event.detail["status"] = String(response.status)
        if let problemType { event.detail["problem"] = problemType }
        context.store.recordRefusal(event, at: context.now()) { [context] result in
            if case .failure(let error) = result {
                context.log.log(.error, "audit-write-failed", [("error", "\(StoreError(error))")])
                // A refusal that cannot be audited is not sent; a full disk is a 503 like any write's.
                return send(.problem(error.isTransientStoreFailure ? .storeUnavailableNow : .internalError()))
            }
            send(response)
        }
    }
}
