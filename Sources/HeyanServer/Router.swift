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
/// `Allow`. A path some route names without parameters is matched by those routes only. Templates
/// are `/`-separated with `{name}` segments; a last segment `{name...}` takes the rest of the path
/// (one or more segments, joined by `/`).
struct Router<Handler: Sendable>: Sendable {
    private struct Route: Sendable {
        let method: String
        let template: String
        let segments: [Segment]
        let policy: RoutePolicy
        let handler: Handler

        /// Whether a request with `method` is this route's (HEAD is answered as GET).
        func accepts(_ method: String) -> Bool { self.method == method || (method == "HEAD" && self.method == "GET") }
    }
    private enum Segment: Sendable, Equatable {
        /// Compared with the path's bytes as they are (RFC 3986 compares paths octet by octet).
        case literal([UInt8])
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
    private var exact: [String: [Route]] = [:]

    mutating func add(_ method: String, _ template: String, policy: RoutePolicy = .api, _ handler: Handler) {
        let segments = template.split(separator: "/", omittingEmptySubsequences: true).map { part -> Segment in
            if part.hasPrefix("{") && part.hasSuffix("...}") { return .remainder(String(part.dropFirst().dropLast(4))) }
            if part.hasPrefix("{") && part.hasSuffix("}") { return .parameter(String(part.dropFirst().dropLast())) }
            return .literal(Array(part.utf8))
        }
        let route = Route(method: method, template: template, segments: segments, policy: policy, handler: handler)
        routes.append(route)
        if !template.contains("{") { exact[template, default: []].append(route) }
    }

    /// All route templates, for metrics.
    var templates: [String] { routes.map(\.template) }

    func resolve(method: String, path: String) -> Resolution {
        // `String` keys compare by canonical equivalence: the bytes are checked too.
        if let candidates = exact[path], candidates[0].template.utf8.elementsEqual(path.utf8) {
            for route in candidates where route.accepts(method) {
                return .matched(route.handler, RouteMatch(template: route.template, parameters: [:], policy: route.policy))
            }
            // A path that routes name literally is theirs alone: another method is 405 with their
            // methods, never a template's parameter (`/v1/catalog/changes` is not the catalog item
            // "changes", and `OPTIONS` on it must not advertise the item's GET).
            return Self.methodNotAllowed(candidates.map(\.method))
        }
        // The path's segments as ranges of its UTF-8 (split at every "/", the part before the first
        // dropped): matched without a `String` per segment, and a route's parameters are made only
        // once it matches. "/v1/catalog/" has a trailing empty segment: not found rather than guessed.
        var path = path
        var allowed: [String] = []
        let matched: Resolution? = path.withUTF8 { bytes in
            var parts: [Range<Int>] = []
            var start = 0
            for position in bytes.indices where bytes[position] == UInt8(ascii: "/") {
                parts.append(start..<position)
                start = position + 1
            }
            parts.append(start..<bytes.count)
            parts.removeFirst()
            func text(_ range: Range<Int>) -> String { String(decoding: UnsafeBufferPointer(rebasing: bytes[range]), as: UTF8.self) }
            for route in routes {
                let takesRest: Bool
                if case .remainder = route.segments.last { takesRest = true } else { takesRest = false }
                guard route.segments.count == parts.count || (takesRest && parts.count > route.segments.count) else { continue }
                let matches = zip(route.segments, parts).allSatisfy { segment, part in
                    switch segment {
                    case .literal(let literal): literal.elementsEqual(UnsafeBufferPointer(rebasing: bytes[part]))
                    case .parameter: !part.isEmpty
                    case .remainder: true
                    }
                }
                guard matches else { continue }
                guard route.accepts(method) else {
                    allowed.append(route.method)
                    continue
                }
                var parameters: [String: String] = [:]
                for (segment, part) in zip(route.segments, parts) {
                    switch segment {
                    case .literal: break
                    case .parameter(let name): parameters[name] = text(part)
                    case .remainder(let name): parameters[name] = text(part.lowerBound..<bytes.count)
                    }
                }
                return .matched(route.handler, RouteMatch(template: route.template, parameters: parameters, policy: route.policy))
            }
            return nil
        }
        if let matched { return matched }
        if allowed.isEmpty { return .notFound }
        return Self.methodNotAllowed(allowed)
    }

    /// 405 with `methods` as `Allow` names them: each once, and HEAD wherever GET is (HEAD is answered as GET).
    private static func methodNotAllowed(_ methods: [String]) -> Resolution {
        var allowed: [String] = []
        for method in methods where !allowed.contains(method) { allowed.append(method) }
        if allowed.contains("GET") && !allowed.contains("HEAD") { allowed.append("HEAD") }
        return .methodNotAllowed(allowed: allowed)
    }
}
