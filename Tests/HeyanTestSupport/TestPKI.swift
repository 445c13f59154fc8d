#if canImport(Glibc)
import Glibc
#endif
import HeyanCrypto

/// A PKI made for one test run, written to a temporary directory: the department CA, the server
/// and signing certificates, department certificates and deliberately bad client certificates.
public final class TestPKI: @unchecked Sendable {
    // @unchecked: mutated only through `revoke`, which tests call from one thread.
    public typealias Identity = (certificate: Certificate, key: PrivateKey)
    public struct ClientFiles: Sendable {
        public let certificate: String
        public let key: String
    }

    public let directory: TemporaryDirectory
    public let ca: Identity
    public var caFile: String { directory.file("ca.pem") }
    public var crlFile: String { directory.file("crl.pem") }
    public var serverCertificateFile: String { directory.file("server.pem") }
    public var serverKeyFile: String { directory.file("server.key") }
    public var signingCertificateFile: String { directory.file("signing.pem") }
    public var signingKeyFile: String { directory.file("signing.key") }
    private var revoked: [CertificateRevocationList.RevokedCertificate] = []
    private var crlNumber = 1

    public init(algorithm: KeyAlgorithm = .ecP256) throws {
        directory = TemporaryDirectory(prefix: "heyan-pki")
        let caKey = try PrivateKey.generate(algorithm)
        let caCertificate = try CertificateIssuer.issue(.authority(commonName: "heyan test CA"), subjectKey: caKey, issuer: nil)
        ca = (caCertificate, caKey)
        try writeFile(caFile, Array(caCertificate.pemEncoded().utf8))
        try caKey.write(toFile: directory.file("ca.key"))
        _ = try issue(.server(), name: "server", algorithm: algorithm)
        _ = try issue(.attestationSigner(), name: "signing", algorithm: algorithm)
        try writeCRL()
    }

    /// Issues a certificate from `spec`, signed by `issuer` (default: this CA), and writes
    /// `NAME.pem` / `NAME.key` (0600).
    @discardableResult
    public func issue(_ spec: CertificateSpec, name: String, issuer: Identity? = nil, algorithm: KeyAlgorithm = .ecP256) throws
        -> ClientFiles
    {
        let key = try PrivateKey.generate(algorithm)
        let certificate = try CertificateIssuer.issue(spec, subjectKey: key, issuer: issuer ?? ca)
        let files = ClientFiles(certificate: directory.file("\(name).pem"), key: directory.file("\(name).key"))
        try writeFile(files.certificate, Array(certificate.pemEncoded().utf8))
        try key.write(toFile: files.key)
        return files
    }

    /// A department client certificate.
    public func department(_ code: String) throws -> ClientFiles {
        try issue(.department(code: code), name: "dept-\(code)")
    }

    /// Adds the certificate in `file` to the CRL and rewrites `crl.pem`.
    public func revoke(_ file: String) throws {
        let certificate = try Certificate.loadChain(pemFile: file)[0]
        revoked.append(.init(serialNumberHex: certificate.serialNumberHex, revokedAt: Int64(time(nil)) - 60))
        try writeCRL()
    }

    private func writeCRL() throws {
        let now = Int64(time(nil))
        let crl = try CertificateIssuer.issueRevocationList(
            revoked: revoked, thisUpdate: now - 300, nextUpdate: now + 30 * 86_400, number: crlNumber, issuer: ca)
        crlNumber += 1
        try writeFile(crlFile, Array(try crl.pemEncoded().utf8))
    }

    /// A separate CA, for "certificate from another CA" tests.
    public static func foreignAuthority() throws -> Identity {
        let key = try PrivateKey.generate(.ecP256)
        return (try CertificateIssuer.issue(.authority(commonName: "foreign CA"), subjectKey: key, issuer: nil), key)
    }
}
