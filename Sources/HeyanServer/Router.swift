import HeyanHTTP

/// A matched route: its template (for logs and metrics — never the raw path, which may hold a
/// subject ID) and the values of its `{parameters}`.
public struct RouteMatch: Sendable {
    public let template: String
    public let parameters: [String: String]
    /// What bodies the route reads and which of its refusals are audited.
    let policy: RoutePolicy
}

/// Maps `(method, path)` to a handler. Unknown path → 404; known path, other method → 405 with
/// `Allow`. Templates are `/`-separated with `{name}` segments; a last segment `{name...}` takes the
/// rest of the path (one or more segments, joined by `/`).
struct Router<Handler: Sendable>: Sendable {
    private struct Route: Sendable {
        let method: String
        let template: String
        let segments: [Segment]
        let policy: RoutePolicy
        let handler: Handler
    }
    private enum Segment: Sendable, Equatable {
        case literal(String)
        case parameter(String)
        /// The rest of the path: only as the last segment.
        case remainder(String)
    }

    enum Resolution {
        case matched(Handler, RouteMatch)
        case notFound
        case methodNotAllowed(allowed: [String])
    }

    private var routes: [Route] = []
    /// Routes without parameters, by path then method: one hash lookup on the hot paths
    /// (`/healthz`, `POST /v1/verifications`).
    private var exact: [String: [(method: String, route: Route)]] = [:]

    mutating func add(_ method: String, _ template: String, policy: RoutePolicy = .api, _ handler: Handler) {
        let segments = template.split(separator: "/", omittingEmptySubsequences: true).map { part -> Segment in
            if part.hasPrefix("{") && part.hasSuffix("...}") { return .remainder(String(part.dropFirst().dropLast(4))) }
            if part.hasPrefix("{") && part.hasSuffix("}") { return .parameter(String(part.dropFirst().dropLast())) }
            return .literal(String(part))
        }
        let route = Route(method: method, template: template, segments: segments, policy: policy, handler: handler)
        routes.append(route)
        if !template.contains("{") { exact[template, default: []].append((method, route)) }
    }

    /// All route templates, for metrics.
    var templates: [String] { routes.map(\.template) }

    func resolve(method: String, path: String) -> Resolution {
        if let candidates = exact[path] {
            for candidate in candidates where candidate.method == method || (method == "HEAD" && candidate.method == "GET") {
                return .matched(candidate.route.handler, RouteMatch(template: candidate.route.template, parameters: [:], policy: candidate.route.policy))
            }
        }
        let parts = path.split(separator: "/", omittingEmptySubsequences: false).dropFirst()
        // "/v1/catalog/" has a trailing empty segment: treated as not found rather than guessed.
        var allowed: [String] = []
        for route in routes {
            let takesRest: Bool
            if case .remainder = route.segments.last { takesRest = true } else { takesRest = false }
            guard route.segments.count == parts.count || (takesRest && parts.count > route.segments.count) else { continue }
            var parameters: [String: String] = [:]
            var matches = true
            for (position, (segment, part)) in zip(route.segments, parts).enumerated() {
                switch segment {
                case .literal(let literal):
                    if literal != part { matches = false }
                case .parameter(let name):
                    if part.isEmpty { matches = false } else { parameters[name] = String(part) }
                case .remainder(let name):
                    parameters[name] = parts.dropFirst(position).joined(separator: "/")
                }
                if !matches { break }
            }
            guard matches else { continue }
            if route.method == method || (method == "HEAD" && route.method == "GET") {
                return .matched(route.handler, RouteMatch(template: route.template, parameters: parameters, policy: route.policy))
            }
            allowed.append(route.method)
        }
        if allowed.isEmpty { return .notFound }
        if allowed.contains("GET") { allowed.append("HEAD") }
        return .methodNotAllowed(allowed: allowed)
    }
}
