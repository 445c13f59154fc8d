import HeyanCrypto
import Testing

/// The JWK form of signing keys and the RFC 7638 thumbprint heyan uses as `kid`.
@Suite struct JSONWebKeyTests {
    /// RFC 8037 appendix A.1 (the Ed25519 private key) and A.3 (its JWK thumbprint).
    @Test func ed25519ThumbprintIsRFC8037sExample() throws {
        let seed = try #require(Base64URL.decode("nWGxne_9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A"))
        // PKCS#8 PrivateKeyInfo for Ed25519 (RFC 8410): a fixed prefix, then the 32-byte seed.
        let der: [UInt8] = [0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04, 0x20] + seed
        let pem = "-----BEGIN PRIVATE KEY-----\n\(Base64.encode(der))\n-----END PRIVATE KEY-----\n"
        let jwk = try JSONWebKey(privateKey: try PrivateKey(pem: pem))
        #expect(jwk.kty == "OKP")
        #expect(jwk.crv == "Ed25519")
        #expect(jwk.x == "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo")
        #expect(jwk.y == nil)
        #expect(jwk.thumbprintInput == #"{"crv":"Ed25519","kty":"OKP","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}"#)
        #expect(jwk.thumbprint == "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k")
        #expect(jwk.algorithm == .edDSA)
    }

    /// P-256: x and y are the two 32-byte halves of the uncompressed point that ends the
    /// certificate's SubjectPublicKeyInfo, read here from the PEM rather than through OpenSSL's
    /// parameters; the private key and the certificate give the same JWK.
    @Test func p256CoordinatesAreThePublicPoint() throws {
        for _ in 0..<8 {  // some coordinates have leading zero bytes: padding must keep 32 bytes
            let ca = try TestAuthority()
            let (certificate, key) = try ca.issue(.attestationSigner())
            let jwk = try JSONWebKey(certificate: certificate)
            #expect(try JSONWebKey(privateKey: key) == jwk)
            let spki = try #require(
                Base64.decode(
                    try key.publicKeyPEMEncoded().split(separator: "\n").filter { !$0.hasPrefix("-----") }.joined()))
            let point = Array(spki.suffix(65))
            #expect(point[0] == 0x04)
            #expect(jwk.kty == "EC")
            #expect(jwk.crv == "P-256")
            #expect(jwk.x == Base64URL.encode(Array(point[1...32])))
            #expect(jwk.y == Base64URL.encode(Array(point[33...64])))
            #expect(jwk.thumbprintInput == #"{"crv":"P-256","kty":"EC","x":"\#(jwk.x)","y":"\#(jwk.y!)"}"#)
            #expect(jwk.thumbprint.count == 43)
        }
    }

    @Test func setEntryNamesTheKeyAndCarriesTheChain() throws {
        let ca = try TestAuthority()
        let (certificate, _) = try ca.issue(.attestationSigner())
        let jwk = try JSONWebKey(certificate: certificate)
        let entry = jwk.setEntry(kid: jwk.thumbprint, chain: [certificate, ca.certificate])
        #expect(entry.hasPrefix(#"{"kty":"EC","crv":"P-256","x":""#))
        #expect(entry.contains(#""kid":"\#(jwk.thumbprint)","alg":"ES256","use":"sig","x5c":[""#))
        #expect(entry.contains(Base64.encode(ca.certificate.derBytes)))
    }

    @Test func distinctKeysHaveDistinctThumbprints() throws {
        let ca = try TestAuthority(.ed25519)
        let first = try JSONWebKey(certificate: try ca.issue(.attestationSigner(), algorithm: .ed25519).0)
        let second = try JSONWebKey(certificate: try ca.issue(.attestationSigner(), algorithm: .ed25519).0)
        #expect(first.thumbprint != second.thumbprint)
        let sm2 = try JSONWebKey(certificate: try TestAuthority(.sm2).issue(.attestationSigner(), algorithm: .sm2).0)
        #expect(sm2.kty == "EC")
        #expect(sm2.crv == "SM2")
        #expect(sm2.algorithm == .sm2)
    }
}
