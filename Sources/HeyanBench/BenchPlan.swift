/// The load scenarios of `heyan bench`.
public enum BenchScenario: String, Sendable, CaseIterable {
    /// `GET /healthz` on keep-alive connections.
    case healthz
    /// One request of the user's choosing (`--method`, `--path`, `--body`), any 2xx accepted.
    case url
    /// A new TLS connection (full handshake, no resumption) for every request, closed after it.
    case handshake
    /// `POST /v1/verifications` about seeded subjects, answered at once from shared records (201).
    case dataSharing = "data-sharing"
    /// submit → lease → answer → read the attestation, across a requester and an owner connection.
    case queue
    /// Open the connections, one `GET /healthz` each, then hold them silent.
    case idle

    /// Whether the scenario needs the owner identity.
    public var needsOwner: Bool { self == .dataSharing || self == .queue }
}

/// A department identity: certificate and key files (PEM).
public struct BenchIdentity: Sendable, Equatable {
    public var certificate: String
    public var key: String
    public init(certificate: String, key: String) {
        self.certificate = certificate
        self.key = key
    }
}

/// Everything one `heyan bench` run needs; plain values, shared read-only by the worker threads.
public struct BenchPlan: Sendable {
    public var scenario: BenchScenario
    /// IPv4 address in dotted form and port of the server.
    public var host: String
    public var port: Int
    /// SNI and what the report calls the target.
    public var serverName: String
    public var trust: String
    /// The identity of every connection, or of the requester side.
    public var identity: BenchIdentity
    /// The owner side (data-sharing seeding, queue leasing and answering).
    public var owner: BenchIdentity?
    /// Keep-alive connections (virtual users; a queue user has two connections).
    public var connections: Int
    public var threads: Int
    /// Measured seconds, and unmeasured seconds before them.
    public var duration: Double
    public var warmup: Double
    /// Open loop at this many transactions per second in total; nil for closed loop.
    public var rate: Double?
    /// A request (or connect and handshake) taking longer than this is a timeout.
    public var timeout: Double
    /// For `url` and `handshake`.
    public var method: String
    public var path: String
    public var body: [UInt8]?
    /// Distinct subjects (data-sharing seeds them; queue rotates over them).
    public var subjects: Int
    /// Skip seeding (the subjects were seeded by an earlier run).
    public var skipSeeding: Bool

    public init(
        scenario: BenchScenario, host: String = "127.0.0.1", port: Int = 8443, serverName: String = "localhost",
        trust: String, identity: BenchIdentity, owner: BenchIdentity? = nil, connections: Int = 16, threads: Int = 1,
        duration: Double = 10, warmup: Double = 1, rate: Double? = nil, timeout: Double = 10, method: String = "GET",
        path: String = "/healthz", body: [UInt8]? = nil, subjects: Int = 10_000, skipSeeding: Bool = false
    ) {
        self.scenario = scenario
        self.host = host
        self.port = port
        self.serverName = serverName
        self.trust = trust
        self.identity = identity
        self.owner = owner
        self.connections = connections
        self.threads = threads
        self.duration = duration
        self.warmup = warmup
        self.rate = rate
        self.timeout = timeout
        self.method = method
        self.path = path
        self.body = body
        self.subjects = subjects
        self.skipSeeding = skipSeeding
    }

    /// `https://host:port` as the report shows it.
    public var target: String { "https://\(host):\(port)" }
}
