#if canImport(Glibc)
import Glibc
#endif
import COpenSSL
import HeyanCrypto
import HeyanDomain
import HeyanTestSupport
import Synchronization
import Testing

@testable import HeyanHTTP

/// Answers with the caller's department and path; `/slow` answers 300 ms later from another
/// thread (exercising out-of-order completion and graceful stop).
struct EchoResponder: HTTPResponder {
    func respond(to request: HTTPRequest, context: RequestContext, sink: ResponseSink) {
        let body = Array("{\"department\":\"\(context.department ?? "-")\",\"path\":\"\(request.path)\",\"bytes\":\(request.body.count)}".utf8)
        if request.path == "/slow" {
            _ = try? startThread(name: "slow") {
                usleep(300_000)
                sink.send(.json(200, body))
            }
        } else {
            sink.send(.json(200, body))
        }
    }
}

/// A real HTTPServer on 127.0.0.1:0 with a PKI made for the test.
final class LoopbackServer: @unchecked Sendable {
    let pki: TestPKI
    let server: HTTPServer
    let port: Int

    init(clock: any ServiceClock = SystemClock(), configure: (inout HTTPServerSettings) -> Void = { _ in }) throws {
        pki = try TestPKI()
        var settings = HTTPServerSettings()
        settings.loopCount = 2
        configure(&settings)
        let tls = try TLSContext(files: TLSIdentityFiles(
            certificateChain: pki.serverCertificateFile, privateKey: pki.serverKeyFile, clientCA: pki.caFile, crl: pki.crlFile))
        server = HTTPServer(host: "127.0.0.1", port: 0, tls: tls, settings: settings, responder: EchoResponder(), clock: clock)
        port = try server.start()
    }

    deinit { server.shutdown(grace: 1) }

    func context(_ files: TestPKI.ClientFiles?, version: Int32? = nil) throws -> TLSClientContext {
        try TLSClientContext(certificate: files?.certificate, key: files?.key, trust: pki.caFile, version: version)
    }

    func connect(_ files: TestPKI.ClientFiles?) throws -> TLSClientConnection {
        return try TLSClientConnection(port: port, context: try context(files))
    }

    /// True when the server refused the client: the handshake failed, or (TLS 1.3, where the
    /// client finishes first) the first request got no response.
    func refuses(_ context: TLSClientContext) -> Bool {
        do {
            let connection = try TLSClientConnection(port: port, context: context)
            _ = try connection.request("GET", "/healthz")
            return false
        } catch {
            return true
        }
    }

    func reloadTLS() throws {
        server.reloadTLS(try TLSContext(files: TLSIdentityFiles(
            certificateChain: pki.serverCertificateFile, privateKey: pki.serverKeyFile, clientCA: pki.caFile, crl: pki.crlFile)))
    }
}

@Suite struct TLSServerTests {
    @Test func departmentCertificateIsAcceptedAndNamed() throws {
        let server = try LoopbackServer()
        let connection = try server.connect(try server.pki.department("housing-fund"))
        let response = try connection.request("GET", "/hello")
        #expect(response.status == 200)
        #expect(response.bodyText == #"{"department":"housing-fund","path":"/hello","bytes":0}"#)
        #expect(connection.protocolVersion == "TLSv1.3")
    }

    /// The server sends the chain its certificate file holds and nothing more, as nginx does: the
    /// test PKI's file is the leaf alone, issued by the department CA the clients trust. OpenSSL's
    /// automatic chain building used to verify the server's own certificate against the client-CA
    /// store on every handshake only to append that CA (docs/tls.md, "Server certificate chain").
    @Test func serverSendsOnlyTheConfiguredChain() throws {
        let server = try LoopbackServer()
        let connection = try server.connect(try server.pki.department("hrss"))
        #expect(connection.serverCertificatesSent == 1)
        #expect(try connection.request("GET", "/").status == 200)
    }

    @Test func clientWithoutCertificateIsRefusedAndServerKeepsServing() throws {
        let server = try LoopbackServer()
        #expect(server.refuses(try server.context(nil)))
        let good = try server.connect(try server.pki.department("hrss"))
        #expect(try good.request("GET", "/").status == 200)
        #expect(server.server.metrics.handshakesFailed.load(ordering: .relaxed) >= 1)
    }

