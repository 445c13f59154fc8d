import HeyanDomain
import HeyanHTTP
import Synchronization

/// Request counters and a latency histogram, rendered in the Prometheus text format.
public final class ServiceMetrics: Sendable {
    /// Upper bounds of the latency buckets, in seconds.
    static let latencyBounds: [Double] = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10]

    private struct Key: Hashable {
        let route: String
        let status: Int
    }
    private struct State {
        var requests: [Key: Int] = [:]
        var buckets = [Int](repeating: 0, count: ServiceMetrics.latencyBounds.count + 1)
        var latencySum: Double = 0
        var latencyCount = 0
    }
    private let state = Mutex(State())
    public let http: HTTPServerMetrics
    private let startedAt = wallClockSeconds()

    public init(http: HTTPServerMetrics) { self.http = http }

    func record(route: String, status: Int, seconds: Double) {
        var bucket = Self.latencyBounds.count
        for (index, bound) in Self.latencyBounds.enumerated() where seconds <= bound {
            bucket = index
            break
        }
        state.withLock {
            $0.requests[Key(route: route, status: status), default: 0] += 1
            $0.buckets[bucket] += 1
            $0.latencySum += seconds
            $0.latencyCount += 1
        }
    }

    /// Prometheus text exposition (version 0.0.4).
    /// `queues`: verification queue items per owner; `spotChecks`: spot checks per owner.
    func render(queues: [QueueCount] = [], spotChecks: [QueueCount] = []) -> String {
        let snapshot = state.withLock { $0 }
        var out = ""
        out += "# HELP heyan_http_requests_total HTTP requests answered, by route template and status.\n"
        out += "# TYPE heyan_http_requests_total counter\n"
        for (key, count) in snapshot.requests.sorted(by: { ($0.key.route, $0.key.status) < ($1.key.route, $1.key.status) }) {
            out += "heyan_http_requests_total{route=\"\(key.route)\",status=\"\(key.status)\"} \(count)\n"
        }
        out += "# HELP heyan_http_request_duration_seconds Time from parsed request to response.\n"
        out += "# TYPE heyan_http_request_duration_seconds histogram\n"
        var cumulative = 0
        for (index, bound) in Self.latencyBounds.enumerated() {
            cumulative += snapshot.buckets[index]
            out += "heyan_http_request_duration_seconds_bucket{le=\"\(bound)\"} \(cumulative)\n"
        }
        cumulative += snapshot.buckets[Self.latencyBounds.count]
        out += "heyan_http_request_duration_seconds_bucket{le=\"+Inf\"} \(cumulative)\n"
        out += "heyan_http_request_duration_seconds_sum \(snapshot.latencySum)\n"
        out += "heyan_http_request_duration_seconds_count \(snapshot.latencyCount)\n"
        func gauge(_ name: String, _ help: String, _ type: String, _ value: Int) {
            out += "# HELP \(name) \(help)\n# TYPE \(name) \(type)\n\(name) \(value)\n"
        }
        gauge("heyan_connections_open", "Open client connections.", "gauge", http.connectionsOpen.load(ordering: .relaxed))
        gauge("heyan_connections_accepted_total", "Accepted TCP connections.", "counter", http.connectionsAccepted.load(ordering: .relaxed))
        gauge("heyan_connections_refused_total", "Connections closed at once (over the connection limit).", "counter", http.connectionsRefused.load(ordering: .relaxed))
        gauge("heyan_tls_handshakes_total", "Completed TLS handshakes.", "counter", http.handshakesCompleted.load(ordering: .relaxed))
        gauge("heyan_tls_handshakes_resumed_total", "Completed TLS handshakes that resumed a session.", "counter", http.handshakesResumed.load(ordering: .relaxed))
        gauge("heyan_tls_handshakes_failed_total", "Failed TLS handshakes (no, bad or revoked client certificate, protocol).", "counter", http.handshakesFailed.load(ordering: .relaxed))
        gauge("heyan_tls_handshakes_timed_out_total", "Handshakes not finished within the handshake timeout.", "counter", http.handshakesTimedOut.load(ordering: .relaxed))
        gauge("heyan_http_requests_timed_out_total", "Requests not received within the request timeout (408).", "counter", http.requestsTimedOut.load(ordering: .relaxed))
        gauge("heyan_http_parse_errors_total", "Malformed requests refused by the parser.", "counter", http.parseErrors.load(ordering: .relaxed))
        out += "# HELP heyan_queue_items Queue items by owner, kind (verification, spot-check) and state (overdue: past dueAt, not answered).\n"
        out += "# TYPE heyan_queue_items gauge\n"
        for (kind, counts) in [("verification", queues), ("spot-check", spotChecks)] {
            for count in counts.sorted(by: { $0.owner < $1.owner }) {
                let labels = "owner=\"\(count.owner)\",kind=\"\(kind)\""
                out += "heyan_queue_items{\(labels),state=\"pending\"} \(count.pending)\n"
                out += "heyan_queue_items{\(labels),state=\"leased\"} \(count.leased)\n"
                out += "heyan_queue_items{\(labels),state=\"overdue\"} \(count.overdue)\n"
            }
        }
        gauge("heyan_process_start_time_seconds", "Start time of the process since the unix epoch.", "gauge", Int(startedAt))
        return out
    }
}
