#if canImport(Glibc)
import Glibc
#endif
import COpenSSL
import HeyanCrypto
import HeyanHTTP
import HeyanTestSupport
import Testing

extension BadInputMatrix {
    /// Client certificates and protocol versions the service must refuse at the handshake (or, for a
    /// valid certificate naming no known department, with 403 on every route).
    @Suite(.serialized) struct BadInputTLSTests {
        static let now = Int64(time(nil))

        /// `heyan_tls_handshakes_failed_total` from `/metrics`.
        func failedHandshakes(_ fixture: BadInputFixture) throws -> Int {
            let metrics = try fixture.service.connect("data-office").request("GET", "/metrics").bodyText
            let line = metrics.split(separator: "\n").first { $0.hasPrefix("heyan_tls_handshakes_failed_total ") }
            return Int(line?.split(separator: " ").last ?? "") ?? -1
        }

        /// True when the server refused: the handshake failed, or (TLS 1.3, where the client finishes
        /// first) the first request got no response.
        func refused(_ fixture: BadInputFixture, _ context: TLSClientContext) -> Bool {
            do {
                let connection = try TLSClientConnection(port: fixture.service.port, context: context, timeoutSeconds: 5)
                _ = try connection.request("GET", "/healthz")
                return false
            } catch {
                return true
            }
        }

        func context(_ fixture: BadInputFixture, _ files: TestPKI.ClientFiles?, version: Int32? = nil) throws -> TLSClientContext {
            try TLSClientContext(certificate: files?.certificate, key: files?.key, trust: fixture.service.pki.caFile, version: version)
        }

        @Test func badClientsAreRefusedAtTheHandshakeAndTheServiceStaysHealthy() throws {
            let fixture = try BadInputFixture()
            let pki = fixture.service.pki
            let foreign = try TestPKI.foreignAuthority()
            let day: Int64 = 86_400
            var rogueCA = CertificateSpec.authority(commonName: "rogue intermediate")
            rogueCA.keyUsage = [.digitalSignature, .keyCertSign]
            rogueCA.extendedKeyUsage = [.clientAuth]
            rogueCA.uris = [CertificateSpec.departmentURI("hrss")]
            var twoDepartments = CertificateSpec.department(code: "hrss")
            twoDepartments.uris = [CertificateSpec.departmentURI("hrss"), CertificateSpec.departmentURI("audit-office")]
            var serverOnly = CertificateSpec.department(code: "hrss")
            serverOnly.extendedKeyUsage = [.serverAuth]
            let caItself = TestPKI.ClientFiles.pair(certificate: pki.caFile, key: pki.directory.file("ca.key"))
            let revoked = try pki.issue(.department(code: "hrss"), name: "revoked")
            try pki.revoke(revoked.certificate)
            fixture.service.runtime.reloadTLS()
            let hrss = try pki.department("hrss")

            let handshakeFailures: [(String, TLSClientContext)] = [
                ("no certificate", try context(fixture, nil)),
                ("another CA", try context(fixture, try pki.issue(.department(code: "hrss"), name: "foreign", issuer: foreign))),
                ("self-signed department", try context(fixture, try pki.issue(
                    .department(code: "hrss"), name: "self-signed", issuer: try selfSigned()))),
                ("expired", try context(fixture, try pki.issue(
                    .department(code: "hrss", notBefore: Self.now - 10 * day, notAfter: Self.now - day), name: "expired"))),
                ("not yet valid", try context(fixture, try pki.issue(
                    .department(code: "hrss", notBefore: Self.now + day, notAfter: Self.now + 10 * day), name: "future"))),
                ("revoked", try context(fixture, revoked)),
                ("serverAuth-only EKU", try context(fixture, try pki.issue(serverOnly, name: "server-only"))),
                ("CA certificate with a department URI and clientAuth", try context(fixture, try pki.issue(rogueCA, name: "rogue-ca"))),
                ("the department CA's own certificate", try context(fixture, caItself)),
                ("TLS 1.0", try context(fixture, hrss, version: TLS1_VERSION)),
                ("TLS 1.1", try context(fixture, hrss, version: TLS1_1_VERSION)),
            ]
            try fixture.whileProbingHealth("TLS") {
                for (name, clientContext) in handshakeFailures {
                    let failedBefore = try failedHandshakes(fixture)
                    try fixture.expectNothingChanged(name, refusals: 0) {
                        #expect(refused(fixture, clientContext), "\(name) was accepted")
                    }
                    #expect(try failedHandshakes(fixture) == failedBefore + 1, "\(name): not counted as a failed handshake")
                }
                // A valid certificate that names no known department: TLS succeeds, every route is 403.
                let nameless: [(String, TestPKI.ClientFiles)] = [
                    ("certificate of an unknown department", try pki.department("ministry-of-magic")),
                    ("certificate without a department URI (the signing certificate)",
                     TestPKI.ClientFiles.pair(certificate: pki.signingCertificateFile, key: pki.signingKeyFile)),
                    ("certificate naming two departments", try pki.issue(twoDepartments, name: "two-departments")),
                ]
                for (name, files) in nameless {
                    for target in ["/healthz", "/v1/catalog", "/v1/audit"] {
                        try fixture.expectNothingChanged("\(name) \(target)", refusals: 1) {
                            let response = try fixture.service.connect(files: files).request("GET", target)
                            #expect(response.status == 403, "\(name) \(target): \(response.status)")
                        }
                    }
                }
                // TLS 1.2 renegotiation started by the client is refused; the connection is not
                // re-authenticated and the service keeps serving.
                try fixture.expectNothingChanged("client-initiated renegotiation", refusals: 0) {
                    let outcome = try renegotiate(port: fixture.service.port, files: hrss, trust: pki.caFile)
                    #expect(outcome.firstRequestOK)
                    #expect(!outcome.renegotiated, "the server renegotiated")
                }
                // Plaintext and garbage on the TLS port get no HTTP answer.
                for (name, bytes) in [
                    ("plaintext HTTP", Array("GET /healthz HTTP/1.1\r\nHost: heyan\r\n\r\n".utf8)),
                    ("random bytes", (0..<512).map { UInt8(truncatingIfNeeded: $0 &* 7919) }),
                    ("SSLv2 ClientHello", [0x80, 0x2E, 0x01, 0x00, 0x02, 0x00, 0x15, 0x00, 0x00, 0x00, 0x10] + [UInt8](repeating: 1, count: 37)),
                ] {
                    try fixture.expectNothingChanged(name, refusals: 0) {
                        let reply = try RawTCP.exchange(port: fixture.service.port, bytes, timeoutSeconds: 3)
                        #expect(!String(decoding: reply, as: UTF8.self).contains("HTTP/1."), "\(name) got an HTTP answer")
                    }
                }
            }
            #expect(fixture.cases >= 20)
        }

