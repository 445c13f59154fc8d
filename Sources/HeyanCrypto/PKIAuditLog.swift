#if canImport(Glibc)
import Glibc
#endif
import FoundationEssentials
import HeyanDomain

/// The append-only, hash-chained log of PKI operations (`heyan pki init|issue|revoke`): `pki-audit.log` next to
/// the CA key, one JSON object per line.
///
/// The PKI runs offline, on the machine that holds the CA key, not inside the service, so its operations cannot go
/// into the service's audit log (SQLite, docs/audit.md); this file is their record. Each line is
///
///     {"seq":1,"time":"…Z","operation":"issue","subject":"CN=…","serial":"0A1B…","detail":"…","user":"uid 0","prev":"<hex>","hash":"<hex>"}
///
/// where `prev` is the previous line's `hash` (64 zeros for the first) and `hash` is the SHA-256 (hex) of the
/// line without its `,"hash":"…"` member, i.e. of the bytes up to and including `"prev":"…"` followed by `}`.
/// Changing, removing or reordering a line breaks the chain at that line (``verify(path:)``); truncating the end
/// is detectable only against a copy of the last hash kept elsewhere (as for the service's checkpoints).
public enum PKIAuditLog {
    public static let fileName = "pki-audit.log"
    static let zeroHash = String(repeating: "0", count: 64)
    /// `,"hash":"` + 64 hex digits + `"}`.
    static let hashSuffixLength = 9 + 64 + 2

    /// One operation to record.
    public struct Entry: Sendable, Equatable {
        /// `ca`, `issue`, `crl`, `revoke`.
        public var operation: String
        /// The certificate's subject (RFC 2253), or the CRL issuer.
        public var subject: String
        /// The certificate serial in hex; nil for a CRL.
        public var serial: String?
        /// Anything else worth keeping: the CRL number, "already revoked".
        public var detail: String?

        public init(operation: String, subject: String, serial: String?, detail: String? = nil) {
            self.operation = operation
            self.subject = subject
            self.serial = serial
            self.detail = detail
        }
    }

    /// A line as read back.
    public struct Record: Decodable, Sendable, Equatable {
        public var seq: Int
        public var time: String
        public var operation: String
        public var subject: String
        public var serial: String?
        public var detail: String?
        public var user: String
        public var prev: String
        public var hash: String
    }

    /// Appends `entries` to the log at `path` (created 0600 when missing), under an exclusive lock, and fsyncs.
    public static func append(_ entries: [Entry], to path: String, at millis: Millis? = nil) throws {
        let descriptor = open(path, O_RDWR | O_CREAT | O_APPEND | O_CLOEXEC | O_NOFOLLOW, 0o600)
        guard descriptor >= 0 else { throw failure("cannot open \(path)") }
        defer { close(descriptor) }
        guard flock(descriptor, LOCK_EX) == 0 else { throw failure("cannot lock \(path)") }
        let existing = try verify(bytes: try readAll(descriptor, path: path), path: path)
        var seq = existing.last?.seq ?? 0
        var prev = existing.last?.hash ?? zeroHash
        let time = Timestamp.rfc3339(millis ?? Millis(CertificateSpec.currentTime()) * 1000)
        var output: [UInt8] = []
        for entry in entries {
            seq += 1
            var body = "{\"seq\":\(seq),\"time\":\(JSONText.quoted(time)),\"operation\":\(JSONText.quoted(entry.operation))"
            body += ",\"subject\":\(JSONText.quoted(entry.subject))"
            if let serial = entry.serial { body += ",\"serial\":\(JSONText.quoted(serial))" }
            if let detail = entry.detail { body += ",\"detail\":\(JSONText.quoted(detail))" }
            body += ",\"user\":\(JSONText.quoted("uid \(getuid())")),\"prev\":\(JSONText.quoted(prev))}"
            let hash = hex(Digest.sha256(Array(body.utf8)))
            output += Array(body.utf8.dropLast()) + Array(",\"hash\":\"\(hash)\"}\n".utf8)
            prev = hash
        }
        var offset = 0
        while offset < output.count {
            let written = output.withUnsafeBytes { write(descriptor, $0.baseAddress! + offset, $0.count - offset) }
            if written < 0 {
                if errno == EINTR { continue }
                throw failure("cannot write \(path)")
            }
            offset += written
        }
        guard fsync(descriptor) == 0 else { throw failure("cannot fsync \(path)") }
    }

    /// Reads and checks the whole log: every line's hash, its link to the line before, consecutive `seq`.
    /// Returns the records; throws `pki.audit-log` naming the first broken line. A missing file is an empty log.
    @discardableResult
    public static func verify(path: String) throws -> [Record] {
        guard ProtectedFile.exists(path) else { return [] }
        return try verify(bytes: try ProtectedFile.read(path), path: path)
    }

