import HeyanCrypto
import HeyanTestSupport
import Testing

@Suite("Development PKI")
struct DevelopmentPKITests {
    static let departmentsJSON = #"{"departments": [{"code": "housing-fund", "roles": ["owner"]}, {"code": "civil-affairs", "roles": ["requester"]}]}"#

    @Test(arguments: [KeyAlgorithm.ecP256, .ed25519])
    func initMakesAVerifiablePKIAndRevokeUpdatesTheCRL(_ algorithm: KeyAlgorithm) throws {
        let directory = TemporaryDirectory()
        let pki = DevelopmentPKI(directory: directory.file("pki"))
        let codes = try DevelopmentPKI.departmentCodes(fromJSON: Array(Self.departmentsJSON.utf8))
        #expect(codes == ["housing-fund", "civil-affairs"])
        let written = try pki.create(departmentCodes: codes, algorithm: algorithm)

        let keys = [pki.caKeyFile, pki.serverKeyFile, pki.signingKeyFile] + codes.map(pki.departmentKeyFile)
        let bundles = codes.map(pki.departmentPKCS12File)
        let certificates = [pki.serverCertificateFile, pki.signingCertificateFile] + codes.map(pki.departmentCertificateFile)
        #expect(Set(written) == Set(keys + bundles + certificates + [pki.caCertificateFile, pki.crlFile, pki.logKeyFile]))
        for path in keys + bundles + [pki.logKeyFile] { #expect(fileMode(path) == 0o600, "\(path)") }
        // The audit log's checkpoint key is Ed25519 whatever the PKI's algorithm; made once.
        #expect(try PrivateKey.load(pemFile: pki.logKeyFile).algorithm == .ed25519)
        #expect(try pki.createLogKey() == false)
        for path in certificates + [pki.caCertificateFile, pki.crlFile] { #expect(fileMode(path) == 0o644, "\(path)") }
        for path in keys { #expect(try PrivateKey.load(pemFile: path).algorithm == algorithm) }

        for path in certificates {
            let plain = try Subprocess.run(["openssl", "verify", "-CAfile", pki.caCertificateFile, path])
            #expect(plain.stdout == "\(path): OK\n", "\(plain.stderr)")
            let withCRL = try crlCheck(pki, path)
            #expect(withCRL.succeeded, "\(withCRL.stderr)")
        }
        let department = try Certificate.loadChain(pemFile: pki.departmentCertificateFile("housing-fund"))[0]
        #expect(department.departmentCode == "housing-fund")
        let server = try Certificate.loadChain(pemFile: pki.serverCertificateFile)[0]
        #expect(server.sanDNSNames == ["localhost"])
        let trust = try TrustStore(caFile: pki.caCertificateFile, crlFile: pki.crlFile)
        try trust.verify([department], purpose: .clientAuth, at: nil)
        try trust.verify([server], purpose: .serverAuth, at: nil)

        for bundle in bundles {
            let opened = try Subprocess.run(["openssl", "pkcs12", "-in", bundle, "-passin", "pass:", "-nokeys"])
            #expect(opened.succeeded, "\(opened.stderr)")
            #expect(opened.stdout.contains("-----BEGIN CERTIFICATE-----"))
        }

        // Revoke one department: the CRL check now fails for it and still passes for the other.
        let revoked = pki.departmentCertificateFile("civil-affairs")
        let revocation = try pki.revoke(certificateFile: revoked)
        #expect(!revocation.wasAlreadyRevoked)
        let failed = try crlCheck(pki, revoked)
        #expect(!failed.succeeded)
        #expect(failed.stdout.contains("certificate revoked") || failed.stderr.contains("certificate revoked"))
        #expect(try crlCheck(pki, pki.departmentCertificateFile("housing-fund")).succeeded)
        #expect(try Subprocess.run(["openssl", "verify", "-CAfile", pki.caCertificateFile, revoked]).succeeded)
        let crl = try CertificateRevocationList.load(pemFile: pki.crlFile)
        #expect(crl.number == 2)
        #expect(crl.revokedSerialNumbersHex == [revocation.serialNumberHex])
        #expect(try pki.revoke(certificateFile: revoked).wasAlreadyRevoked)
        let refused = try #require(throws: CryptoError.self) {
            try TrustStore(caFile: pki.caCertificateFile, crlFile: pki.crlFile)
                .verify(try Certificate.loadChain(pemFile: revoked), purpose: .clientAuth, at: nil)
        }
        #expect(refused.code == "certificate.revoked")
    }

    @Test func refusesToOverwriteAndIssuesMoreDepartments() throws {
        let directory = TemporaryDirectory()
        let pki = DevelopmentPKI(directory: directory.file("pki"))
        try pki.create(departmentCodes: ["a"])
        let caBefore = try Certificate.loadChain(pemFile: pki.caCertificateFile)[0].derBytes
        let again = try #require(throws: CryptoError.self) { try pki.create(departmentCodes: ["b"]) }
        #expect(again.code == "pki.exists")
        #expect(try Certificate.loadChain(pemFile: pki.caCertificateFile)[0].derBytes == caBefore)

        let written = try pki.issueDepartment(code: "tax-bureau")
        #expect(written == ["key", "pem", "p12"].map { "\(pki.departmentsDirectory)/tax-bureau.\($0)" })
        #expect(try crlCheck(pki, pki.departmentCertificateFile("tax-bureau")).succeeded)
        let duplicate = try #require(throws: CryptoError.self) { try pki.issueDepartment(code: "a") }
        #expect(duplicate.code == "pki.exists")
    }

    @Test func revokeRefusesAForeignCertificate() throws {
        let directory = TemporaryDirectory()
        let pki = DevelopmentPKI(directory: directory.file("pki"))
        try pki.create(departmentCodes: [])
        let (foreign, _) = try TestAuthority().issue(.department(code: "x"))
        let path = try directory.write(foreign.pemEncoded(), to: "foreign.pem")
        let error = try #require(throws: CryptoError.self) { try pki.revoke(certificateFile: path) }
        #expect(error.code == "pki.foreign-certificate")
    }

    @Test(arguments: ["", "Housing", "a_b", "-a", "a/b", "../x", String(repeating: "a", count: 65)])
    func badDepartmentCodesAreRefused(_ code: String) throws {
        let error = try #require(throws: CryptoError.self) { try DevelopmentPKI.validateDepartmentCode(code) }
        #expect(error.code == "pki.department")
    }

    @Test func malformedDepartmentsFileIsRefused() throws {
        let error = try #require(throws: CryptoError.self) {
            try DevelopmentPKI.departmentCodes(fromJSON: Array(#"{"departments": [{"name": "x"}]}"#.utf8))
        }
        #expect(error.code == "pki.departments-file")
    }

    @Test func aClerksCertificateNamesDepartmentClerkAndNameAndIsRevokedLikeAnyOther() throws {
        let directory = TemporaryDirectory()
        let pki = DevelopmentPKI(directory: directory.file("pki"))
        try pki.create(departmentCodes: ["civil-affairs"])
        let written = try pki.issueClerk(department: "civil-affairs", clerkID: "ca-007", name: "王五")
        let file = pki.clerkCertificateFile(department: "civil-affairs", clerk: "ca-007")
        #expect(Set(written) == [file, pki.clerkKeyFile(department: "civil-affairs", clerk: "ca-007"),
                                 pki.clerkPKCS12File(department: "civil-affairs", clerk: "ca-007")])
        let certificate = try Certificate.loadChain(pemFile: file)[0]
        #expect(certificate.departmentCode == "civil-affairs")
        #expect(certificate.clerkIDs == ["ca-007"])
        #expect(certificate.commonName == "王五")
        #expect(try Certificate.loadChain(pemFile: pki.departmentCertificateFile("civil-affairs"))[0].clerkIDs.isEmpty)
        #expect(try crlCheck(pki, file).succeeded)
        try pki.revoke(certificateFile: file)
        #expect(try !crlCheck(pki, file).succeeded, "a clerk who leaves is on the CRL")
        #expect(try crlCheck(pki, pki.departmentCertificateFile("civil-affairs")).succeeded)

        #expect(throws: CryptoError.self) { try pki.issueClerk(department: "civil-affairs", clerkID: "ca-007", name: "王五") }
        #expect(throws: CryptoError.self) { try pki.issueClerk(department: "civil-affairs", clerkID: "bad id", name: "x") }
        #expect(throws: CryptoError.self) { try pki.issueClerk(department: "civil-affairs", clerkID: "ca-8", name: "") }
    }

    private func crlCheck(_ pki: DevelopmentPKI, _ path: String) throws -> Subprocess.Result {
        try Subprocess.run(["openssl", "verify", "-crl_check", "-CAfile", pki.caCertificateFile, "-CRLfile", pki.crlFile, path])
    }
}
