#if canImport(Glibc)
import Glibc
#endif
import HeyanCrypto
import HeyanTestSupport

func fileMode(_ path: String) -> mode_t {
    var status = stat()
    guard stat(path, &status) == 0 else { return 0xFFFF }
    return status.st_mode & 0o7777
}

func now() -> Int64 { Int64(time(nil)) }

/// A CA and helpers for issuing test certificates in memory.
struct TestAuthority {
    let certificate: Certificate
    let key: PrivateKey
    var issuer: (certificate: Certificate, key: PrivateKey) { (certificate, key) }

    init(_ algorithm: KeyAlgorithm = .ecP256, name: String = "test CA") throws {
        key = try PrivateKey.generate(algorithm)
        certificate = try CertificateIssuer.issue(.authority(commonName: name, notBefore: now() - 30 * 86_400), subjectKey: key, issuer: nil)
    }

    func issue(_ spec: CertificateSpec, algorithm: KeyAlgorithm = .ecP256) throws -> (Certificate, PrivateKey) {
        let subjectKey = try PrivateKey.generate(algorithm)
        return (try CertificateIssuer.issue(spec, subjectKey: subjectKey, issuer: issuer), subjectKey)
    }

    func emptyCRL() throws -> CertificateRevocationList {
        try CertificateIssuer.issueRevocationList(
            revoked: [], thisUpdate: now() - 60, nextUpdate: now() + 86_400, number: 1, issuer: issuer)
    }
}
