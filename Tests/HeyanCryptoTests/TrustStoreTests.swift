import COpenSSL
import HeyanCrypto
import HeyanTestSupport
import Testing

@Suite("Trust store verification")
struct TrustStoreTests {
    @Test(arguments: [KeyAlgorithm.ecP256, .ed25519, .sm2])
    func acceptsGoodDepartmentCertificate(_ algorithm: KeyAlgorithm) throws {
        let ca = try TestAuthority(algorithm)
        let (certificate, _) = try ca.issue(.department(code: "civil-affairs"), algorithm: algorithm)
        let trust = try TrustStore(authorities: [ca.certificate], crls: [try ca.emptyCRL()])
        try trust.verify([certificate], purpose: .clientAuth, at: nil)
        try trust.verify([certificate], purpose: .any, at: nil)
    }

    @Test func rejectsAnotherCAsCertificate() throws {
        let ca = try TestAuthority()
        let other = try TestAuthority(name: "test CA")  // same name, different key
        let (certificate, _) = try other.issue(.department(code: "a"))
        let trust = try TrustStore(authorities: [ca.certificate], crls: [])
        try expectRefusal(trust, [certificate], .clientAuth, at: nil, code: "certificate.untrusted")
    }

    @Test func rejectsExpiredAndNotYetValid() throws {
        let ca = try TestAuthority()
        let (expired, _) = try ca.issue(.department(code: "a", notBefore: now() - 7200, notAfter: now() - 3600))
        let (future, _) = try ca.issue(.department(code: "a", notBefore: now() + 3600, notAfter: now() + 7200))
        let trust = try TrustStore(authorities: [ca.certificate], crls: [])
        try expectRefusal(trust, [expired], .clientAuth, at: nil, code: "certificate.expired")
        try expectRefusal(trust, [future], .clientAuth, at: nil, code: "certificate.not-yet-valid")
        // The same certificates are fine at a time inside their validity.
        try trust.verify([expired], purpose: .clientAuth, at: now() - 5000)
        try trust.verify([future], purpose: .clientAuth, at: now() + 5000)
    }

    @Test func rejectsRevokedCertificateOnlyWhenOnTheCRL() throws {
        let ca = try TestAuthority()
        let (revoked, _) = try ca.issue(.department(code: "a"))
        let (kept, _) = try ca.issue(.department(code: "b"))
        let crl = try CertificateIssuer.issueRevocationList(
            revoked: [.init(serialNumberHex: revoked.serialNumberHex, revokedAt: now() - 10)],
            thisUpdate: now() - 60, nextUpdate: now() + 3600, number: 2, issuer: ca.issuer)
        let trust = try TrustStore(authorities: [ca.certificate], crls: [crl])
        try expectRefusal(trust, [revoked], .clientAuth, at: nil, code: "certificate.revoked")
        try trust.verify([kept], purpose: .clientAuth, at: nil)
        // Without the CRL the revoked certificate verifies: the refusal above came from the CRL.
        try TrustStore(authorities: [ca.certificate], crls: []).verify([revoked], purpose: .clientAuth, at: nil)
    }

    @Test func rejectsWhenTheCRLHasExpired() throws {
        let ca = try TestAuthority()
        let (certificate, _) = try ca.issue(.department(code: "a"))
        let stale = try CertificateIssuer.issueRevocationList(
            revoked: [], thisUpdate: now() - 7200, nextUpdate: now() - 3600, number: 1, issuer: ca.issuer)
        let trust = try TrustStore(authorities: [ca.certificate], crls: [stale])
        try expectRefusal(trust, [certificate], .clientAuth, at: nil, code: "certificate.crl")
    }

    @Test func rejectsServerAuthOnlyCertificateForClientAuth() throws {
        let ca = try TestAuthority()
        let (server, _) = try ca.issue(.server())
        let (department, _) = try ca.issue(.department(code: "a"))
        let trust = try TrustStore(authorities: [ca.certificate], crls: [])
        try expectRefusal(trust, [server], .clientAuth, at: nil, code: "certificate.purpose")
        try expectRefusal(trust, [department], .serverAuth, at: nil, code: "certificate.purpose")
        try trust.verify([server], purpose: .serverAuth, at: nil)
        try trust.verify([server], purpose: .any, at: nil)
    }

    @Test func verifiesThroughAnIntermediate() throws {
        let root = try TestAuthority()
        let intermediateKey = try PrivateKey.generate(.ecP256)
        let intermediate = try CertificateIssuer.issue(
            .authority(commonName: "intermediate"), subjectKey: intermediateKey, issuer: root.issuer)
        let leafKey = try PrivateKey.generate(.ecP256)
        let leaf = try CertificateIssuer.issue(
            .department(code: "a"), subjectKey: leafKey, issuer: (intermediate, intermediateKey))
        let trust = try TrustStore(authorities: [root.certificate], crls: [])
        try trust.verify([leaf, intermediate], purpose: .clientAuth, at: nil)
        try expectRefusal(trust, [leaf], .clientAuth, at: nil, code: "certificate.untrusted")
    }

    @Test func loadsFromFilesAndMakesAnOpenSSLStore() throws {
        let ca = try TestAuthority()
        let directory = TemporaryDirectory()
        let caFile = try directory.write(ca.certificate.pemEncoded(), to: "ca.pem")
        let crlFile = try directory.write(try ca.emptyCRL().pemEncoded(), to: "crl.pem")
        let trust = try TrustStore(caFile: caFile, crlFile: crlFile)
        #expect(trust.authorities.count == 1)
        #expect(trust.revocationLists.count == 1)
        let store = try trust.makeOpenSSLStore()
        X509_STORE_free(store)
    }

    private func expectRefusal(
        _ trust: TrustStore, _ chain: [Certificate], _ purpose: CertificatePurpose, at time: Int64?, code: String,
        sourceLocation: SourceLocation = #_sourceLocation
    ) throws {
        let error = try #require(throws: CryptoError.self, sourceLocation: sourceLocation) {
            try trust.verify(chain, purpose: purpose, at: time)
        }
        #expect(error.code == code, "\(error.message)", sourceLocation: sourceLocation)
    }
}
