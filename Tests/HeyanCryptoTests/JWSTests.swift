import HeyanCrypto
import Testing

@Suite("JWS signing and verification")
struct JWSTests {
    struct Signer {
        let ca: TestAuthority
        let certificate: Certificate
        let key: PrivateKey
        let signer: JWSSigner
        let trust: TrustStore

        init(_ algorithm: KeyAlgorithm, caAlgorithm: KeyAlgorithm = .ecP256) throws {
            ca = try TestAuthority(caAlgorithm)
            (certificate, key) = try ca.issue(.attestationSigner(), algorithm: algorithm)
            signer = try JWSSigner(key: key, chain: [certificate], kid: "signing-1")
            trust = try TrustStore(authorities: [ca.certificate], crls: [try ca.emptyCRL()])
        }
    }

    static let payload = Array(#"{"iss":"heyan","jti":"a1","outcome":"confirmed","claims":{"maritalStatus":"married"}}"#.utf8)

    @Test(arguments: [(KeyAlgorithm.ecP256, JWSAlgorithm.es256), (.ed25519, .edDSA), (.sm2, .sm2)])
    func signAndVerifyRoundTrip(_ keyAlgorithm: KeyAlgorithm, _ expected: JWSAlgorithm) throws {
        let setup = try Signer(keyAlgorithm)
        #expect(setup.signer.algorithm == expected)
        let compact = try setup.signer.sign(payload: Self.payload)
        let parts = compact.split(separator: ".", omittingEmptySubsequences: false)
        #expect(parts.count == 3)
        let header = try #require(Base64URL.decode(String(parts[0])))
        let x5c = Base64.encode(setup.certificate.derBytes)
        #expect(String(decoding: header, as: UTF8.self)
            == #"{"alg":"\#(expected.rawValue)","typ":"heyan-attestation+jwt","kid":"signing-1","x5c":["\#(x5c)"]}"#)
        #expect(Base64URL.decode(String(parts[2]))?.count == 64)

        let verified = try JWSVerifier.verify(compact, trust: setup.trust, at: nil)
        #expect(verified.payload == Self.payload)
        #expect(verified.algorithm == expected)
        #expect(verified.header == header)
        #expect(verified.type == "heyan-attestation+jwt")
        #expect(verified.keyID == "signing-1")
        #expect(verified.chain.map(\.derBytes) == [setup.certificate.derBytes])
        #expect(try JWSVerifier.verify(compact, signer: setup.certificate).payload == Self.payload)
    }

    @Test(arguments: [KeyAlgorithm.ecP256, .ed25519, .sm2])
    func tamperedPartsAreRejected(_ algorithm: KeyAlgorithm) throws {
        let setup = try Signer(algorithm)
        let compact = try setup.signer.sign(payload: Self.payload)
        let parts = compact.split(separator: ".").map(String.init)

        let otherPayload = Base64URL.encode(Array(#"{"outcome":"denied"}"#.utf8))
        try expectRefusal([parts[0], otherPayload, parts[2]], setup.trust, code: "jws.signature")

        var header = try #require(Base64URL.decode(parts[0]))
        header.replaceSubrange(header.startIndex ..< header.startIndex + 1, with: Array("{ ".utf8))  // same JSON, other bytes
        try expectRefusal([Base64URL.encode(header), parts[1], parts[2]], setup.trust, code: "jws.signature")

        var signature = try #require(Base64URL.decode(parts[2]))
        signature[10] ^= 0x01
        try expectRefusal([parts[0], parts[1], Base64URL.encode(signature)], setup.trust, code: "jws.signature")
        try expectRefusal([parts[0], parts[1], Base64URL.encode(Array(signature.prefix(63)))], setup.trust, code: "jws.signature")

        try expectRefusal([parts[0], parts[1]], setup.trust, code: "jws.malformed")
        try expectRefusal([parts[0], parts[1] + "=", parts[2]], setup.trust, code: "jws.malformed")
        try expectRefusal([Base64URL.encode("not json"), parts[1], parts[2]], setup.trust, code: "jws.malformed")
    }

    @Test func wrongAlgorithmIsRejected() throws {
        let setup = try Signer(.ecP256)
        let compact = try setup.signer.sign(payload: Self.payload)
        let parts = compact.split(separator: ".").map(String.init)
        let x5c = Base64.encode(setup.certificate.derBytes)
        for alg in ["EdDSA", "SM2", "none", "HS256", "RS256"] {
            let header = Base64URL.encode(#"{"alg":"\#(alg)","x5c":["\#(x5c)"]}"#)
            try expectRefusal([header, parts[1], parts[2]], setup.trust, code: "jws.algorithm")
        }
        // An EdDSA signer's token relabelled ES256 is refused before any signature maths.
        let ed = try Signer(.ed25519)
        let edParts = try ed.signer.sign(payload: Self.payload).split(separator: ".").map(String.init)
        let relabelled = Base64URL.encode(#"{"alg":"ES256","x5c":["\#(Base64.encode(ed.certificate.derBytes))"]}"#)
        try expectRefusal([relabelled, edParts[1], edParts[2]], ed.trust, code: "jws.algorithm")
    }

    @Test func chainToAnotherCAOrWithoutDigitalSignatureIsRejected() throws {
        let setup = try Signer(.ecP256)
        let compact = try setup.signer.sign(payload: Self.payload)
        let otherCA = try TestAuthority()
        let otherTrust = try TrustStore(authorities: [otherCA.certificate], crls: [])
        try expectRefusal(compact.split(separator: ".").map(String.init), otherTrust, code: "jws.chain")

        // A certificate from the right CA whose keyUsage lacks digitalSignature cannot sign attestations.
        var spec = CertificateSpec.attestationSigner()
        spec.keyUsage = [.keyAgreement]
        let (certificate, key) = try setup.ca.issue(spec)
        let unfit = try JWSSigner(key: key, chain: [certificate], kid: nil).sign(payload: Self.payload)
        try expectRefusal(unfit.split(separator: ".").map(String.init), setup.trust, code: "jws.chain")

        // An expired signer, and no x5c at all.
        let (expired, expiredKey) = try setup.ca.issue(.attestationSigner(notBefore: now() - 7200, notAfter: now() - 3600))
        let old = try JWSSigner(key: expiredKey, chain: [expired], kid: nil).sign(payload: Self.payload)
        try expectRefusal(old.split(separator: ".").map(String.init), setup.trust, code: "jws.chain")
        // Inside its validity it verifies (without the CRL, which did not exist yet then).
        let withoutCRL = try TrustStore(authorities: [setup.ca.certificate], crls: [])
        #expect(try JWSVerifier.verify(old, trust: withoutCRL, at: now() - 5000).payload == Self.payload)
        let bare = Base64URL.encode(#"{"alg":"ES256"}"#)
        try expectRefusal([bare, "e30", "AA"], setup.trust, code: "jws.chain")
    }

    @Test func signerRefusesAKeyThatIsNotTheLeafs() throws {
        let setup = try Signer(.ecP256)
        let error = try #require(throws: CryptoError.self) {
            try JWSSigner(key: PrivateKey.generate(.ecP256), chain: [setup.certificate], kid: nil)
        }
        #expect(error.code == "jws.chain")
    }

    @Test func manyThreadsSignAtOnce() async throws {
        let setup = try Signer(.ecP256)
        let signer = setup.signer
        let compacts = try await withThrowingTaskGroup(of: String.self) { group in
            for index in 0 ..< 64 {
                group.addTask { try signer.sign(payload: Array("payload \(index)".utf8)) }
            }
            return try await group.reduce(into: []) { $0.append($1) }
        }
        #expect(compacts.count == 64)
        for compact in compacts {
            _ = try JWSVerifier.verify(compact, signer: setup.certificate)
        }
    }

    private func expectRefusal(
        _ parts: [String], _ trust: TrustStore, code: String, sourceLocation: SourceLocation = #_sourceLocation
    ) throws {
        let error = try #require(throws: CryptoError.self, sourceLocation: sourceLocation) {
            try JWSVerifier.verify(parts.joined(separator: "."), trust: trust, at: nil)
        }
        #expect(error.code == code, "\(error.message)", sourceLocation: sourceLocation)
    }
}
