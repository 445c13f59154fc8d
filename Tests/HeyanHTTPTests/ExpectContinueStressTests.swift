#if canImport(Glibc)
import Glibc
#endif
import HeyanTestSupport
import Synchronization
import Testing

@testable import HeyanHTTP

/// The `Expect: 100-continue` exchange of `TLSServerTests.expectContinueGetsInterimResponse`, many
/// times over, on fresh connections, while other clients keep the loops busy (docs/connections.md,
/// "The 100-continue stall"). `HEYAN_CONTINUE_ITERATIONS` sets the count (100 in `make test`,
/// 1,000 in `make stress-continue`).
@Suite struct ExpectContinueStressTests {
    static var iterations: Int { getenv("HEYAN_CONTINUE_ITERATIONS").flatMap { Int(String(cString: $0)) } ?? 100 }

    @Test func interimResponseArrivesOnEveryConnectionUnderLoad() throws {
        let server = try LoopbackServer()
        let context = try server.context(try server.pki.department("hrss"))
        let total = Self.iterations
        let workers = 4
        let next = Atomic<Int>(0)
        let done = Atomic<Int>(0)
        let stopLoad = Atomic<Bool>(false)
        let failures = Mutex<[String]>([])
        let slowest = Mutex<Double>(0)

        // Background load: keep-alive clients pipelining small requests as fast as they are answered.
        for index in 0..<4 {
            _ = try startThread(name: "load-\(index)") {
                guard let connection = try? TLSClientConnection(port: server.port, context: context) else { return }
                while !stopLoad.load(ordering: .relaxed) {
                    guard (try? connection.send("GET /load HTTP/1.1\r\nHost: a\r\n\r\nGET /load HTTP/1.1\r\nHost: a\r\n\r\n")) != nil,
                        (try? connection.readResponse()) != nil, (try? connection.readResponse()) != nil
                    else { return }
                }
            }
        }
        defer { stopLoad.store(true, ordering: .relaxed) }

        let expected = Array("HTTP/1.1 100 Continue\r\n\r\n".utf8)
        for index in 0..<workers {
            _ = try startThread(name: "continue-\(index)") {
                defer { done.add(1, ordering: .releasing) }
                while true {
                    let iteration = next.add(1, ordering: .relaxed).oldValue
                    if iteration >= total { return }
                    let started = monotonicSeconds()
                    var stage = "connect"
                    var interim: [UInt8] = []
                    do {
                        let connection = try TLSClientConnection(port: server.port, context: context, timeoutSeconds: 5)
                        stage = "interim"
                        try connection.send("POST /upload-\(iteration) HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n")
                        while interim.count < expected.count { interim += try connection.readRaw(expected.count - interim.count) }
                        guard interim == expected else { throw TestFailure("interim response \(interim)") }
                        let waited = monotonicSeconds() - started
                        slowest.withLock { $0 = max($0, waited) }
                        stage = "response"
                        try connection.send("hello")
                        let response = try connection.readResponse()
                        guard response.status == 200, response.bodyText.contains(#""bytes":5"#) else {
                            throw TestFailure("response \(response.status) \(response.bodyText)")
                        }
                    } catch {
                        let waited = monotonicSeconds() - started
                        failures.withLock {
                            $0.append("iteration \(iteration): \(stage) failed after \(waited) s (interim \(interim.count) bytes): \(error)")
                        }
                    }
                }
            }
        }
        while done.load(ordering: .acquiring) < workers { usleep(10_000) }
        let found = failures.withLock { $0 }
        let m = server.server.metrics
        print("100-continue stress: \(total) exchanges, \(found.count) failed, slowest interim \(slowest.withLock { $0 }) s, stallsRecovered \(m.stallsRecovered.load(ordering: .relaxed))")
        #expect(found.isEmpty, "\(found.count) of \(total) exchanges failed:\n\(found.prefix(10).joined(separator: "\n"))")
    }
}
