#if canImport(Glibc)
import Glibc
#endif
import HeyanBench
import HeyanServer

/// `heyan bench …` (all but `bench signing`): the mTLS load generator. See ``BenchCommand/help``.
enum BenchCommand {
    static let help = """
        usage: heyan bench [--scenario NAME] [--url https://HOST:PORT] (--certs DIR | --ca CA.pem --cert CERT --key KEY)
                           [--connections N] [--threads T] [--duration S] [--warmup S] [--rate R] [--json] …

        Loads a heyan (or any HTTPS/1.1 mTLS) server from an epoll loop per thread over non-blocking
        TLS connections, and reports throughput, latency percentiles (log-linear histogram, ~1% error)
        and errors by kind.

        scenarios (--scenario, default healthz):
          healthz       GET /healthz on keep-alive connections
          url           --method (GET) --path (/healthz) [--body FILE, sent as application/json]; 2xx expected
          handshake     a new TCP + full TLS handshake (no resumption) per request: GET --path with
                        Connection: close, then close; reports handshakes/s
          data-sharing  seeds --subjects (10000) PSB-NO-CRIMINAL-RECORD records as the owner with
                        POST /v1/records:batch (skip with --no-seed), then POST /v1/verifications for
                        rotating subjects as the requester; 201 expected
          queue         each user has a requester and an owner connection; one round trip = submit
                        CIV-MARRIAGE (202) → GET /v1/queue?limit=1 (200) → POST /v1/queue/{id}/answer
                        confirmed (200) → GET /v1/attestations/{id} (200); reports round trips/s and the
                        latency of the whole round trip
          idle          open the connections, one GET /healthz each, then hold them silent for
                        --duration; reports how many are still open (server memory per idle connection)

        identities:
          --certs DIR           a development PKI (heyan pki init): DIR/ca.pem and
                                DIR/departments/CODE.pem|.key; each scenario picks its departments:
                                --department CODE   requester (default hrss; queue: housing-fund)
                                --owner CODE        owner (data-sharing: public-security; queue: civil-affairs)
          --ca CA.pem --cert CERT --key KEY          explicit files (override --certs)
          --owner-cert CERT --owner-key KEY          the owner side for data-sharing and queue

        load:
          --url https://HOST:PORT   server (default https://127.0.0.1:8443; SNI is the host name, or
                                    localhost for an IP address; the server is verified against the CA)
          --connections N           connections (queue: users, two connections each); default 16
          --threads T               load threads, each an epoll loop over its share; default 1
          --duration S              measured seconds (default 10); --warmup S unmeasured before (default 1)
          --rate R                  open loop: R transactions/s in total, each scheduled at start + i/R;
                                    latency counts from the intended time (queueing is not hidden);
                                    reports requests sent over 1 ms late and never sent (dropped)
                                    (default: closed loop, the next request as soon as the last completes)
          --timeout S               a request, or a connect and handshake, slower than this is an
                                    error (default 10)
          --subjects N              distinct resident IDs for data-sharing and queue (default 10000)
          --json                    print one JSON object instead of the table:
                                    {"scenario","target","connections","threads","duration","rate"?,
                                     "requests","requestsPerSecond","roundTrips"?,"roundTripsPerSecond"?,
                                     "handshakes"?,"handshakesPerSecond"?,"connectionsOpen"?,
                                     "connectionsClosedByServer"?,"errors":{"kind":n},"statuses":{"200":n},
                                     "latencyMs":{"p50","p90","p99","p999","max","mean"},"late"?,"dropped"?,
                                     "errorSamples"?}
        error kinds: connect, handshake, closed (read/write failed or closed mid-request), http-status
        (an unexpected status; see statuses), parse, timeout, body (a queue lease with no item).
        Exit status 0 when the run had no errors, 1 otherwise, 2 for a usage error.

          heyan bench signing [--seconds S] [--json]   JWS signatures/s next to `openssl speed`
        """

    static func run(arguments: [String]) throws -> Int32 {
        if arguments.contains("--help") || arguments.contains("-h") {
            print(help)
            return 0
        }
        let options: CommandLineOptions
        do {
            options = try CommandLineOptions(
                arguments,
                valued: [
                    "--url", "--ca", "--cert", "--key", "--certs", "--department", "--owner", "--owner-cert", "--owner-key",
                    "--scenario", "--path", "--method", "--body", "--connections", "--threads", "--duration", "--warmup",
                    "--rate", "--timeout", "--subjects",
                ],
                switches: ["--json", "--no-seed"])
            guard options.positional.isEmpty else { throw CommandLineOptions.UsageError(description: "unexpected \(options.positional[0])") }
            let plan = try makePlan(options)
            let report = try BenchRunner.run(plan, progress: options.has("--json") ? nil : { print($0) })
            print(options.has("--json") ? report.json() : report.table())
            return report.totalErrors == 0 ? 0 : 1
        } catch let error as CommandLineOptions.UsageError {
            printError("heyan bench: \(error.description)\n(see heyan bench --help)")
            return 2
        } catch let error as BenchRunner.Failure {
            printError("heyan bench: \(error.description)")
            return 2
        }
    }

