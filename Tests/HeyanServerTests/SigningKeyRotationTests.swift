#if canImport(Glibc)
import Glibc
#endif
import Foundation
import HeyanCrypto
import HeyanHTTP
import HeyanTestSupport
import Testing

/// Issue 10 finding 6: `kid`, the published key set, and rotating the signing key with SIGHUP —
/// with the real `heyan serve` process, checked by outside verifiers (Python `cryptography` +
/// `joserfc`, José's `jose jws ver`) and by `heyan attestation verify`, offline and `--online`.
@Suite struct SigningKeyRotationTests {
    static let binary = packageRoot() + "/.build/debug/heyan"

    /// `heyan serve` on a free port; the port once it listens.
    final class Server: @unchecked Sendable {
        let process: Subprocess
        let port: Int

        init(config: String, database: String) throws {
            process = try Subprocess([SigningKeyRotationTests.binary, "serve", "--config", config, "--database", database])
            let line = try #require(Self.waitForLine(process, containing: #""event":"listening""#))
            let portText = try #require(line.split(separator: ",").first { $0.contains(#""port":"#) })
            port = try #require(Int(portText.split(separator: ":").last!.filter(\.isNumber)))
        }

        static func waitForLine(_ process: Subprocess, containing text: String, timeout: Double = 20) -> String? {
            process.waitForLine(containing: text, timeout: timeout)
        }

        func stop() {
            process.signal(SIGTERM)
            _ = process.wait(timeout: 20)
        }
    }

    /// The protected header of a compact JWS, decoded.
    static func header(_ jws: String) throws -> [String: Any] {
        let part = String(jws.split(separator: ".")[0])
        let bytes = try #require(Base64URL.decode(part))
        return try #require(try JSONSerialization.jsonObject(with: Data(bytes)) as? [String: Any])
    }

    /// A data-sharing verification answered at once: its attestation's JWS.
    static func signedAttestation(_ connection: TLSClientConnection, subject: String) throws -> String {
        let response = try connection.request(
            "POST", "/v1/verifications", headers: [("Content-Type", "application/json")],
            body: Array(
                TestSubjects.verificationBody(
                    type: "PSB-NO-CRIMINAL-RECORD", matter: "HR-RECRUIT-001", subject: subject,
                    claims: #"{"hasCriminalRecord":false}"#, purpose: "招聘"
                ).utf8))
        #expect(response.status == 201)
        let attestation = try #require(response["attestation"] as? [String: Any])
        return try #require(attestation["jws"] as? String)
    }

