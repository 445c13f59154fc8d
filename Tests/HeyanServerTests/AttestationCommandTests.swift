import Foundation
import HeyanCrypto
import HeyanDomain
import HeyanHTTP
import HeyanTestSupport
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// `heyan attestation verify` as a real process on attestations signed with a test PKI's signing
/// key, and Python's joserfc + cryptography on the same tokens.
@Suite struct AttestationCommandTests {
    static let binary = packageRoot() + "/.build/debug/heyan"
    static let attestationID = "att_01JD5Z8M3Q4R6S7T8V9W0X1Y2Z"

    /// An attestation payload shaped as design.md describes, valid from `nbf` to `exp` (unix seconds).
    static func payload(id: String = attestationID, nbf: Int64, exp: Int64, leaving omitted: String? = nil) -> String {
        var members: [(String, JSONValue)] = [
            ("iss", "heyan"),
            ("jti", .string(id)),
            ("iat", .int(nbf)),
            ("nbf", .int(nbf)),
            ("exp", .int(exp)),
            ("verification", "ver_01JD5Z8M3Q4R6S7T8V9W0X1Y2Z"),
            ("certificateType", "CIV-MARRIAGE"),
            ("method", "department-verification"),
            ("issuer", "civil-affairs"),
            ("requester", "housing-fund"),
            ("matterCode", "HF-WITHDRAW-001"),
            ("subject", ["idType": "resident-id", "id": "11010519491231002X", "name": "张三"]),
            ("claims", ["maritalStatus": "married"]),
            ("outcome", "confirmed"),
            ("disclosed", ["maritalStatus": "married"]),
            ("legalBasis", "《婚姻登记条例》第二条、第四条"),
        ]
        members.removeAll { $0.0 == omitted }
        return String(decoding: JSONValue.object(members).jsonBytes(), as: UTF8.self)
    }

    /// Signs with the PKI's attestation signing key and certificate.
    static func sign(
        _ payload: String, pki: TestPKI, type: String = "heyan-attestation+jwt", kid: String = "signing-test"
    ) throws -> String {
        let signer = try JWSSigner(
            key: try PrivateKey.load(pemFile: pki.signingKeyFile),
            chain: try Certificate.loadChain(pemFile: pki.signingCertificateFile), kid: kid, type: type)
        return try signer.sign(payload: Array(payload.utf8))
    }

    static var now: Int64 { Int64(time(nil)) }

    /// `token` with its payload replaced and the original signature kept.
    static func tampered(_ token: String, payload: String) -> String {
        let parts = token.split(separator: ".")
        return "\(parts[0]).\(Base64URL.encode(Array(payload.utf8))).\(parts[2])"
    }

    func verify(_ token: String, trust: String, extra: [String] = []) throws -> Subprocess.Result {
        let directory = TemporaryDirectory()
        try directory.write("token.jws", token)
        return try Subprocess.run(
            [Self.binary, "attestation", "verify", directory.file("token.jws"), "--trust", trust] + extra)
    }

