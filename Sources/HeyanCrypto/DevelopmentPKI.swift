import COpenSSL
import FoundationEssentials
import HeyanDomain

/// heyan's development PKI in one directory, made by `heyan pki init|issue|revoke`:
///
/// - `ca.pem`, `ca.key`: the department CA (CA:TRUE, keyCertSign + cRLSign, 10 years)
/// - `server.pem`, `server.key`: heyan's TLS server (SAN DNS:localhost, IP:127.0.0.1; EKU serverAuth)
/// - `signing.pem`, `signing.key`: the attestation signer (keyUsage digitalSignature)
/// - `departments/CODE.pem`, `CODE.key`, `CODE.p12`: one client certificate per department (SAN URI
///   `urn:heyan:dept:CODE`, EKU clientAuth); the `.p12` (empty password, AES-256-CBC/PBKDF2, SHA-256
///   MAC: OpenSSL 3's defaults, which current browsers import) holds key, certificate and CA
/// - `clerks/CODE/ID.pem`, `ID.key`, `ID.p12`: one client certificate per clerk (经办人) of a
///   department (``CertificateSpec/clerk(department:clerkID:name:notBefore:notAfter:)``), made by
///   `heyan pki issue --department CODE --clerk ID --name 姓名`; revoked like any other
/// - `crl.pem`: the CA's CRL, valid ``crlValidity`` and re-signed by every revocation
/// - `log.key`: the audit log's Ed25519 key, which signs its C2SP checkpoints (docs/transparency-log.md)
///
/// Private keys and `.p12` files are created mode 0600. For development and tests only: the CA key
/// sits next to everything else.
public struct DevelopmentPKI: Sendable {
    /// The directory holding the PKI.
    public let directory: String

    /// How long a CRL made here stays valid (365 days), so a development setup does not break monthly.
    public static let crlValidity: Int64 = 365 * CertificateSpec.day

    public init(directory: String) {
        self.directory = directory
    }

    public var caCertificateFile: String { "\(directory)/ca.pem" }
    public var caKeyFile: String { "\(directory)/ca.key" }
    public var serverCertificateFile: String { "\(directory)/server.pem" }
    public var serverKeyFile: String { "\(directory)/server.key" }
    public var signingCertificateFile: String { "\(directory)/signing.pem" }
    public var signingKeyFile: String { "\(directory)/signing.key" }
    public var crlFile: String { "\(directory)/crl.pem" }
    public var logKeyFile: String { "\(directory)/log.key" }
    public var departmentsDirectory: String { "\(directory)/departments" }
    public func departmentCertificateFile(_ code: String) -> String { "\(departmentsDirectory)/\(code).pem" }
    public func departmentKeyFile(_ code: String) -> String { "\(departmentsDirectory)/\(code).key" }
    public func departmentPKCS12File(_ code: String) -> String { "\(departmentsDirectory)/\(code).p12" }
    public func clerksDirectory(_ code: String) -> String { "\(directory)/clerks/\(code)" }
    public func clerkCertificateFile(department code: String, clerk id: String) -> String { "\(clerksDirectory(code))/\(id).pem" }
    public func clerkKeyFile(department code: String, clerk id: String) -> String { "\(clerksDirectory(code))/\(id).key" }
    public func clerkPKCS12File(department code: String, clerk id: String) -> String { "\(clerksDirectory(code))/\(id).p12" }

    /// Makes a new PKI in ``directory`` (created if missing) with a certificate for every department
    /// code, all keys of `algorithm`. Refuses (`pki.exists`) when the directory already holds one.
    /// Returns the files it wrote, in order.
    @discardableResult
    public func create(departmentCodes: [String], algorithm: KeyAlgorithm = .ecP256) throws -> [String] {
        for code in departmentCodes { try Self.validateDepartmentCode(code) }
        if let duplicate = Dictionary(grouping: departmentCodes, by: { $0 }).first(where: { $0.value.count > 1 })?.key {
            throw CryptoError(code: "pki.department", message: "department '\(duplicate)' is listed twice")
        }
        for existing in [caCertificateFile, caKeyFile, crlFile] where ProtectedFile.exists(existing) {
            throw CryptoError(
                code: "pki.exists",
                message: "\(directory) already holds a PKI (\(existing) exists); refusing to overwrite it: remove it or choose another --out")
        }
        try ProtectedFile.makeDirectory(directory)
        try ProtectedFile.makeDirectory(departmentsDirectory)
        var written: [String] = []

        let caKey = try PrivateKey.generate(algorithm)
        let ca = try CertificateIssuer.issue(
            .authority(commonName: "heyan development department CA"), subjectKey: caKey, issuer: nil)
        try write(ca, key: caKey, certificateFile: caCertificateFile, keyFile: caKeyFile, into: &written)
        let issuer = (certificate: ca, key: caKey)

        let serverKey = try PrivateKey.generate(algorithm)
        let server = try CertificateIssuer.issue(.server(), subjectKey: serverKey, issuer: issuer)
        try write(server, key: serverKey, certificateFile: serverCertificateFile, keyFile: serverKeyFile, into: &written)

        let signingKey = try PrivateKey.generate(algorithm)
        let signing = try CertificateIssuer.issue(.attestationSigner(), subjectKey: signingKey, issuer: issuer)
        try write(signing, key: signingKey, certificateFile: signingCertificateFile, keyFile: signingKeyFile, into: &written)

        for code in departmentCodes {
            written += try issueDepartment(code: code, issuer: issuer, algorithm: algorithm)
        }
        if try createLogKey() { written.append(logKeyFile) }

        let now = CertificateSpec.currentTime()
        let crl = try CertificateIssuer.issueRevocationList(
            revoked: [], thisUpdate: now - CertificateSpec.backdating, nextUpdate: now + Self.crlValidity, number: 1,
            issuer: issuer)
        try ProtectedFile.writeAtomically(Array(try crl.pemEncoded().utf8), to: crlFile, mode: 0o644)
        written.append(crlFile)
        return written
    }