    static func makePlan(_ options: CommandLineOptions) throws -> BenchPlan {
        typealias UsageError = CommandLineOptions.UsageError
        let scenarioName = options["--scenario"] ?? "healthz"
        guard let scenario = BenchScenario(rawValue: scenarioName) else {
            throw UsageError(description: "unknown scenario \(scenarioName) (\(BenchScenario.allCases.map(\.rawValue).joined(separator: ", ")))")
        }
        let (host, port, serverName, urlPath) = try parseURL(options["--url"] ?? "https://127.0.0.1:8443")

        let certs = options["--certs"]
        let requesterCode = options["--department"] ?? (scenario == .queue ? "housing-fund" : "hrss")
        let ownerCode = options["--owner"] ?? (scenario == .queue ? "civil-affairs" : "public-security")
        guard let trust = options["--ca"] ?? certs.map({ "\($0)/ca.pem" }) else {
            throw UsageError(description: "--ca (or --certs DIR) is required")
        }
        guard let certificate = options["--cert"] ?? certs.map({ "\($0)/departments/\(requesterCode).pem" }),
            let key = options["--key"] ?? certs.map({ "\($0)/departments/\(requesterCode).key" })
        else { throw UsageError(description: "--cert and --key (or --certs DIR) are required") }
        var owner: BenchIdentity?
        if scenario.needsOwner {
            guard let ownerCertificate = options["--owner-cert"] ?? certs.map({ "\($0)/departments/\(ownerCode).pem" }),
                let ownerKey = options["--owner-key"] ?? certs.map({ "\($0)/departments/\(ownerCode).key" })
            else { throw UsageError(description: "\(scenario.rawValue) needs --owner-cert and --owner-key (or --certs DIR)") }
            owner = BenchIdentity(certificate: ownerCertificate, key: ownerKey)
        }
        for file in [trust, certificate, key] + [owner?.certificate, owner?.key].compactMap({ $0 }) where access(file, R_OK) != 0 {
            throw UsageError(description: "cannot read \(file)")
        }

        func integer(_ name: String, _ fallback: Int, _ range: ClosedRange<Int>) throws -> Int {
            guard let text = options[name] else { return fallback }
            guard let value = Int(text), range.contains(value) else {
                throw UsageError(description: "\(name) must be an integer in \(range.lowerBound)...\(range.upperBound)")
            }
            return value
        }
        func seconds(_ name: String, _ fallback: Double, minimum: Double) throws -> Double {
            guard let text = options[name] else { return fallback }
            guard let value = Double(text), value.isFinite, value >= minimum, value <= 86_400 else {
                throw UsageError(description: "\(name) must be a number of seconds ≥ \(minimum)")
            }
            return value
        }
        var body: [UInt8]?
        if let file = options["--body"] { body = try ConfigurationLoader.readFile(file) }
        var rate: Double?
        if let text = options["--rate"] {
            guard let value = Double(text), value.isFinite, value > 0 else { throw UsageError(description: "--rate must be > 0") }
            rate = value
        }
        let connections = try integer("--connections", 16, 1...100_000)
        let threads = try integer("--threads", 1, 1...256)
        guard threads <= connections else { throw UsageError(description: "--threads must not exceed --connections") }
        return BenchPlan(
            scenario: scenario, host: host, port: port, serverName: serverName, trust: trust,
            identity: BenchIdentity(certificate: certificate, key: key), owner: owner,
            connections: connections, threads: threads,
            duration: try seconds("--duration", 10, minimum: 0.1), warmup: try seconds("--warmup", 1, minimum: 0),
            rate: rate, timeout: try seconds("--timeout", 10, minimum: 0.01),
            method: options["--method"] ?? (body == nil ? "GET" : "POST"),
            path: options["--path"] ?? urlPath ?? "/healthz", body: body,
            subjects: try integer("--subjects", 10_000, 1...SubjectPool.maximum), skipSeeding: options.has("--no-seed"))
    }

    /// `https://HOST:PORT[/path]` → an IPv4 address, port, TLS server name and the path if any.
    static func parseURL(_ url: String) throws -> (String, Int, String, String?) {
        guard url.hasPrefix("https://") else {
            throw CommandLineOptions.UsageError(description: "--url must start with https://")
        }
        var rest = Substring(url.dropFirst("https://".count))
        var path: String?
        if let slash = rest.firstIndex(of: "/") {
            path = String(rest[slash...])
            rest = rest[..<slash]
        }
        var host = String(rest)
        var port = 443
        if let colon = rest.lastIndex(of: ":") {
            host = String(rest[..<colon])
            guard let value = Int(rest[rest.index(after: colon)...]), (1...65_535).contains(value) else {
                throw CommandLineOptions.UsageError(description: "bad port in \(url)")
            }
            port = value
        }
        var probe = in_addr()
        if inet_pton(AF_INET, host, &probe) == 1 { return (host, port, "localhost", path) }
        return (try resolveIPv4(host), port, host, path)
    }

    private static func resolveIPv4(_ host: String) throws -> String {
        var hints = addrinfo()
        hints.ai_family = AF_INET
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        var result: UnsafeMutablePointer<addrinfo>?
        guard getaddrinfo(host, nil, &hints, &result) == 0, let first = result, let address = first.pointee.ai_addr else {
            throw CommandLineOptions.UsageError(description: "cannot resolve \(host) to an IPv4 address")
        }
        defer { freeaddrinfo(result) }
        var text = [CChar](repeating: 0, count: Int(INET_ADDRSTRLEN))
        var inet = address.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { $0.pointee.sin_addr }
        inet_ntop(AF_INET, &inet, &text, socklen_t(text.count))
        return text.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }
    }

    private static func printError(_ text: String) {
        let line = text + "\n"
        _ = line.withCString { write(2, $0, strlen($0)) }
    }
}
