import HeyanCrypto
import HeyanTestSupport
import Testing

@Suite("Issuing and reading certificates")
struct CertificateTests {
    @Test(arguments: KeyAlgorithm.allCases)
    func departmentCertificateReadsBack(_ algorithm: KeyAlgorithm) throws {
        let ca = try TestAuthority(algorithm)
        let notBefore = now() - 3600
        let notAfter = now() + 86_400
        let (certificate, key) = try ca.issue(
            .department(code: "housing-fund", notBefore: notBefore, notAfter: notAfter), algorithm: algorithm)
        #expect(certificate.departmentCode == "housing-fund")
        #expect(certificate.sanURIs == ["urn:heyan:dept:housing-fund"])
        #expect(certificate.subject == "CN=housing-fund,O=heyan development")
        #expect(certificate.issuer == "CN=test CA,O=heyan development")
        #expect(certificate.notBefore == notBefore)
        #expect(certificate.notAfter == notAfter)
        #expect(certificate.serialNumberHex.count == 32)
        #expect(certificate.serialNumberHex == certificate.serialNumberHex.uppercased())
        #expect(certificate.publicKeyAlgorithm == algorithm)
        #expect(certificate.matches(key))
        #expect(!certificate.matches(ca.key))
        #expect(certificate.isSigned(by: ca.certificate))
        #expect(!certificate.isCA)
        #expect(ca.certificate.isCA)
        #expect(certificate.allowsDigitalSignature)
        #expect(!ca.certificate.allowsDigitalSignature)

        // The serial matches what the openssl CLI reads from the PEM we write.
        let directory = TemporaryDirectory()
        let path = try directory.write(certificate.pemEncoded(), to: "dept.pem")
        let serial = try Subprocess.run(["openssl", "x509", "-in", path, "-noout", "-serial"])
        #expect(serial.stdout == "serial=\(certificate.serialNumberHex)\n")
        let text = try Subprocess.run(["openssl", "x509", "-in", path, "-noout", "-ext", "keyUsage,extendedKeyUsage,basicConstraints,subjectAltName"])
        #expect(text.stdout.contains("critical"))
        #expect(text.stdout.contains("Digital Signature"))
        #expect(text.stdout.contains("TLS Web Client Authentication"))
        #expect(text.stdout.contains("URI:urn:heyan:dept:housing-fund"))
    }

    @Test func serialsAreRandomPositiveSixteenBytes() throws {
        let ca = try TestAuthority()
        let serials = try (0 ..< 8).map { _ in try ca.issue(.department(code: "a")).0.serialNumberHex }
        #expect(Set(serials).count == 8)
        for serial in serials {
            let first = try #require(UInt8(serial.prefix(2), radix: 16))
            #expect(first & 0x80 == 0 && first != 0)
        }
    }

    @Test func serverSANsAndDERAndPEMRoundTrip() throws {
        let ca = try TestAuthority()
        let (server, _) = try ca.issue(.server(dnsNames: ["localhost", "heyan.test"], ipAddresses: ["127.0.0.1", "::1"]))
        #expect(server.sanDNSNames == ["localhost", "heyan.test"])
        #expect(server.departmentCode == nil)
        #expect(try Certificate(der: server.derBytes).derBytes == server.derBytes)
        #expect(try Certificate(pem: server.pemEncoded()).derBytes == server.derBytes)
        #expect(throws: OpenSSLError.self) { try Certificate(der: server.derBytes + [0]) }
        #expect(throws: OpenSSLError.self) { try Certificate(der: Array(server.derBytes.dropLast())) }
    }

    @Test func sanValuesCannotSmuggleExtraNames() throws {
        let ca = try TestAuthority()
        var spec = CertificateSpec.department(code: "a")
        spec.uris = ["urn:heyan:dept:a,URI:urn:heyan:dept:b"]
        let (certificate, _) = try ca.issue(spec)
        #expect(certificate.sanURIs == ["urn:heyan:dept:a,URI:urn:heyan:dept:b"])
        #expect(certificate.departmentCodes == ["a,URI:urn:heyan:dept:b"])
        spec.ipAddresses = ["not-an-ip"]
        #expect(throws: CryptoError.self) { try ca.issue(spec) }
    }

    /// A certificate names exactly one department: with two department URIs (or the same one
    /// twice) it names none, never the first.
    @Test func twoDepartmentURIsNameNoDepartment() throws {
        let ca = try TestAuthority()
        var spec = CertificateSpec.department(code: "a")
        spec.uris = ["https://example.test/a", "urn:heyan:dept:a", "urn:heyan:dept:"]
        #expect(try ca.issue(spec).0.departmentCode == "a")
        spec.uris = ["urn:heyan:dept:a", "urn:heyan:dept:b"]
        let (two, _) = try ca.issue(spec)
        #expect(two.departmentCodes == ["a", "b"])
        #expect(two.departmentCode == nil)
        spec.uris = ["urn:heyan:dept:a", "urn:heyan:dept:a"]
        #expect(try ca.issue(spec).0.departmentCode == nil)
    }

    @Test func loadChainReadsAllCertificatesInOrder() throws {
        let ca = try TestAuthority()
        let (leaf, _) = try ca.issue(.department(code: "a"))
        let directory = TemporaryDirectory()
        let path = try directory.write(leaf.pemEncoded() + ca.certificate.pemEncoded(), to: "chain.pem")
        let chain = try Certificate.loadChain(pemFile: path)
        #expect(chain.map(\.derBytes) == [leaf.derBytes, ca.certificate.derBytes])
        let empty = try directory.write("nothing here\n", to: "empty.pem")
        #expect(throws: OpenSSLError.self) { try Certificate.loadChain(pemFile: empty) }
        let broken = try directory.write(leaf.pemEncoded() + "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n", to: "broken.pem")
        #expect(throws: OpenSSLError.self) { try Certificate.loadChain(pemFile: broken) }
    }

    @Test func issuerKeyMustMatchIssuerCertificate() throws {
        let ca = try TestAuthority()
        let other = try TestAuthority()
        let error = try #require(throws: CryptoError.self) {
            try CertificateIssuer.issue(
                .department(code: "a"), subjectKey: PrivateKey.generate(.ecP256), issuer: (ca.certificate, other.key))
        }
        #expect(error.code == "certificate.issuer-key")
    }

    @Test func revocationListListsSerialsAndRoundTrips() throws {
        let ca = try TestAuthority()
        let (a, _) = try ca.issue(.department(code: "a"))
        let (b, _) = try ca.issue(.department(code: "b"))
        let crl = try CertificateIssuer.issueRevocationList(
            revoked: [.init(serialNumberHex: a.serialNumberHex, revokedAt: 1_700_000_000),
                      .init(serialNumberHex: b.serialNumberHex, revokedAt: 1_700_000_100)],
            thisUpdate: 1_700_000_200, nextUpdate: 1_800_000_000, number: 7, issuer: ca.issuer)
        #expect(Set(crl.revokedSerialNumbersHex) == [a.serialNumberHex, b.serialNumberHex])
        #expect(crl.revokedCertificates.first { $0.serialNumberHex == a.serialNumberHex }?.revokedAt == 1_700_000_000)
        #expect(crl.number == 7)
        #expect(crl.thisUpdate == 1_700_000_200)
        #expect(crl.nextUpdate == 1_800_000_000)
        #expect(crl.issuer == ca.certificate.subject)
        let parsed = try CertificateRevocationList(pem: crl.pemEncoded())
        #expect(parsed.revokedSerialNumbersHex == crl.revokedSerialNumbersHex)
    }
}