    static func verify(bytes: [UInt8], path: String) throws -> [Record] {
        var records: [Record] = []
        var lines = bytes.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false)
        if lines.last?.isEmpty == true { lines.removeLast() }
        for (index, line) in lines.enumerated() {
            func broken(_ why: String) -> CryptoError {
                CryptoError(code: "pki.audit-log", message: "\(path) line \(index + 1): \(why)")
            }
            let record: Record
            do {
                record = try JSONDecoder().decode(Record.self, from: Data(line))
            } catch {
                throw broken("not a PKI audit record")
            }
            let expectedPrev = records.last?.hash ?? zeroHash
            guard record.seq == index + 1 else { throw broken("seq \(record.seq), expected \(index + 1)") }
            guard record.prev == expectedPrev else { throw broken("prev does not match the hash of the line before") }
            guard line.count > hashSuffixLength,
                line.suffix(hashSuffixLength).elementsEqual(",\"hash\":\"\(record.hash)\"}".utf8)
            else { throw broken("the hash member is not last") }
            let body = Array(line.dropLast(hashSuffixLength)) + [UInt8(ascii: "}")]
            guard hex(Digest.sha256(body)) == record.hash else { throw broken("hash mismatch: the line was changed") }
            records.append(record)
        }
        return records
    }

    private static func readAll(_ descriptor: Int32, path: String) throws -> [UInt8] {
        guard lseek(descriptor, 0, SEEK_SET) == 0 else { throw failure("cannot seek \(path)") }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 65536)
        while true {
            let count = chunk.withUnsafeMutableBytes { read(descriptor, $0.baseAddress, $0.count) }
            if count < 0 {
                if errno == EINTR { continue }
                throw failure("cannot read \(path)")
            }
            if count == 0 { return bytes }
            bytes += chunk[0..<count]
        }
    }

    private static func failure(_ message: String) -> CryptoError {
        CryptoError(code: "pki.audit-log", message: "\(message): \(String(cString: strerror(errno)))")
    }
}

extension DevelopmentPKI {
    /// `pki-audit.log` in the PKI directory.
    public var auditLogFile: String { "\(directory)/\(PKIAuditLog.fileName)" }

    /// What ``create(departmentCodes:algorithm:)`` made, read back from its files: the CA, the server and signing
    /// certificates, one per department, and the first CRL.
    public func auditEntriesForCreation(departmentCodes: [String]) throws -> [PKIAuditLog.Entry] {
        var entries = [
            try entry(caCertificateFile, "ca", "self-signed department CA"),
            try entry(serverCertificateFile, "issue", "TLS server"),
            try entry(signingCertificateFile, "issue", "attestation signer"),
        ]
        for code in departmentCodes {
            entries.append(try entry(departmentCertificateFile(code), "issue", "department \(code)"))
        }
        let crl = try CertificateRevocationList.load(pemFile: crlFile)
        entries.append(
            PKIAuditLog.Entry(operation: "crl", subject: try caSubject(), serial: nil, detail: "cRLNumber \(crl.number), no revocations"))
        return entries
    }

    /// The entry for a department certificate made by ``issueDepartment(code:)``.
    public func auditEntryForIssue(departmentCode code: String) throws -> PKIAuditLog.Entry {
        try entry(departmentCertificateFile(code), "issue", "department \(code)")
    }

    /// The entry for a clerk's certificate made by ``issueClerk(department:clerkID:name:)``.
    public func auditEntryForClerk(department code: String, clerk id: String) throws -> PKIAuditLog.Entry {
        try entry(clerkCertificateFile(department: code, clerk: id), "issue", "clerk \(id) of department \(code)")
    }

    /// The entry for a ``revoke(certificateFile:)``.
    public func auditEntryForRevocation(_ revocation: Revocation, certificateFile: String) throws -> PKIAuditLog.Entry {
        let certificate = try Certificate.loadChain(pemFile: certificateFile)[0]
        let crl = try CertificateRevocationList.load(pemFile: crlFile)
        return PKIAuditLog.Entry(
            operation: "revoke", subject: certificate.subject, serial: revocation.serialNumberHex,
            detail: revocation.wasAlreadyRevoked ? "already revoked; CRL unchanged" : "cRLNumber \(crl.number)")
    }

    /// The entry of `operation` on the certificate in `file` (its subject and serial), with `detail`.
    private func entry(_ file: String, _ operation: String, _ detail: String) throws -> PKIAuditLog.Entry {
        let certificate = try Certificate.loadChain(pemFile: file)[0]
        return PKIAuditLog.Entry(
            operation: operation, subject: certificate.subject, serial: certificate.serialNumberHex, detail: detail)
    }

    private func caSubject() throws -> String { try Certificate.loadChain(pemFile: caCertificateFile)[0].subject }
}