        /// A self-signed "CA" nobody trusts.
        func selfSigned() throws -> TestPKI.Identity {
            let key = try PrivateKey.generate(.ecP256)
            return (try CertificateIssuer.issue(.authority(commonName: "hrss"), subjectKey: key, issuer: nil), key)
        }
    }
}

/// Connects with TLS 1.2, makes one request, then asks to renegotiate (RFC 5746) and reports
/// whether the new handshake completed.
func renegotiate(port: Int, files: TestPKI.ClientFiles, trust: String) throws -> (firstRequestOK: Bool, renegotiated: Bool) {
    guard let context = SSL_CTX_new(TLS_client_method()) else { throw TestFailure("SSL_CTX_new") }
    defer { SSL_CTX_free(context) }
    _ = heyan_SSL_CTX_set_min_proto_version(context, TLS1_2_VERSION)
    _ = heyan_SSL_CTX_set_max_proto_version(context, TLS1_2_VERSION)
    guard SSL_CTX_use_certificate_file(context, files.certificate, SSL_FILETYPE_PEM) == 1,
        SSL_CTX_use_PrivateKey_file(context, files.key, SSL_FILETYPE_PEM) == 1,
        SSL_CTX_load_verify_locations(context, trust, nil) == 1
    else { throw TestFailure("client identity") }
    let fd = try RawTCP.connect(port: port)
    defer { close(fd) }
    var timeout = timeval(tv_sec: 5, tv_usec: 0)
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
    guard let ssl = SSL_new(context) else { throw TestFailure("SSL_new") }
    defer { SSL_free(ssl) }
    SSL_set_fd(ssl, fd)
    guard SSL_connect(ssl) == 1 else { throw TestFailure("TLS 1.2 handshake failed") }
    func get() -> Bool {
        let request = Array("GET /healthz HTTP/1.1\r\nHost: heyan\r\n\r\n".utf8)
        guard request.withUnsafeBytes({ SSL_write(ssl, $0.baseAddress, Int32($0.count)) }) > 0 else { return false }
        var reply = [UInt8](repeating: 0, count: 4096)
        let count = reply.withUnsafeMutableBytes { SSL_read(ssl, $0.baseAddress, Int32($0.count)) }
        return count > 0 && String(decoding: reply[0..<Int(count)], as: UTF8.self).hasPrefix("HTTP/1.1 200")
    }
    let first = get()
    var renegotiated = false
    if SSL_renegotiate(ssl) == 1 {
        // The new handshake runs inside the next exchange; it must not complete.
        let handshake = SSL_do_handshake(ssl)
        renegotiated = handshake == 1 && SSL_renegotiate_pending(ssl) == 0
    }
    ERR_clear_error()
    return (first, renegotiated)
}