    @Test func validAttestationExitsZeroAndPrintsThePayload() throws {
        let pki = try TestPKI()
        let token = try Self.sign(Self.payload(nbf: Self.now - 60, exp: Self.now + 3600), pki: pki)
        let result = try verify(token, trust: pki.caFile)
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stderr == "")
        #expect(result.stdout.hasPrefix("valid attestation \(Self.attestationID)\n"))
        #expect(result.stdout.contains("  alg:     ES256\n"))
        #expect(result.stdout.contains("  kid:     signing-test\n"))
        #expect(result.stdout.contains("<- CN=heyan test CA"))
        #expect(result.stdout.contains("payload:\n{\n  \"certificateType\": \"CIV-MARRIAGE\",\n"))
        #expect(result.stdout.contains(#"    "name": "张三""#))
        #expect(result.stdout.contains(#"  "outcome": "confirmed","#))
        #expect(result.stdout.hasSuffix("  \"verification\": \"ver_01JD5Z8M3Q4R6S7T8V9W0X1Y2Z\"\n}\n"))
    }

    @Test func tamperedPayloadFailsTheSignature() throws {
        let pki = try TestPKI()
        let token = try Self.sign(Self.payload(nbf: Self.now - 60, exp: Self.now + 3600), pki: pki)
        let denied = Self.payload(nbf: Self.now - 60, exp: Self.now + 3600).replacingOccurrences(
            of: #""outcome":"confirmed""#, with: #""outcome":"denied""#)
        let result = try verify(Self.tampered(token, payload: denied), trust: pki.caFile)
        #expect(result.status == 1)
        #expect(result.stdout == "")
        #expect(result.stderr.hasPrefix("invalid: signature: "))
    }

    @Test func attestationFromAnotherCAFailsTheChain() throws {
        let pki = try TestPKI()
        let other = try TestPKI()
        let token = try Self.sign(Self.payload(nbf: Self.now - 60, exp: Self.now + 3600), pki: pki)
        let result = try verify(token, trust: other.caFile)
        #expect(result.status == 1)
        #expect(result.stderr.hasPrefix("invalid: chain: "))
    }

    @Test func validityWindowIsChecked() throws {
        let pki = try TestPKI()
        let expired = try Self.sign(Self.payload(nbf: Self.now - 7200, exp: Self.now - 3600), pki: pki)
        let result = try verify(expired, trust: pki.caFile)
        #expect(result.status == 1)
        #expect(result.stderr.hasPrefix("invalid: expired: expired at "))

        // --at moves the clock: the same valid token is not yet valid before nbf, expired at exp.
        let nbf = Self.now - 60
        let token = try Self.sign(Self.payload(nbf: nbf, exp: nbf + 3600), pki: pki)
        let before = try verify(token, trust: pki.caFile, extra: ["--at", Timestamp.rfc3339((nbf - 1) * 1000)])
        #expect(before.status == 1)
        #expect(before.stderr.hasPrefix("invalid: not yet valid: "))
        let atExpiry = try verify(token, trust: pki.caFile, extra: ["--at", Timestamp.rfc3339((nbf + 3600) * 1000)])
        #expect(atExpiry.status == 1)
        #expect(atExpiry.stderr.hasPrefix("invalid: expired: "))
        let inside = try verify(token, trust: pki.caFile, extra: ["--at", Timestamp.rfc3339((nbf + 3599) * 1000)])
        #expect(inside.status == 0, "\(inside.stderr)")
    }

    @Test func readsStdinAndTheAttestationResourceJSON() throws {
        let pki = try TestPKI()
        let token = try Self.sign(Self.payload(nbf: Self.now - 60, exp: Self.now + 3600), pki: pki)
        // A fixed --at: the output names the time it was checked at, and three runs must print the
        // same text even when they straddle a second.
        let command = [Self.binary, "attestation", "verify", "-", "--trust", pki.caFile, "--at", Timestamp.rfc3339(Self.now * 1000)]
        let bare = try Subprocess.run(command, stdin: Array((token + "\n").utf8))
        #expect(bare.status == 0, "\(bare.stderr)")
        let resource = #"{"id":"\#(Self.attestationID)","status":"active","jws":"\#(token)"}"#
        let wrapped = try Subprocess.run(command, stdin: Array(resource.utf8))
        #expect(wrapped.status == 0, "\(wrapped.stderr)")
        #expect(wrapped.stdout == bare.stdout)
        let verification = #"{"id":"ver_x","status":"answered","attestation":{"id":"\#(Self.attestationID)","jws":"\#(token)"}}"#
        let fromVerification = try Subprocess.run(command, stdin: Array(verification.utf8))
        #expect(fromVerification.status == 0, "\(fromVerification.stderr)")
        #expect(fromVerification.stdout == bare.stdout)
        let garbage = try Subprocess.run(command, stdin: Array(#"{"id":"x"}"#.utf8))
        #expect(garbage.status == 1)
        #expect(garbage.stderr.hasPrefix("invalid: malformed: "))
    }

    @Test func otherTypeAndIncompletePayloadAreInvalid() throws {
        let pki = try TestPKI()
        let window = (nbf: Self.now - 60, exp: Self.now + 3600)
        let checkpointTyped = try Self.sign(Self.payload(nbf: window.nbf, exp: window.exp), pki: pki, type: "JWT")
        let wrongType = try verify(checkpointTyped, trust: pki.caFile)
        #expect(wrongType.status == 1)
        #expect(wrongType.stderr == "invalid: type: typ is 'JWT', not 'heyan-attestation+jwt'\n")
        let incomplete = try Self.sign(Self.payload(nbf: window.nbf, exp: window.exp, leaving: "legalBasis"), pki: pki)
        let missing = try verify(incomplete, trust: pki.caFile)
        #expect(missing.status == 1)
        #expect(missing.stderr == "invalid: payload: missing legalBasis\n")
    }

    @Test func usageErrorsExitTwo() throws {
        let pki = try TestPKI()
        let noTrust = try Subprocess.run([Self.binary, "attestation", "verify", "-"])
        #expect(noTrust.status == 2)
        #expect(noTrust.stderr.contains("--trust CA.pem is required"))
        let missingFile = try Subprocess.run([
            Self.binary, "attestation", "verify", "/nonexistent", "--trust", pki.caFile,
        ])
        #expect(missingFile.status == 2)
        #expect(missingFile.stderr.contains("cannot open /nonexistent"))
        let onlineWithoutKey = try Subprocess.run([
            Self.binary, "attestation", "verify", "-", "--trust", pki.caFile, "--online", "https://127.0.0.1:8443",
        ])
        #expect(onlineWithoutKey.status == 2)
        #expect(onlineWithoutKey.stderr.contains("--online needs the department's --cert and --key"))
        let badTime = try Subprocess.run([
            Self.binary, "attestation", "verify", "-", "--trust", pki.caFile, "--at", "yesterday",
        ])
        #expect(badTime.status == 2)
        #expect(try Subprocess.run([Self.binary, "attestation", "frobnicate"]).status == 2)
    }

    @Test func onlineCheckAsksTheStatusEndpoint() throws {
        let pki = try TestPKI()
        let tls = try TLSContext(
            files: TLSIdentityFiles(
                certificateChain: pki.serverCertificateFile, privateKey: pki.serverKeyFile, clientCA: pki.caFile,
                crl: pki.crlFile))
        // The key set publishes the PKI's signing key under the kid `sign` puts in the header.
        let signing = try Certificate.loadChain(pemFile: pki.signingCertificateFile)
        let entry = try JSONWebKey(certificate: signing[0]).setEntry(kid: "signing-test", chain: signing)
        let server = HTTPServer(
            host: "127.0.0.1", port: 0, tls: tls, settings: HTTPServerSettings(),
            responder: StatusStub(keySet: #"{"keys":[\#(entry)]}"#))
        let port = try server.start()
        defer { server.shutdown(grace: 1) }
        let department = try pki.department("housing-fund")
        let online = [
            "--online", "https://localhost:\(port)", "--cert", department.certificate, "--key", department.key,
        ]

        let window = (nbf: Self.now - 60, exp: Self.now + 3600)
        let active = try verify(
            try Self.sign(Self.payload(nbf: window.nbf, exp: window.exp), pki: pki), trust: pki.caFile, extra: online)
        #expect(active.status == 0, "\(active.stderr)")
        #expect(active.stdout.contains("  status:  active (asked https://localhost:\(port))\n"))
        #expect(active.stdout.contains("  key:     signing-test is in https://localhost:\(port)/.well-known/jwks.json\n"))

        // A signing key the service does not publish under that kid fails the online check.
        let unpublished = try verify(
            try Self.sign(Self.payload(nbf: window.nbf, exp: window.exp), pki: pki, kid: "retired-long-ago"),
            trust: pki.caFile, extra: online)
        #expect(unpublished.status == 1)
        #expect(unpublished.stderr.contains("invalid: online: the signing key retired-long-ago is not in"))

        let revokedToken = try Self.sign(
            Self.payload(id: StatusStub.revokedID, nbf: window.nbf, exp: window.exp), pki: pki)
        let revoked = try verify(revokedToken, trust: pki.caFile, extra: online)
        #expect(revoked.status == 1)
        #expect(
            revoked.stderr
                == "invalid: revoked: the service reports \(StatusStub.revokedID) as revoked since 2026-01-02T03:04:05.000Z: 登记错误\n"
        )
        // Offline, the revoked attestation still checks out: only the service knows.
        #expect(try verify(revokedToken, trust: pki.caFile).status == 0)

        let unknown = try verify(
            try Self.sign(
                Self.payload(id: "att_01JD5Z8M3Q4R6S7T8V9W0XAAAA", nbf: window.nbf, exp: window.exp), pki: pki),
            trust: pki.caFile, extra: online)
        #expect(unknown.status == 1)
        #expect(unknown.stderr.hasPrefix("invalid: online: https://localhost:\(port) answered 404: No attestation"))
    }

    @Test func pythonVerifierAgreesOnTheSameTokens() throws {
        let pki = try TestPKI()
        let window = (nbf: Self.now - 60, exp: Self.now + 3600)
        let payload = Self.payload(nbf: window.nbf, exp: window.exp)
        let valid = try Self.sign(payload, pki: pki)
        let tampered = Self.tampered(valid, payload: payload.replacingOccurrences(of: "married", with: "divorced"))
        let expired = try Self.sign(Self.payload(nbf: window.nbf - 7200, exp: window.nbf - 3600), pki: pki)
        let wrongType = try Self.sign(payload, pki: pki, type: "JWT")
        let incomplete = try Self.sign(Self.payload(nbf: window.nbf, exp: window.exp, leaving: "legalBasis"), pki: pki)
        let tokens = [valid, tampered, expired, wrongType, incomplete]

        let verdicts = try PythonAttestationVerifier.verify(
            tokens, caFile: pki.caFile, schemaFile: PythonScripts.attestationSchema)
        #expect(verdicts.map(\.ok) == [true, false, false, false, false])
        #expect(verdicts.map(\.failedStage) == [nil, "signature", "expired", "type", "schema"])
        #expect(verdicts[0].payloadJSON == Self.sortedJSON(payload))
        #expect(verdicts[0].payload?["outcome"] as? String == "confirmed")
        #expect(verdicts[4].error?.contains("'legalBasis' is a required property") == true)

        let other = try TestPKI()
        let otherCA = try PythonAttestationVerifier.verify([valid], caFile: other.caFile)
        #expect(otherCA.map(\.failedStage) == ["chain"])

        // heyan's own verdicts on the same tokens, for the record: the same ones pass.
        let heyan = try tokens.map { try verify($0, trust: pki.caFile).status }
        #expect(heyan == [0, 1, 1, 1, 1])
    }

    static func sortedJSON(_ text: String) -> String? {
        guard let object = try? JSONSerialization.jsonObject(with: Data(text.utf8)),
            let data = try? JSONSerialization.data(
                withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes])
        else { return nil }
        return String(decoding: data, as: UTF8.self)
    }
}

/// Answers `GET /v1/attestations/{id}/status`: revoked for ``revokedID``, 404 for ids not
/// starting `att_01JD5Z8M3Q4R6S7T8V9W0X1`, active otherwise.
private struct StatusStub: HTTPResponder {
    static let revokedID = "att_01JD5Z8M3Q4R6S7T8V9W0X1REV"
    /// `GET /.well-known/jwks.json`: the JWK Set it answers.
    var keySet = #"{"keys":[]}"#

    func respond(to request: HTTPRequest, context: RequestContext, sink: ResponseSink) {
        if request.method == "GET", request.path == "/.well-known/jwks.json" {
            return sink.send(.json(200, Array(keySet.utf8)))
        }
        let parts = request.path.split(separator: "/")
        guard request.method == "GET", context.department == "housing-fund", parts.count == 4, parts[0] == "v1",
            parts[1] == "attestations", parts[3] == "status"
        else { return sink.send(.json(400, Array(#"{"detail":"unexpected request"}"#.utf8))) }
        let id = String(parts[2])
        guard id.hasPrefix("att_01JD5Z8M3Q4R6S7T8V9W0X1") else {
            return sink.send(.problem(.notFound(detail: "No attestation \(id).")))
        }
        if id == Self.revokedID {
            sink.send(
                .json(
                    200,
                    Array(
                        #"{"id":"\#(id)","status":"revoked","revokedAt":"2026-01-02T03:04:05.000Z","revocationReason":"登记错误","expiresAt":"2099-01-01T00:00:00.000Z"}"#
                            .utf8)))
        } else {
            sink.send(
                .json(200, Array(#"{"id":"\#(id)","status":"active","expiresAt":"2099-01-01T00:00:00.000Z"}"#.utf8)))
        }
    }
}