    @Test func certificateFromAnotherCAIsRefused() throws {
        let server = try LoopbackServer()
        let foreign = try TestPKI.foreignAuthority()
        let files = try server.pki.issue(.department(code: "housing-fund"), name: "foreign", issuer: foreign)
        #expect(server.refuses(try server.context(files)))
        #expect(try server.connect(try server.pki.department("hrss")).request("GET", "/").status == 200)
    }

    @Test func expiredAndNotYetValidCertificatesAreRefused() throws {
        let server = try LoopbackServer()
        let now = Int64(time(nil))
        let expired = try server.pki.issue(
            .department(code: "housing-fund", notBefore: now - 10 * 86_400, notAfter: now - 86_400), name: "expired")
        let future = try server.pki.issue(
            .department(code: "housing-fund", notBefore: now + 86_400, notAfter: now + 10 * 86_400), name: "future")
        #expect(server.refuses(try server.context(expired)))
        #expect(server.refuses(try server.context(future)))
        #expect(try server.connect(try server.pki.department("hrss")).request("GET", "/").status == 200)
    }

    @Test func serverAuthOnlyCertificateIsRefusedAsClient() throws {
        let server = try LoopbackServer()
        var spec = CertificateSpec.department(code: "housing-fund")
        spec.extendedKeyUsage = [.serverAuth]
        let files = try server.pki.issue(spec, name: "server-eku")
        #expect(server.refuses(try server.context(files)))
    }

    @Test func revokedCertificateIsRefusedAfterReloadWhileOpenConnectionsContinue() throws {
        let server = try LoopbackServer()
        let files = try server.pki.department("civil-affairs")
        let open = try server.connect(files)
        #expect(try open.request("GET", "/before").status == 200)
        try server.pki.revoke(files.certificate)
        try server.reloadTLS()
        #expect(server.refuses(try server.context(files)))
        // The connection made before the reload is not dropped.
        #expect(try open.request("GET", "/after").status == 200)
        #expect(try server.connect(try server.pki.department("hrss")).request("GET", "/").status == 200)
    }

