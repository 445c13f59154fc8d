import HeyanTestSupport
import Testing

@testable import HeyanHTTP

/// testssl.sh (Debian `testssl.sh`, installed by `make deps`) against a live server with heyan's
/// TLS context: protocols, cipher categories and vulnerabilities, judged by
/// Tests/Scripts/testssl/check.py from testssl's JSON findings (docs/tls.md).
@Suite struct TestsslTests {
    static let checker = packageRoot() + "/Tests/Scripts/testssl/check.py"

    @Test func tlsProfilePassesTestssl() throws {
        let server = try LoopbackServer()
        let result = try Subprocess.run(["python3", Self.checker, "127.0.0.1:\(server.port)"], timeout: 600)
        #expect(result.status == 0, "testssl.sh:\n\(result.stdout)\(result.stderr)")
        #expect(result.stdout.contains("testssl.sh profile: passed"))
    }

    /// The judgement itself: the findings testssl.sh reported before TLS 1.2 was limited to AEAD
    /// suites (CBC suites offered, LUCKY13) fail.
    @Test func checkerFailsTheRecordedCBCProfile() throws {
        let recorded = packageRoot() + "/Tests/Scripts/testssl/findings-before-cbc.json"
        let result = try Subprocess.run(["python3", Self.checker, "--evaluate", recorded])
        #expect(result.status == 1)
        #expect(result.stdout.contains("FAIL cipherlist_AVERAGE [LOW] offered"))
        #expect(result.stdout.contains("FAIL LUCKY13 [LOW] potentially vulnerable"))
    }

    /// heyan's TLS 1.2 list names exactly the ECDHE + AEAD suites, as OpenSSL expands it.
    @Test func tls12CipherListIsECDHEWithAEADOnly() throws {
        let result = try Subprocess.run(["openssl", "ciphers", "-tls1_2", "-s", TLSContext.tls12Ciphers])
        let names = result.stdout.trimmingSpaces().split(separator: ":").map(String.init)
        #expect(result.status == 0)
        #expect(names.count == 6)
        for name in names {
            #expect(name.hasPrefix("ECDHE-"), "\(name) is not ECDHE")
            #expect(name.contains("-GCM-") || name.hasSuffix("CHACHA20-POLY1305"), "\(name) is not AEAD")
        }
    }
}
