#if canImport(Glibc)
import Glibc
#endif
import HeyanCrypto
import HeyanTestSupport
import Testing

/// heyan's JWS against Python's `cryptography` + `joserfc`, and SM2 against the openssl CLI.
@Suite("Interoperability")
struct InteropTests {
    static let script = #"""
        import sys, json, base64, datetime
        from cryptography import x509
        from cryptography.hazmat.primitives import serialization
        from cryptography.x509.verification import PolicyBuilder, Store, ExtensionPolicy
        from joserfc import jws
        from joserfc.jwk import ECKey, OKPKey

        def registry():
            r = jws.JWSRegistry(algorithms=["ES256", "EdDSA"])
            r.max_header_length = 8192  # heyan's x5c headers are longer than joserfc's 512-byte default
            return r

        def load_certs(path):
            return x509.load_pem_x509_certificates(open(path, "rb").read())

        mode = sys.argv[1]
        if mode == "verify":
            ca_path, token_path = sys.argv[2], sys.argv[3]
            token = open(token_path).read()
            header = json.loads(base64.urlsafe_b64decode(token.split(".")[0] + "=="))
            chain = [x509.load_der_x509_certificate(base64.b64decode(c)) for c in header["x5c"]]
            leaf = chain[0]
            ca = load_certs(ca_path)[0]
            verifier = (PolicyBuilder().store(Store([ca])).time(datetime.datetime.now(datetime.timezone.utc))
                .extension_policies(ca_policy=ExtensionPolicy.webpki_defaults_ca(), ee_policy=ExtensionPolicy.permit_all())
                .build_client_verifier())
            verified = verifier.verify(leaf, chain[1:])
            chain_check = "%d certificates" % len(verified.chain)
            public = leaf.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
            key = ECKey.import_key(public) if header["alg"] == "ES256" else OKPKey.import_key(public)
            result = jws.deserialize_compact(token, key, algorithms=[header["alg"]], registry=registry())
            print(json.dumps({"alg": result.headers()["alg"], "typ": result.headers()["typ"],
                              "payload": result.payload.decode(), "chain": chain_check}))
        elif mode == "sign":
            key_path, cert_path, payload = sys.argv[2], sys.argv[3], sys.argv[4]
            key = ECKey.import_key(open(key_path).read())
            der = load_certs(cert_path)[0].public_bytes(serialization.Encoding.DER)
            header = {"alg": "ES256", "typ": "heyan-attestation+jwt", "x5c": [base64.b64encode(der).decode()]}
            print(jws.serialize_compact(header, payload, key, registry=registry()))
        """#

    static let payload = #"{"iss":"heyan","jti":"att-1","outcome":"confirmed"}"#

    @Test(arguments: [KeyAlgorithm.ecP256, .ed25519])
    func heyanJWSVerifiesInPython(_ algorithm: KeyAlgorithm) throws {
        let directory = TemporaryDirectory()
        let ca = try TestAuthority()
        let (certificate, key) = try ca.issue(.attestationSigner(), algorithm: algorithm)
        let signer = try JWSSigner(key: key, chain: [certificate], kid: "k1")
        let token = try signer.sign(payload: Array(Self.payload.utf8))
        let script = try directory.write(Self.script, to: "interop.py")
        let caFile = try directory.write(ca.certificate.pemEncoded(), to: "ca.pem")
        let tokenFile = try directory.write(token, to: "token.jws")
        let result = try Subprocess.run(["python3", script, "verify", caFile, tokenFile])
        #expect(result.succeeded, "\(result.stderr)")
        let alg = algorithm == .ecP256 ? "ES256" : "EdDSA"
        let expected = #"{"alg": "\#(alg)", "typ": "heyan-attestation+jwt", "payload": "{\"iss\":\"heyan\",\"jti\":\"att-1\",\"outcome\":\"confirmed\"}", "chain": "2 certificates"}"#
        #expect(result.stdout == expected + "\n")

        // The same token against another CA fails in Python too: the check above can fail.
        let otherCA = try directory.write(try TestAuthority().certificate.pemEncoded(), to: "other.pem")
        #expect(!(try Subprocess.run(["python3", script, "verify", otherCA, tokenFile]).succeeded))
    }

    @Test func pythonJWSVerifiesInHeyan() throws {
        let directory = TemporaryDirectory()
        let ca = try TestAuthority()
        let (certificate, key) = try ca.issue(.attestationSigner())
        let script = try directory.write(Self.script, to: "interop.py")
        let keyFile = directory.file("signer.key")
        try key.write(toFile: keyFile)
        let certFile = try directory.write(certificate.pemEncoded(), to: "signer.pem")
        let result = try Subprocess.run(["python3", script, "sign", keyFile, certFile, Self.payload])
        #expect(result.succeeded, "\(result.stderr)")
        let token = result.stdout.trimmingSuffix("\n")
        let trust = try TrustStore(authorities: [ca.certificate], crls: [try ca.emptyCRL()])
        let verified = try JWSVerifier.verify(token, trust: trust, at: nil)
        #expect(String(decoding: verified.payload, as: UTF8.self) == Self.payload)
        #expect(verified.algorithm == .es256)
        #expect(verified.type == "heyan-attestation+jwt")
        let otherTrust = try TrustStore(authorities: [try TestAuthority().certificate], crls: [])
        #expect(throws: CryptoError.self) { try JWSVerifier.verify(token, trust: otherTrust, at: nil) }
    }

    @Test func sm2SignatureVerifiesWithOpenSSLCLI() throws {
        let directory = TemporaryDirectory()
        let ca = try TestAuthority()
        let (certificate, key) = try ca.issue(.attestationSigner(), algorithm: .sm2)
        let signer = try JWSSigner(key: key, chain: [certificate], kid: nil)
        let data = Array("heyan SM2 signing input".utf8)
        let raw = try signer.signature(over: data)
        #expect(raw.count == 64)
        let publicKey = try directory.write(try key.publicKeyPEMEncoded(), to: "pub.pem")
        let dataFile = try directory.write(data, to: "data")
        let signatureFile = directory.file("sig.der")
        try writeBytes(derSignature(raw), to: signatureFile)
        func verify(_ id: String) throws -> Subprocess.Result {
            try Subprocess.run([
                "openssl", "pkeyutl", "-verify", "-pubin", "-inkey", publicKey, "-rawin", "-digest", "sm3",
                "-pkeyopt", "distid:\(id)", "-sigfile", signatureFile, "-in", dataFile,
            ])
        }
        let good = try verify("1234567812345678")
        #expect(good.succeeded, "\(good.stdout) \(good.stderr)")
        #expect(good.stdout.contains("Signature Verified Successfully"))
        #expect(!(try verify("8765432187654321")).succeeded)  // the ID matters: the check can fail
    }

    /// DER `ECDSA-Sig-Value` for a 64-byte R‖S, written out by hand so the test does not reuse heyan's converter.
    private func derSignature(_ raw: [UInt8]) -> [UInt8] {
        func integer(_ bytes: ArraySlice<UInt8>) -> [UInt8] {
            var value = Array(bytes.drop { $0 == 0 })
            if value.isEmpty { value = [0] }
            if value[0] & 0x80 != 0 { value.insert(0, at: 0) }
            return [0x02, UInt8(value.count)] + value
        }
        let body = integer(raw[0 ..< 32]) + integer(raw[32 ..< 64])
        return [0x30, UInt8(body.count)] + body
    }

    private func writeBytes(_ bytes: [UInt8], to path: String) throws {
        guard let file = fopen(path, "wb") else { throw TestFailure("cannot create \(path)") }
        defer { fclose(file) }
        guard fwrite(bytes, 1, bytes.count, file) == bytes.count else { throw TestFailure("cannot write \(path)") }
    }
}

extension String {
    func trimmingSuffix(_ suffix: String) -> String { hasSuffix(suffix) ? String(dropLast(suffix.count)) : self }
}