    /// Makes the audit log's Ed25519 key (`log.key`, mode 0600) unless it exists, so that a PKI
    /// made before the transparency log gets one too (`make pki`). Returns whether it wrote one.
    @discardableResult
    public func createLogKey() throws -> Bool {
        guard !ProtectedFile.exists(logKeyFile) else { return false }
        try ProtectedFile.makeDirectory(directory)
        try PrivateKey.generate(.ed25519).write(toFile: logKeyFile)
        return true
    }

    /// Adds a certificate for one more department, with a key of the CA's algorithm. Refuses
    /// (`pki.exists`) when that department already has a certificate. Returns the files written.
    @discardableResult
    public func issueDepartment(code: String) throws -> [String] {
        try Self.validateDepartmentCode(code)
        let issuer = try loadIssuer()
        try ProtectedFile.makeDirectory(departmentsDirectory)
        return try issueDepartment(code: code, issuer: issuer, algorithm: issuer.key.algorithm)
    }

    /// Adds a certificate for one clerk (经办人) of department `code`: the department's SAN URI, the
    /// clerk's `urn:heyan:clerk:<clerkID>` and `name` as commonName, with a key of the CA's
    /// algorithm. Refuses (`pki.exists`) when that clerk already has one (revoke it and choose a
    /// new ID, or remove the files, to reissue). Returns the files written.
    @discardableResult
    public func issueClerk(department code: String, clerkID: String, name: String) throws -> [String] {
        try Self.validateDepartmentCode(code)
        guard CodeSyntax.isClerkID(clerkID) else {
            throw CryptoError(code: "pki.clerk", message: "'\(clerkID)' is not a clerk ID (\(CodeSyntax.clerkIDRule))")
        }
        guard !name.isEmpty, name.count <= 64, !name.unicodeScalars.contains(where: { $0.value < 0x20 || $0.value == 0x7F })
        else {
            throw CryptoError(code: "pki.clerk", message: "the clerk's name must be 1-64 characters without control characters")
        }
        let issuer = try loadIssuer()
        try ProtectedFile.makeDirectory("\(directory)/clerks")
        try ProtectedFile.makeDirectory(clerksDirectory(code))
        return try issueClient(
            .clerk(department: code, clerkID: clerkID, name: name), friendlyName: "\(code)/\(clerkID)",
            certificateFile: clerkCertificateFile(department: code, clerk: clerkID),
            keyFile: clerkKeyFile(department: code, clerk: clerkID),
            bundleFile: clerkPKCS12File(department: code, clerk: clerkID), issuer: issuer,
            algorithm: issuer.key.algorithm, owner: "clerk '\(clerkID)' of department '\(code)'")
    }

    /// What ``revoke(certificateFile:)`` did.
    public struct Revocation: Sendable, Equatable {
        public let serialNumberHex: String
        /// True when the serial was already on the CRL (the CRL is then left as it was).
        public let wasAlreadyRevoked: Bool
    }

