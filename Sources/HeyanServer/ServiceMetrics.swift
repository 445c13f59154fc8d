import HeyanCrypto
import HeyanDomain
import HeyanHTTP
import HeyanStorage
import Synchronization

/// What heyan exposes at `/metrics`, rendered in the Prometheus text format (version 0.0.4).
///
/// Every label value comes from configuration (departments, certificate types) or from a fixed
/// vocabulary (methods, outcomes, algorithms), never from a request: a value heyan does not know
/// is counted under one fallback value. docs/metrics.md lists the families and their cost.
public final class ServiceMetrics: Sendable {
    /// Upper bounds of the latency buckets, in seconds.
    static let latencyBounds: [Double] = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10]
    /// Upper bounds of the group-commit batch-size buckets, in jobs (the writer takes at most 2000).
    static let batchSizeBounds: [Double] = [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 2000]
    /// Upper bounds of the commit-latency buckets, in seconds.
    static let commitBounds: [Double] = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5]
    /// `outcome` of ``verifications``: an answer, or where the request went instead.
    static let verificationOutcomes = Outcome.allCases.map(\.rawValue) + ["queued"]
        + [CommitmentStatus.committed, .underCheck].map(\.rawValue)
    /// `purpose` of ``signatures``.
    enum SignaturePurpose: String, CaseIterable {
        case attestation
        case commitmentReceipt = "commitment-receipt"
        case auditCheckpoint = "audit-checkpoint"
    }

    private struct Key: Hashable {
        let route: String
        let status: Int
    }
    private struct State {
        var requests: [Key: Int] = [:]
        var latency = HistogramCounts(bounds: ServiceMetrics.latencyBounds)
    }
    private struct GroupCommit {
        var batchSizes = HistogramCounts(bounds: ServiceMetrics.batchSizeBounds)
        var commitSeconds = HistogramCounts(bounds: ServiceMetrics.commitBounds)
        var lastBatchCommitted = true
    }
    private let state = Mutex(State())
    private let groupCommit = Mutex(GroupCommit())
    public let http: HTTPServerMetrics
    /// `heyan_department_requests_total{department,status_class}`.
    let departmentRequests: CounterGrid
    /// `heyan_verifications_total{certificate_type,method,outcome}`.
    let verifications: CounterGrid
    /// `heyan_signatures_total{algorithm,purpose}`.
    let signatures: CounterGrid
    /// notAfter of the served TLS certificate (unix seconds); 0 until known.
    private let serverCertificateNotAfter = Atomic<Int64>(0)

    /// - Parameters:
    ///   - departments: the configured department codes; requests of any other caller count
    ///     under `department="unknown"`.
    ///   - certificateTypes: the certificate type codes known at start; any other under `"other"`.
    public init(http: HTTPServerMetrics, departments: [String] = [], certificateTypes: [String] = []) {
        self.http = http
        departmentRequests = CounterGrid(
            "heyan_department_requests_total",
            help: "HTTP requests answered, by the calling department and status class.",
            labels: [
                MetricLabel("department", values: departments, fallback: "unknown"),
                MetricLabel("status_class", values: ["1xx", "2xx", "3xx", "4xx", "5xx"]),
            ])
        verifications = CounterGrid(
            "heyan_verifications_total",
            help: "Verification events by certificate type, method and outcome (queued, then the owner's answer).",
            labels: [
                MetricLabel("certificate_type", values: certificateTypes, fallback: "other"),
                MetricLabel("method", values: VerificationMethod.allCases.map(\.rawValue)),
                MetricLabel("outcome", values: Self.verificationOutcomes),
            ])
        signatures = CounterGrid(
            "heyan_signatures_total", help: "JWS signatures made, by algorithm and purpose.",
            labels: [
                MetricLabel("algorithm", values: JWSAlgorithm.allCases.map(\.rawValue)),
                MetricLabel("purpose", values: SignaturePurpose.allCases.map(\.rawValue)),
            ])
    }

    // MARK: - Hooks

    /// One answered request. `department` is the caller's code (or `anonymous`).
    func record(route: String, status: Int, seconds: Double, department: String) {
        departmentRequests.increment(department, Self.statusClass(status))
        state.withLock {
            $0.requests[Key(route: route, status: status), default: 0] += 1
            $0.latency.observe(seconds)
        }
    }

    static func statusClass(_ status: Int) -> String {
        switch status {
        case ..<200: "1xx"
        case 200..<300: "2xx"
        case 300..<400: "3xx"
        case 400..<500: "4xx"
        default: "5xx"
        }
    }

    /// A stored verification event: answered at once, queued, answered by the owner, or a commitment.
    func countVerification(certificateType: String, method: VerificationMethod, outcome: String) {
        verifications.increment(certificateType, method.rawValue, outcome)
    }

    /// One JWS signature made.
    func countSignature(_ algorithm: JWSAlgorithm, _ purpose: SignaturePurpose) {
        signatures.increment(algorithm.rawValue, purpose.rawValue)
    }

    /// One group-commit batch (called on the store's writer thread).
    public func observe(_ batch: GroupCommitBatch) {
        groupCommit.withLock {
            $0.batchSizes.observe(Double(batch.jobs))
            $0.commitSeconds.observe(batch.seconds)
            $0.lastBatchCommitted = batch.committed
        }
    }

    /// The served TLS certificate's notAfter (at start and after each reload).
    public func setServerCertificateNotAfter(_ seconds: Int64) {
        serverCertificateNotAfter.store(seconds, ordering: .relaxed)
    }

    // MARK: - Exposition

    /// What a scrape reads from the store and the signer.
    struct ScrapeInput {
        /// Verification queue items per owner.
        var queues: [QueueCount] = []
        /// Spot checks per owner.
        var spotChecks: [QueueCount] = []
        /// The attestation signing certificate's notAfter (unix seconds).
        var signingCertificateNotAfter: Int64?
        /// Now (unix milliseconds, of the service clock), for the age of the oldest queue item.
        var now: Millis
        /// What `/readyz` would answer now (the store's own readiness check); nil: judge by the
        /// last group-commit batch.
        var storeReady: Bool? = nil
    }

    /// Prometheus text exposition (version 0.0.4).
    func render(_ input: ScrapeInput) -> String {
        let snapshot = state.withLock { $0 }
        let commits = groupCommit.withLock { $0 }
        var out = ""
        out += "# HELP heyan_http_requests_total HTTP requests answered, by route template and status.\n"
        out += "# TYPE heyan_http_requests_total counter\n"
        for (key, count) in snapshot.requests.sorted(by: { ($0.key.route, $0.key.status) < ($1.key.route, $1.key.status) }) {
            out += "heyan_http_requests_total{route=\"\(key.route)\",status=\"\(key.status)\"} \(count)\n"
        }
        snapshot.latency.render(
            name: "heyan_http_request_duration_seconds", help: "Time from parsed request to response.", into: &out)
        departmentRequests.render(into: &out)
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
        verifications.render(into: &out)
        signatures.render(into: &out)

        let queues = [("verification", input.queues), ("spot-check", input.spotChecks)]
        out += "# HELP heyan_queue_items Queue items by owner, kind (verification, spot-check) and state (overdue: past dueAt, not answered).\n"
        out += "# TYPE heyan_queue_items gauge\n"
        for (kind, counts) in queues {
            for count in counts.sorted(by: { $0.owner < $1.owner }) {
                let labels = "owner=\"\(MetricText.escape(count.owner))\",kind=\"\(kind)\""
                out += "heyan_queue_items{\(labels),state=\"pending\"} \(count.pending)\n"
                out += "heyan_queue_items{\(labels),state=\"leased\"} \(count.leased)\n"
                out += "heyan_queue_items{\(labels),state=\"overdue\"} \(count.overdue)\n"
            }
        }
        out += "# HELP heyan_queue_oldest_item_age_seconds Age of the oldest unanswered (pending or leased) item, by owner and kind.\n"
        out += "# TYPE heyan_queue_oldest_item_age_seconds gauge\n"
        for (kind, counts) in queues {
            for count in counts.sorted(by: { $0.owner < $1.owner }) {
                guard let oldest = count.oldestCreatedAt else { continue }
                let age = Double(max(0, input.now - oldest)) / 1000
                out += "heyan_queue_oldest_item_age_seconds{owner=\"\(MetricText.escape(count.owner))\",kind=\"\(kind)\"} \(age)\n"
            }
        }

        commits.batchSizes.render(
            name: "heyan_group_commit_batch_size", help: "Jobs per group-commit batch (one transaction).", into: &out)
        commits.commitSeconds.render(
            name: "heyan_group_commit_duration_seconds",
            help: "Time of one group-commit batch, from BEGIN to COMMIT returned (fsync included).", into: &out)
        gauge(
            "heyan_store_ready", "1 while the store can commit (what /readyz answers), else 0.", "gauge",
            (input.storeReady ?? commits.lastBatchCommitted) ? 1 : 0)

        out += "# HELP heyan_certificate_not_after_timestamp_seconds Expiry (notAfter) of the served TLS certificate (role server) and the attestation signing certificate (role signing).\n"
        out += "# TYPE heyan_certificate_not_after_timestamp_seconds gauge\n"
        let server = serverCertificateNotAfter.load(ordering: .relaxed)
        if server > 0 { out += "heyan_certificate_not_after_timestamp_seconds{role=\"server\"} \(server)\n" }
        if let signing = input.signingCertificateNotAfter {
            out += "heyan_certificate_not_after_timestamp_seconds{role=\"signing\"} \(signing)\n"
        }

        out += "# HELP heyan_build_info heyan's version and the Swift compiler that built it (value 1).\n"
        out += "# TYPE heyan_build_info gauge\n"
        out += "heyan_build_info{version=\"\(BuildInfo.version)\",swift_version=\"\(BuildInfo.swiftVersion)\"} 1\n"
        ProcessMetrics.current()?.render(into: &out)
        return out
    }
}

/// What was built: heyan's version and the compiler's language version.
public enum BuildInfo {
    /// heyan's release version; raised with each release.
    public static let version = "0.1.0"
    /// The Swift compiler version heyan was built with (major.minor).
    public static let swiftVersion: String = {
        #if compiler(>=6.4)
        return "6.4+"
        #elseif compiler(>=6.3)
        return "6.3"
        #elseif compiler(>=6.2)
        return "6.2"
        #elseif compiler(>=6.1)
        return "6.1"
        #else
        return "6.0"
        #endif
    }()
}

extension ServiceContext {
    /// Signs an audit checkpoint's payload with ``checkpointSigner``, counted in `heyan_signatures_total`.
    var signCheckpoint: @Sendable ([UInt8]) throws -> String {
        let signer = checkpointSigner
        let metrics = metrics
        return { payload in
            let jws = try signer.sign(payload: payload)
            metrics.countSignature(signer.algorithm, .auditCheckpoint)
            return jws
        }
    }
}