    @Test func revokedCertificateInInitialCRLIsRefused() throws {
        let pki = try TestPKI()
        let files = try pki.department("hrss")
        try pki.revoke(files.certificate)
        let tls = try TLSContext(files: TLSIdentityFiles(
            certificateChain: pki.serverCertificateFile, privateKey: pki.serverKeyFile, clientCA: pki.caFile, crl: pki.crlFile))
        let server = HTTPServer(host: "127.0.0.1", port: 0, tls: tls, settings: HTTPServerSettings(), responder: EchoResponder())
        let port = try server.start()
        defer { server.shutdown(grace: 1) }
        let context = try TLSClientContext(certificate: files.certificate, key: files.key, trust: pki.caFile)
        #expect(throws: (any Error).self) {
            let connection = try TLSClientConnection(port: port, context: context)
            _ = try connection.request("GET", "/")
        }
    }

    @Test func tls11IsRefusedAtTheHandshake() throws {
        let server = try LoopbackServer()
        let context = try server.context(try server.pki.department("hrss"), version: TLS1_1_VERSION)
        #expect(throws: (any Error).self) { _ = try TLSClientConnection(port: server.port, context: context) }
        #expect(try server.connect(try server.pki.department("hrss")).request("GET", "/").status == 200)
    }

    @Test func plaintextHTTPOnTheTLSPortGetsNoHTTPResponse() throws {
        let server = try LoopbackServer()
        let reply = try RawTCP.exchange(port: server.port, Array("GET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n".utf8))
        #expect(!String(decoding: reply, as: UTF8.self).contains("HTTP/1.1"))
        #expect(try server.connect(try server.pki.department("hrss")).request("GET", "/").status == 200)
    }

    @Test func tenThousandRequestsOnOneKeepAliveConnection() throws {
        let server = try LoopbackServer()
        let connection = try server.connect(try server.pki.department("hrss"))
        var ok = 0
        for index in 0..<10_000 where try connection.request("GET", "/r\(index)").status == 200 { ok += 1 }
        #expect(ok == 10_000)
        #expect(server.server.metrics.connectionsAccepted.load(ordering: .relaxed) == 1)
    }

    @Test func twoHundredConcurrentConnections() throws {
        let server = try LoopbackServer()
        let context = try server.context(try server.pki.department("hrss"))
        let connections = try (0..<200).map { _ in try TLSClientConnection(port: server.port, context: context) }
        #expect(server.server.metrics.connectionsOpen.load(ordering: .relaxed) == 200)
        // Send on every connection first, then read every answer: all 200 are open at once.
        for (index, connection) in connections.enumerated() {
            try connection.send("GET /c\(index) HTTP/1.1\r\nHost: localhost\r\n\r\n")
        }
        var ok = 0
        for (index, connection) in connections.enumerated() {
            let response = try connection.readResponse()
            if response.status == 200 && response.bodyText.contains("/c\(index)\"") { ok += 1 }
        }
        #expect(ok == 200)
    }

    @Test func pipelinedRequestsAreAnsweredInOrderEvenWhenTheFirstIsSlow() throws {
        let server = try LoopbackServer()
        let connection = try server.connect(try server.pki.department("hrss"))
        try connection.send(
            "GET /slow HTTP/1.1\r\nHost: a\r\n\r\nGET /second HTTP/1.1\r\nHost: a\r\n\r\nPOST /third HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n\r\nabc")
        let first = try connection.readResponse()
        let second = try connection.readResponse()
        let third = try connection.readResponse()
        #expect(first.bodyText.contains("/slow"))
        #expect(second.bodyText.contains("/second"))
        #expect(third.bodyText.contains(#""path":"/third","bytes":3"#))
    }

    @Test func malformedRequestGetsProblemAndClose() throws {
        let server = try LoopbackServer()
        let connection = try server.connect(try server.pki.department("hrss"))
        try connection.send("GET /x HTTP/1.1\r\nHost: a\r\nContent-Length: -5\r\n\r\n")
        let response = try connection.readResponse()
        #expect(response.status == 400)
        #expect(response.headers["Content-Type"] == "application/problem+json")
        #expect(response.headers["Connection"]?.lowercased() == "close")
        #expect(response.bodyText.contains("\"status\":400"))
        #expect(connection.readToEnd().isEmpty)
    }

    @Test func http10ConnectionIsClosedAfterTheResponse() throws {
        let server = try LoopbackServer()
        let connection = try server.connect(try server.pki.department("hrss"))
        try connection.send("GET /old HTTP/1.0\r\n\r\n")
        #expect(try connection.readResponse().status == 200)
        #expect(connection.readToEnd().isEmpty)
    }

    @Test func expectContinueGetsInterimResponse() throws {
        let server = try LoopbackServer()
        let connection = try server.connect(try server.pki.department("hrss"))
        try connection.send("POST /upload HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n")
        var interim = [UInt8]()
        let expected = Array("HTTP/1.1 100 Continue\r\n\r\n".utf8)
        // A rare failure here in loaded full-suite runs (no 100 Continue within the client's 10 s)
        // is not understood yet; record the server's view when it happens.
        let t0 = monotonicSeconds()
        do {
            while interim.count < expected.count { interim += try connection.readRaw(expected.count - interim.count) }
        } catch {
            let m = server.server.metrics
            Issue.record("no 100 Continue after \(monotonicSeconds() - t0)s interim=\(interim) accepted=\(m.connectionsAccepted.load(ordering: .relaxed)) open=\(m.connectionsOpen.load(ordering: .relaxed)) hs=\(m.handshakesCompleted.load(ordering: .relaxed)) hsFailed=\(m.handshakesFailed.load(ordering: .relaxed)) parse=\(m.parseErrors.load(ordering: .relaxed)) reqTimeout=\(m.requestsTimedOut.load(ordering: .relaxed)) stalls=\(m.stallsRecovered.load(ordering: .relaxed)) proto=\(connection.protocolVersion)")
            let probe = (try? server.connect(try server.pki.department("hrss")).request("GET", "/probe").status) ?? -1
            let again = (try? connection.readRaw(1)) ?? []
            Issue.record("after the failure: a new connection got \(probe); the stalled one then read \(again)")
            throw error
        }
        #expect(interim == expected)
        let recovered = server.server.metrics.stallsRecovered.load(ordering: .relaxed)
        if recovered > 0 { print("100-continue: the tick recovered \(recovered) stalled connection(s)") }
        try connection.send("hello")
        let response = try connection.readResponse()
        #expect(response.bodyText.contains(#""bytes":5"#))
    }

    @Test func sessionResumptionKeepsTheDepartment() throws {
        let server = try LoopbackServer()
        let context = try server.context(try server.pki.department("housing-fund"))
        let first = try TLSClientConnection(port: server.port, context: context)
        #expect(try first.request("GET", "/one").status == 200)
        first.saveSession()
        let second = try TLSClientConnection(port: server.port, context: context, resume: first.session)
        let response = try second.request("GET", "/two")
        #expect(second.isResumed)
        #expect(response.bodyText.contains("housing-fund"))
        #expect(server.server.metrics.handshakesResumed.load(ordering: .relaxed) == 1)
    }

    @Test func slowlorisGets408AtTheRequestTimeout() throws {
        let server = try LoopbackServer { $0.requestTimeout = 700_000_000 }
        let connection = try server.connect(try server.pki.department("hrss"))
        let started = monotonicSeconds()
        try connection.send("GET /slow-headers HTTP/1.1\r\nHost: a\r\n")
        let response = try connection.readResponse()
        #expect(response.status == 408)
        #expect(monotonicSeconds() - started < 3)
    }

    /// Time is the server's manual clock: the connection times out when the test moves the clock
    /// past the idle timeout (seen at the loop's next tick), not after sleeping through it.
    @Test func idleConnectionIsClosedAtTheIdleTimeout() throws {
        let clock = ManualClock()
        let server = try LoopbackServer(clock: clock) { $0.idleTimeout = 500_000_000 }
        let connection = try server.connect(try server.pki.department("hrss"))
        #expect(try connection.request("GET", "/").status == 200)
        let open = { server.server.metrics.connectionsOpen.load(ordering: .relaxed) }
        // Each `!eventually(within: 0.3)` spans a loop tick (every 250 ms of real time): the first
        // also lets the server finish the response before the clock moves.
        #expect(!eventually(within: 0.3) { open() == 0 })
        clock.advance(seconds: 0.4)  // idle for 0.4 s: still open
        #expect(!eventually(within: 0.3) { open() == 0 })
        clock.advance(seconds: 0.2)
        #expect(eventually { open() == 0 })
        #expect(connection.readToEnd().isEmpty)
    }

    @Test func handshakeTimeoutClosesSilentConnections() throws {
        let clock = ManualClock()
        let server = try LoopbackServer(clock: clock) { $0.handshakeTimeout = 400_000_000 }
        let fd = try RawTCP.connect(port: server.port)
        defer { close(fd) }
        let metrics = server.server.metrics
        #expect(eventually { metrics.connectionsOpen.load(ordering: .relaxed) == 1 })  // accepted
        #expect(!eventually(within: 0.3) { metrics.handshakesTimedOut.load(ordering: .relaxed) == 1 })
        clock.advance(seconds: 0.3)
        #expect(!eventually(within: 0.3) { metrics.handshakesTimedOut.load(ordering: .relaxed) == 1 })
        clock.advance(seconds: 0.2)
        #expect(eventually { metrics.handshakesTimedOut.load(ordering: .relaxed) == 1 })
        #expect(eventually { metrics.connectionsOpen.load(ordering: .relaxed) == 0 })
    }

    @Test func gracefulShutdownFinishesInFlightRequests() throws {
        let server = try LoopbackServer()
        let files = try server.pki.department("hrss")
        let connection = try server.connect(files)
        let idle = try server.connect(files)
        #expect(try idle.request("GET", "/").status == 200)
        try connection.send("GET /slow HTTP/1.1\r\nHost: a\r\n\r\n")
        usleep(50_000)
        let stopped = Atomic<Bool>(false)
        _ = try startThread(name: "stopper") {
            server.server.shutdown(grace: 5)
            stopped.store(true, ordering: .releasing)
        }
        let response = try connection.readResponse()
        #expect(response.status == 200)
        #expect(response.headers["Connection"]?.lowercased() == "close")
        while !stopped.load(ordering: .acquiring) { usleep(1_000) }
        #expect(server.refuses(try server.context(files)))
    }
}

extension TLSClientConnection {
    /// Reads up to `count` raw bytes (for interim responses).
    func readRaw(_ count: Int) throws -> [UInt8] {
        var chunk = [UInt8](repeating: 0, count: count)
        let read = try chunk.withUnsafeMutableBytes { raw -> Int in
            try readSome(into: raw)
        }
        return Array(chunk[0..<read])
    }
}