    /// Adds the serial of the certificate in `certificateFile` (which this CA must have issued) to
    /// `crl.pem`, re-signed with the next cRLNumber and nextUpdate ``crlValidity`` from now.
    @discardableResult
    public func revoke(certificateFile: String) throws -> Revocation {
        let issuer = try loadIssuer()
        let certificate = try Certificate.loadChain(pemFile: certificateFile)[0]
        guard certificate.isSigned(by: issuer.certificate) else {
            throw CryptoError(
                code: "pki.foreign-certificate",
                message: "\(certificateFile) (\(certificate.subject)) was not issued by this CA (\(caCertificateFile))")
        }
        let serial = certificate.serialNumberHex
        let current = try CertificateRevocationList.load(pemFile: crlFile)
        var revoked = current.revokedCertificates
        if revoked.contains(where: { $0.serialNumberHex == serial }) {
            return Revocation(serialNumberHex: serial, wasAlreadyRevoked: true)
        }
        let now = CertificateSpec.currentTime()
        revoked.append(CertificateRevocationList.RevokedCertificate(serialNumberHex: serial, revokedAt: now))
        let crl = try CertificateIssuer.issueRevocationList(
            revoked: revoked, thisUpdate: now, nextUpdate: now + Self.crlValidity, number: current.number + 1,
            issuer: issuer)
        try ProtectedFile.writeAtomically(Array(try crl.pemEncoded().utf8), to: crlFile, mode: 0o644)
        return Revocation(serialNumberHex: serial, wasAlreadyRevoked: false)
    }

    // MARK: - Department codes

    /// Checks a department code: 1–64 characters, lowercase ASCII letters, digits and hyphens, not
    /// starting with a hyphen (it becomes a file name and part of a URI). Throws `pki.department`.
    public static func validateDepartmentCode(_ code: String) throws {
        let allowed = code.utf8.allSatisfy { ($0 >= 0x61 && $0 <= 0x7A) || ($0 >= 0x30 && $0 <= 0x39) || $0 == 0x2D }
        guard !code.isEmpty, code.utf8.count <= 64, allowed, !code.hasPrefix("-") else {
            throw CryptoError(
                code: "pki.department",
                message: "'\(code)' is not a department code (lowercase letters, digits and hyphens, 1-64 characters)")
        }
    }

    /// The department codes of a `departments.json` document, `{"departments": [{"code": …}, …]}`,
    /// in order. Other fields are ignored here.
    public static func departmentCodes(fromJSON bytes: [UInt8]) throws -> [String] {
        struct DepartmentsFile: Decodable {
            struct Department: Decodable { var code: String }
            var departments: [Department]
        }
        let file: DepartmentsFile
        do {
            file = try JSONDecoder().decode(DepartmentsFile.self, from: Data(bytes))
        } catch {
            throw CryptoError(
                code: "pki.departments-file",
                message: "expected {\"departments\": [{\"code\": \"…\"}, …]}: \(error)")
        }
        return file.departments.map(\.code)
    }

    // MARK: - Parts

    private func loadIssuer() throws -> (certificate: Certificate, key: PrivateKey) {
        guard ProtectedFile.exists(caCertificateFile) else {
            throw CryptoError(code: "pki.missing", message: "\(directory) holds no PKI (no ca.pem): run heyan pki init first")
        }
        let certificate = try Certificate.loadChain(pemFile: caCertificateFile)[0]
        let key = try PrivateKey.load(pemFile: caKeyFile)
        return (certificate, key)
    }

    private func issueDepartment(
        code: String, issuer: (certificate: Certificate, key: PrivateKey), algorithm: KeyAlgorithm
    ) throws -> [String] {
        try issueClient(
            .department(code: code), friendlyName: code, certificateFile: departmentCertificateFile(code),
            keyFile: departmentKeyFile(code), bundleFile: departmentPKCS12File(code), issuer: issuer, algorithm: algorithm,
            owner: "department '\(code)'")
    }

    /// A client certificate of `spec` with its key and `.p12`, never over existing files.
    private func issueClient(
        _ spec: CertificateSpec, friendlyName: String, certificateFile: String, keyFile: String, bundleFile: String,
        issuer: (certificate: Certificate, key: PrivateKey), algorithm: KeyAlgorithm, owner: String
    ) throws -> [String] {
        for existing in [certificateFile, keyFile, bundleFile] where ProtectedFile.exists(existing) {
            throw CryptoError(code: "pki.exists", message: "\(owner) already has \(existing); refusing to overwrite it")
        }
        let key = try PrivateKey.generate(algorithm)
        let certificate = try CertificateIssuer.issue(spec, subjectKey: key, issuer: issuer)
        var written: [String] = []
        try write(certificate, key: key, certificateFile: certificateFile, keyFile: keyFile, into: &written)
        let bundle = try PKCS12Bundle.make(
            friendlyName: friendlyName, key: key, certificate: certificate, authorities: [issuer.certificate], password: "")
        try ProtectedFile.writeAtomically(bundle, to: bundleFile, mode: 0o600)
        written.append(bundleFile)
        return written
    }

    private func write(
        _ certificate: Certificate, key: PrivateKey, certificateFile: String, keyFile: String, into written: inout [String]
    ) throws {
        try key.write(toFile: keyFile)
        written.append(keyFile)
        try ProtectedFile.writeAtomically(Array(certificate.pemEncoded().utf8), to: certificateFile, mode: 0o644)
        written.append(certificateFile)
    }
}
