#if canImport(Glibc)
import Glibc
#endif
import Foundation
import HeyanHTTP
import HeyanTestSupport
import Testing

extension BadInputMatrix {
    /// Clients that hold resources instead of sending bad bytes: slowloris, thousands of connections,
    /// hundreds of long polls, pipelining floods. The service must bound what each costs and keep
    /// answering `/healthz` within 100 ms.
    @Suite(.serialized) struct BadInputResourceTests {
        /// Resident set size of this process (the service runs in it), in MiB.
        static func residentMiB() -> Double {
            let status = (try? String(contentsOfFile: "/proc/self/status", encoding: .utf8)) ?? ""
            let line = status.split(separator: "\n").first { $0.hasPrefix("VmRSS:") } ?? ""
            return Double(line.split(separator: " ").dropFirst().first ?? "0").map { $0 / 1024 } ?? 0
        }

        /// Raises the soft limit on open files to what `needed` connections take (client and server
        /// ends of each, plus slack).
        static func ensureFileLimit(_ needed: Int) throws {
            var limit = rlimit()
            getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit)
            let wanted = rlim_t(needed * 2 + 512)
            if limit.rlim_cur < wanted {
                guard limit.rlim_max >= wanted else { throw TestFailure("RLIMIT_NOFILE hard limit \(limit.rlim_max) < \(wanted)") }
                limit.rlim_cur = wanted
                guard setrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit) == 0 else { throw TestFailure("setrlimit failed") }
            }
        }

        /// Opens `count` connections of `department` on `threads` threads.
        static func openConnections(_ fixture: BadInputFixture, _ department: String, count: Int, threads: Int = 2) throws
            -> [TLSClientConnection]
        {
            let files = try fixture.service.pki.department(department)
            let context = try TLSClientContext(certificate: files.certificate, key: files.key, trust: fixture.service.pki.caFile)
            let port = fixture.service.port
            let results = ConnectionCollector()
            let group = DispatchGroup()
            for thread in 0..<threads {
                group.enter()
                _ = try startThread(name: "opener-\(thread)") {
                    for _ in stride(from: thread, to: count, by: threads) {
                        do {
                            results.add(try TLSClientConnection(port: port, context: context, timeoutSeconds: 15))
                        } catch {
                            results.fail("\(error)")
                        }
                    }
                    group.leave()
                }
            }
            group.wait()
            let (connections, failures) = results.take()
            guard failures.isEmpty else { throw TestFailure("\(failures.count) connections failed: \(failures.first!)") }
            return connections
        }

        @Test func slowlorisConnectionsAreCutOffAtTheRequestTimeout() throws {
            let fixture = try BadInputFixture(limits: #""requestTimeoutSeconds": 2"#)
            try fixture.whileProbingHealth("resources: 200 slowloris") {
                try fixture.expectNothingChanged("200 slowloris connections", refusals: 0) {
                    let connections = try Self.openConnections(fixture, "housing-fund", count: 200)
                    let started = monotonicSeconds()
                    for connection in connections { try connection.send("GET /v1/catalog HTTP/1.1\r\nHost: heyan\r\n") }
                    // Trickle one header line per connection every 250 ms: activity does not extend
                    // the whole-request timeout.
                    var line = 0
                    while monotonicSeconds() - started < 3 {
                        usleep(250_000)
                        line += 1
                        for connection in connections { try? connection.send("X-Trickle-\(line): y\r\n") }
                    }
                    var timedOut = 0
                    for connection in connections {
                        if (try? connection.readResponse().status) == 408, connection.isClosedByPeer() { timedOut += 1 }
                    }
                    #expect(timedOut == 200)
                    #expect(monotonicSeconds() - started < 6)
                }
            }
        }

        @Test func twoThousandConcurrentConnectionsAreAllServed() throws {
            try Self.ensureFileLimit(2_100)
            let fixture = try BadInputFixture()
            try fixture.whileProbingHealth("resources: 2,000 connections") {
                try fixture.expectNothingChanged("2,000 concurrent connections", refusals: 0) {
                    let connections = try Self.openConnections(fixture, "housing-fund", count: 2_000)
                    #expect(connections.count == 2_000)
                    // All open at once: send on every one, then read every answer.
                    for connection in connections { try connection.send("GET /healthz HTTP/1.1\r\nHost: heyan\r\n\r\n") }
                    var ok = 0
                    for connection in connections where (try? connection.readResponse().status) == 200 { ok += 1 }
                    #expect(ok == 2_000)
                }
            }
        }

        @Test func twoHundredLongPollsWaitWithoutBlockingAnyone() throws {
            let fixture = try BadInputFixture()
            let seeded = try fixture.seed()
            try fixture.whileProbingHealth("resources: 200 long polls") {
                try fixture.expectNothingChanged("200 simultaneous long polls", refusals: 0) {
                    let requesters = try Self.openConnections(fixture, "housing-fund", count: 100)
                    let owners = try Self.openConnections(fixture, "market-regulation", count: 100)
                    let started = monotonicSeconds()
                    for connection in requesters {
                        try connection.send("GET /v1/verifications/\(seeded.verificationID)?wait=2 HTTP/1.1\r\nHost: heyan\r\n\r\n")
                    }
                    for connection in owners { try connection.send("GET /v1/queue?wait=2 HTTP/1.1\r\nHost: heyan\r\n\r\n") }
                    usleep(500_000)
                    // While 200 polls wait, other requests go through at once (the prober checks /healthz).
                    let catalog = try DepartmentClient(fixture.service, "hrss").get("/v1/catalog")
                    #expect(catalog.status == 200)
                    var pending = 0
                    for connection in requesters {
                        let response = try connection.readResponse()
                        if response.status == 200, response["status"] as? String == "pending" { pending += 1 }
                    }
                    var empty = 0
                    for connection in owners {
                        let response = try connection.readResponse()
                        if response.status == 200, (response["items"] as? [Any])?.isEmpty == true { empty += 1 }
                    }
                    let elapsed = monotonicSeconds() - started
                    #expect(pending == 100)
                    #expect(empty == 100)
                    #expect(elapsed >= 1.9 && elapsed < 5, "long polls took \(elapsed) s")
                }
            }
        }

        @Test func pipeliningFloodsAreBoundedByBackpressure() throws {
            let fixture = try BadInputFixture()
            try fixture.whileProbingHealth("resources: pipelining floods") {
                // 2,000 pipelined requests sent before reading any answer: all answered, in order.
                try fixture.expectNothingChanged("2,000 pipelined requests", refusals: 0) {
                    let connection = try fixture.service.connect("housing-fund")
                    var burst: [UInt8] = []
                    for index in 0..<2_000 { burst += Array("GET /healthz?n=\(index) HTTP/1.1\r\nHost: heyan\r\n\r\n".utf8) }
                    try connection.send(burst)
                    var ok = 0
                    for _ in 0..<2_000 where try connection.readResponse().status == 200 { ok += 1 }
                    #expect(ok == 2_000)
                }
                // A client that pipelines catalog requests (11 KB answers) and never reads: the server
                // stops reading when its output buffer is full, so the client's writes block and
                // memory stays bounded. 20,000 answers would be 220 MB if buffered.
                try fixture.expectNothingChanged("a flood that never reads", refusals: 0) {
                    let before = Self.residentMiB()
                    // civil-affairs has no rate limit (housing-fund's 50/s would answer the flood with
                    // cheap 429s instead of filling the output buffer).
                    let files = try fixture.service.pki.department("civil-affairs")
                    let context = try TLSClientContext(certificate: files.certificate, key: files.key, trust: fixture.service.pki.caFile)
                    let flood = try TLSClientConnection(port: fixture.service.port, context: context, timeoutSeconds: 1)
                    // 1 KiB per request, 20 MB in all: more than the kernel's socket buffers hold.
                    let pad = String(repeating: "p", count: 960)
                    let request = Array("GET /v1/catalog HTTP/1.1\r\nHost: heyan\r\nX-Pad: \(pad)\r\n\r\n".utf8)
                    var sent = 0
                    let batch = Array([[UInt8]](repeating: request, count: 100).joined())
                    while sent < 20_000 {
                        do { try flood.send(batch) } catch { break }  // blocked for 1 s: backpressure
                        sent += 100
                    }
                    let grown = Self.residentMiB() - before
                    print("bad-input pipelining flood: \(sent) requests written before the server stopped reading; RSS +\(Int(grown)) MiB")
                    #expect(sent < 20_000, "the server read 20,000 pipelined requests without stopping")
                    #expect(grown < 64, "RSS grew by \(grown) MiB")
                    // Other departments are served meanwhile.
                    #expect(try DepartmentClient(fixture.service, "hrss").get("/v1/catalog").status == 200)
                }
            }
        }
    }
}

/// Connections opened on several threads.
private final class ConnectionCollector: @unchecked Sendable {
    // @unchecked: guarded by the lock.
    private let lock = NSLock()
    private var connections: [TLSClientConnection] = []
    private var failures: [String] = []

    func add(_ connection: TLSClientConnection) { lock.withLock { connections.append(connection) } }
    func fail(_ message: String) { lock.withLock { failures.append(message) } }
    func take() -> ([TLSClientConnection], [String]) { lock.withLock { (connections, failures) } }
}