    @Test func signRotateWithSIGHUPSignBothVerifyEverywhere() throws {
        let pki = try TestPKI()
        let directory = TemporaryDirectory()
        let root = packageRoot()
        try writeFile(directory.file("departments.json"), try readFile("\(root)/config/departments.json"))
        try writeFile(directory.file("catalog.json"), try readFile("\(root)/config/catalog.json"))
        try directory.write("heyan.json", RunningService.configuration(pki: pki))
        let database = directory.file("db/heyan.sqlite")
        var server = try Server(config: directory.file("heyan.json"), database: database)
        defer { server.process.signal(SIGKILL) }

        let hrssFiles = try pki.department("hrss")
        let policeFiles = try pki.department("public-security")
        func connect(_ files: TestPKI.ClientFiles) throws -> TLSClientConnection {
            try TLSClientConnection(
                port: server.port,
                context: try TLSClientContext(certificate: files.certificate, key: files.key, trust: pki.caFile))
        }
        let subject = TestSubjects.residentID(77)
        #expect(
            try connect(policeFiles).request(
                "PUT", "/v1/records/PSB-NO-CRIMINAL-RECORD/\(subject)", headers: [("Content-Type", "application/json")],
                body: Array(#"{"claims":{"hasCriminalRecord":false}}"#.utf8)
            ).status == 201)

        // 1. Sign with the first key: the header names it by its RFC 7638 thumbprint.
        let before = try Self.signedAttestation(try connect(hrssFiles), subject: subject)
        let firstKey = try #require(try Self.header(before)["kid"] as? String)
        let firstCertificate = try Certificate.loadChain(pemFile: pki.signingCertificateFile)[0]
        #expect(firstKey == (try JSONWebKey(certificate: firstCertificate)).thumbprint)
        let firstSet = try connect(hrssFiles).request("GET", "/.well-known/jwks.json")
        #expect(firstSet.status == 200)
        #expect(firstSet.headers["Content-Type"] == "application/jwk-set+json")
        #expect(((firstSet["keys"] as? [[String: Any]]) ?? []).compactMap { $0["kid"] as? String } == [firstKey])

        // 2. Rotate: the operator replaces the key and certificate files and sends SIGHUP.
        try pki.issue(.attestationSigner(), name: "signing")
        server.process.signal(SIGHUP)
        let reloaded = try #require(Server.waitForLine(server.process, containing: #""event":"signing-key-reloaded""#))
        #expect(reloaded.contains(firstKey))

        // 3. Sign with the new key.
        let after = try Self.signedAttestation(try connect(hrssFiles), subject: subject)
        let secondKey = try #require(try Self.header(after)["kid"] as? String)
        #expect(secondKey != firstKey)
        #expect(secondKey == (try JSONWebKey(certificate: try Certificate.loadChain(pemFile: pki.signingCertificateFile)[0])).thumbprint)

        // The key set now holds both, the current key first, each with its certificate chain.
        let keySet = try connect(hrssFiles).request("GET", "/.well-known/jwks.json")
        let keys = try #require(keySet["keys"] as? [[String: Any]])
        #expect(keys.compactMap { $0["kid"] as? String } == [secondKey, firstKey])
        for key in keys {
            #expect(key["use"] as? String == "sig")
            #expect(key["alg"] as? String == "ES256")
            #expect((key["x5c"] as? [String])?.count == 2)
        }
        let jwksFile = try directory.write(keySet.body, to: "jwks.json")
        // The answer is what schemas/openapi.yaml documents.
        let exchange = RecordedExchange(
            method: "GET", path: "/.well-known/jwks.json", status: 200,
            contentType: keySet.headers["Content-Type"] ?? "", body: keySet.bodyText)
        #expect(try OpenAPIConformance.check([exchange]) == [])

        // Python cryptography + joserfc: by x5c, and by kid from the key set.
        for verdict in try PythonAttestationVerifier.verify([before, after], caFile: pki.caFile) {
            #expect(verdict.ok, "\(verdict.error ?? "")")
        }
        for verdict in try PythonAttestationVerifier.verify([before, after], caFile: pki.caFile, jwksFile: jwksFile) {
            #expect(verdict.ok, "\(verdict.error ?? "")")
        }
        // A key set without the old key cannot verify the old attestation (the check can fail).
        let newestOnly = try directory.write(
            try JSONSerialization.data(withJSONObject: ["keys": [keys[0]]]).map { $0 }, to: "jwks-newest.json")
        let missing = try PythonAttestationVerifier.verify([before], caFile: pki.caFile, jwksFile: newestOnly)
        #expect(missing.first?.failedStage == "key")

        // José: each JWKS entry as a JWK file; its thumbprint is the kid; `jose jws ver` verifies.
        for (jws, kid, other) in [(before, firstKey, secondKey), (after, secondKey, firstKey)] {
            let token = try directory.write(jws, to: "token-\(kid).jws")
            func jwkFile(_ kid: String) throws -> String {
                let entry = try #require(keys.first { $0["kid"] as? String == kid })
                return try directory.write(try JSONSerialization.data(withJSONObject: entry).map { $0 }, to: "jwk-\(kid).json")
            }
            let thumbprint = try Subprocess.run(["jose", "jwk", "thp", "-i", try jwkFile(kid)])
            #expect(thumbprint.status == 0, "\(thumbprint.stderr)")
            #expect(thumbprint.stdout.trimmingCharacters(in: .whitespacesAndNewlines) == kid)
            let verified = try Subprocess.run(["jose", "jws", "ver", "-i", token, "-k", try jwkFile(kid), "-O", "-"])
            #expect(verified.status == 0, "jose jws ver: \(verified.stderr)")
            #expect(verified.stdout.contains("\"iss\":\"urn:heyan:service\""))
            let wrongKey = try Subprocess.run(["jose", "jws", "ver", "-i", token, "-k", try jwkFile(other), "-O", "-"])
            #expect(wrongKey.status != 0, "José must refuse the other key")
        }

        // heyan attestation verify: offline with the CA, and --online (status and key set).
        for jws in [before, after] {
            let token = try directory.write(jws, to: "attestation.jws")
            let offline = try Subprocess.run([Self.binary, "attestation", "verify", token, "--trust", pki.caFile])
            #expect(offline.status == 0, "\(offline.stderr)")
            let online = try Subprocess.run([
                Self.binary, "attestation", "verify", token, "--trust", pki.caFile,
                "--online", "https://127.0.0.1:\(server.port)", "--cert", hrssFiles.certificate, "--key", hrssFiles.key,
            ])
            #expect(online.status == 0, "\(online.stderr)")
            #expect(online.stdout.contains("/.well-known/jwks.json"))
        }

        // 4. After a restart with only the new key configured, the old key is still published:
        //    the database keeps every key's certificate chain.
        server.stop()
        server = try Server(config: directory.file("heyan.json"), database: database)
        let restarted = try connect(hrssFiles).request("GET", "/.well-known/jwks.json")
        #expect(((restarted["keys"] as? [[String: Any]]) ?? []).compactMap { $0["kid"] as? String } == [secondKey, firstKey])
        let token = try directory.write(before, to: "attestation.jws")
        let online = try Subprocess.run([
            Self.binary, "attestation", "verify", token, "--trust", pki.caFile,
            "--online", "https://127.0.0.1:\(server.port)", "--cert", hrssFiles.certificate, "--key", hrssFiles.key,
        ])
        #expect(online.status == 0, "\(online.stderr)")
        server.stop()
    }

    /// A reload whose new key does not match its certificate keeps the old key and says why.
    @Test func aBrokenRotationKeepsTheCurrentKey() throws {
        let service = try RunningService()
        let before = service.runtime.signingKeyID
        let stranger = try PrivateKey.generate(.ecP256)
        try stranger.write(toFile: service.pki.signingKeyFile)
        service.runtime.reload()
        #expect(service.runtime.signingKeyID == before)
        #expect(try service.logLines().contains { $0.contains(#""event":"signing-key-reload-failed""#) })
        let hrss = try service.connect("hrss")
        let keys = try hrss.request("GET", "/.well-known/jwks.json")["keys"] as? [[String: Any]]
        #expect(keys?.compactMap { $0["kid"] as? String } == [before])
    }
}
