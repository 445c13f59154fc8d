#if canImport(Glibc)
import Glibc
#endif
import HeyanBench
import HeyanServer
import HeyanTestSupport
import Testing

/// The real heyan service on 127.0.0.1:0 (example departments and catalog from `config/`, a PKI
/// made for the test, a fresh SQLite file), as HeyanServerTests' RunningService does.
final class BenchTarget: @unchecked Sendable {
    // @unchecked: set up in init, read-only afterwards; the runtime is thread-safe.
    let pki: TestPKI
    let configDirectory = TemporaryDirectory(prefix: "heyan-bench-config")
    let runtime: ServiceRuntime
    let port: Int

    init() throws {
        pki = try TestPKI()
        let root = packageRoot()
        // Rate limits lifted, as Tests/Scripts/bench/run.py does: a benchmark measures capacity, not fairness.
        try writeFile(
            configDirectory.file("departments.json"),
            departmentsWithoutRateLimits(try readFile("\(root)/config/departments.json")))
        try writeFile(configDirectory.file("catalog.json"), try readFile("\(root)/config/catalog.json"))
        try configDirectory.write(
            "heyan.json",
            """
            {
              "listen": "127.0.0.1:0",
              "database": "var/heyan.sqlite",
              "departments": "departments.json",
              "catalog": "catalog.json",
              "tls": {"certificate": "\(pki.serverCertificateFile)", "privateKey": "\(pki.serverKeyFile)",
                      "clientCA": "\(pki.caFile)", "crl": "\(pki.crlFile)"},
              "signing": {"certificate": "\(pki.signingCertificateFile)", "privateKey": "\(pki.signingKeyFile)",
                          "chain": ["\(pki.caFile)"]},
              "workers": 2
            }
            """)
        let configuration = try ConfigurationLoader.load(path: configDirectory.file("heyan.json"))
        let log = EventLog(fd: open("/dev/null", O_WRONLY | O_CLOEXEC), minimumLevel: .error)
        runtime = try ServiceRuntime(configuration: configuration, log: log)
        port = try runtime.start()
    }

    deinit { runtime.stop(grace: 1) }

    func identity(_ department: String) throws -> BenchIdentity {
        let files = try pki.department(department)
        return BenchIdentity(certificate: files.certificate, key: files.key)
    }

    func plan(_ scenario: BenchScenario, requester: String, owner: String? = nil, connections: Int = 4) throws -> BenchPlan {
        BenchPlan(
            scenario: scenario, port: port, trust: pki.caFile, identity: try identity(requester),
            owner: try owner.map(identity), connections: connections, threads: 2, duration: 1, warmup: 0.2,
            subjects: 500)
    }
}

/// One short run of every scenario against a real heyan: the smoke run `make test` keeps.
@Suite(.serialized) struct BenchSmokeTests {
    static let target = Result { try BenchTarget() }

    func expectClean(_ report: BenchReport, _ sourceLocation: SourceLocation = #_sourceLocation) {
        #expect(report.totalErrors == 0, "\(report.accounting.errorSamples)", sourceLocation: sourceLocation)
        #expect(report.requests > 0, sourceLocation: sourceLocation)
        #expect(report.accounting.transactions > 0, sourceLocation: sourceLocation)
        #expect(report.accounting.latency.count == report.accounting.transactions, sourceLocation: sourceLocation)
    }

    @Test func healthz() throws {
        let report = try BenchRunner.run(try Self.target.get().plan(.healthz, requester: "hrss"))
        expectClean(report)
        #expect(report.statuses.map(\.0) == [200])
        let json = report.json()
        #expect(json.hasPrefix(#"{"scenario":"healthz","target":"https://127.0.0.1:"#))
        #expect(json.contains(#""errors":{}"#) && json.contains(#""latencyMs":{"p50":"#))
    }

    @Test func dataSharing() throws {
        let report = try BenchRunner.run(try Self.target.get().plan(.dataSharing, requester: "hrss", owner: "public-security"))
        expectClean(report)
        #expect(report.statuses.map(\.0) == [201])
    }

    @Test func queueRoundTrips() throws {
        let report = try BenchRunner.run(try Self.target.get().plan(.queue, requester: "housing-fund", owner: "civil-affairs"))
        expectClean(report)
        #expect(report.statuses.map(\.0) == [200, 202])
        // Four requests per round trip; those in flight at the window's edges make the difference.
        let requests = Int(report.requests)
        let roundTrips = Int(report.accounting.transactions)
        #expect(abs(requests - 4 * roundTrips) <= 4 * 4 * 2)
        #expect(report.json().contains(#""roundTripsPerSecond":"#))
    }

    @Test func handshakes() throws {
        let report = try BenchRunner.run(try Self.target.get().plan(.handshake, requester: "hrss", connections: 2))
        expectClean(report)
        // Every request is on a new connection: a handshake each (give or take the window's edges).
        #expect(abs(Int(report.accounting.handshakes) - Int(report.requests)) <= 4)
    }

    @Test func openLoopSendsAtTheRequestedRate() throws {
        var plan = try Self.target.get().plan(.healthz, requester: "hrss")
        plan.rate = 200
        let report = try BenchRunner.run(plan)
        expectClean(report)
        #expect(report.requests >= 150 && report.requests <= 205, "\(report.requests) requests at 200/s for 1 s")
        #expect(report.json().contains(#""rate":200"#))
    }

    @Test func idleConnectionsStayOpen() throws {
        var plan = try Self.target.get().plan(.idle, requester: "hrss", connections: 20)
        plan.duration = 0.5
        let report = try BenchRunner.run(plan)
        #expect(report.totalErrors == 0)
        #expect(report.requests == 20)
        #expect(report.accounting.connectionsOpen == 20)
    }

    @Test func aCertificateTheServerDoesNotTrustIsAHandshakeError() throws {
        let target = try Self.target.get()
        let foreign = try TestPKI.foreignAuthority()
        let files = try target.pki.issue(.department(code: "hrss"), name: "foreign-hrss", issuer: foreign)
        var plan = try target.plan(.healthz, requester: "hrss", connections: 2)
        plan.identity = BenchIdentity(certificate: files.certificate, key: files.key)
        plan.duration = 0.3
        let report = try BenchRunner.run(plan)
        #expect(report.requests == 0)
        #expect(report.accounting.errors[BenchErrorKind.handshake.rawValue] + report.accounting.errors[BenchErrorKind.closed.rawValue] > 0)
    }
}
