import FoundationEssentials
import HeyanDomain
import HeyanHTTP

/// One authorized call to a route: the request, the caller's department and the route's
/// parameters.
struct ServiceCall: Sendable {
    let request: HTTPRequest
    let context: RequestContext
    let department: Department
    let route: RouteMatch
}

/// heyan's HTTP API: authenticates the department behind the client certificate, routes, answers,
/// and records one log line and one metrics sample per request.
public final class HeyanService: HTTPResponder {
    typealias Handler = @Sendable (ServiceCall) -> HTTPResponse

    private let directory: DepartmentDirectory
    private let catalog: Catalog
    private let published: PublishedCatalog
    public let metrics: ServiceMetrics
    private let log: EventLog
    private let router: Router<Handler>

    public init(directory: DepartmentDirectory, catalog: Catalog, metrics: ServiceMetrics, log: EventLog) throws {
        self.directory = directory
        self.catalog = catalog
        self.published = try PublishedCatalog(catalog)
        self.metrics = metrics
        self.log = log
        var router = Router<Handler>()
        router.add("GET", "/healthz") { _ in Self.health }
        router.add("GET", "/metrics") { [metrics] _ in
            .text(200, metrics.render(), contentType: "text/plain; version=0.0.4; charset=utf-8")
        }
        router.add("GET", "/v1/catalog") { [published] _ in .json(200, published.list) }
        router.add("GET", "/v1/catalog/{code}") { [published] call in
            let code = call.route.parameters["code"] ?? ""
            guard let body = published.items[code] else {
                return .problem(.notFound(detail: "No certificate type '\(code)' in the catalog."))
            }
            return .json(200, body)
        }
        self.router = router
    }

    static let health = HTTPResponse.json(200, Array(#"{"status":"ok"}"#.utf8))

    public func respond(to request: HTTPRequest, context: RequestContext, sink: ResponseSink) {
        guard let code = context.department else {
            finish(
                .problem(.forbidden(detail: "The client certificate names no heyan department (SAN URI urn:heyan:dept:<code>).")),
                request: request, context: context, department: "-", route: "-", sink: sink)
            return
        }
        guard let department = directory[code] else {
            finish(
                .problem(.forbidden(detail: "Department '\(code)' is not registered with this heyan service.")),
                request: request, context: context, department: code, route: "-", sink: sink)
            return
        }
        switch router.resolve(method: request.method, path: request.path) {
        case .matched(let handler, let match):
            let call = ServiceCall(request: request, context: context, department: department, route: match)
            finish(handler(call), request: request, context: context, department: code, route: match.template, sink: sink)
        case .notFound:
            finish(
                .problem(.notFound(detail: "No route for \(request.method) \(request.path).")),
                request: request, context: context, department: code, route: "-", sink: sink)
        case .methodNotAllowed(let allowed):
            var response = HTTPResponse.problem(.methodNotAllowed(allowed: allowed))
            response.headers.replace("Allow", allowed.joined(separator: ", "))
            finish(response, request: request, context: context, department: code, route: "-", sink: sink)
        }
    }

    private func finish(
        _ response: HTTPResponse, request: HTTPRequest, context: RequestContext, department: String, route: String,
        sink: ResponseSink
    ) {
        let seconds = Double(monotonicNanoseconds() &- context.receivedAt) / 1e9
        metrics.record(route: route, status: response.status, seconds: seconds)
        log.log(
            .info, "request",
            [("department", department), ("method", request.method), ("route", route)],
            numbers: [("status", Double(response.status)), ("durationMs", seconds * 1000), ("connection", Double(context.connectionID))])
        sink.send(response)
    }
}

/// The catalog as served: JSON bodies encoded once at start, since the catalog only changes by
/// configuration (and, later, through versioned catalog changes).
struct PublishedCatalog: Sendable {
    let list: [UInt8]
    let items: [String: [UInt8]]

    init(_ catalog: Catalog) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        list = Array(try encoder.encode(catalog))
        var items: [String: [UInt8]] = [:]
        for item in catalog.items { items[item.code] = Array(try encoder.encode(item)) }
        self.items = items
    }
}
