import COpenSSL

/// A certificate revocation list (an owned OpenSSL `X509_CRL`).
///
/// Made by ``CertificateIssuer/issueRevocationList(revoked:thisUpdate:nextUpdate:number:issuer:)``;
/// used by ``TrustStore`` to refuse revoked department certificates.
public final class CertificateRevocationList: @unchecked Sendable {
    // @unchecked Sendable: the X509_CRL is never mutated after init; OpenSSL sorts and caches its
    // revoked entries under the CRL's own lock, so concurrent lookups are safe.
    private let pointer: OpaquePointer

    /// One revoked certificate: its serial (uppercase hex) and when it was revoked (unix seconds).
    public struct RevokedCertificate: Sendable, Equatable {
        public var serialNumberHex: String
        public var revokedAt: Int64
        public init(serialNumberHex: String, revokedAt: Int64) {
            self.serialNumberHex = serialNumberHex.uppercased()
            self.revokedAt = revokedAt
        }
    }

    /// Takes over an `X509_CRL*` (+1 reference); it is freed when this object goes away.
    public init(takingOwnership pointer: OpaquePointer) {
        self.pointer = pointer
    }

    deinit { X509_CRL_free(pointer) }

    /// Parses the first CRL of a PEM text.
    public convenience init(pem: String) throws {
        let bio = try MemoryBIO(string: pem)
        guard let crl = bio.withUnsafePointer({ PEM_read_bio_X509_CRL($0, nil, nil, nil) }) else {
            throw OpenSSLError.drain("PEM_read_bio_X509_CRL", code: "openssl.crl-parse")
        }
        self.init(takingOwnership: crl)
    }

    /// Loads the first CRL of a PEM file.
    public static func load(pemFile path: String) throws -> CertificateRevocationList {
        let bytes = try ProtectedFile.read(path)
        let bio = try MemoryBIO(bytes: bytes)
        guard let crl = bio.withUnsafePointer({ PEM_read_bio_X509_CRL($0, nil, nil, nil) }) else {
            throw OpenSSLError.drain("PEM_read_bio_X509_CRL(\(path))", code: "openssl.crl-parse")
        }
        return CertificateRevocationList(takingOwnership: crl)
    }

    /// The PEM encoding (`-----BEGIN X509 CRL-----`).
    public func pemEncoded() throws -> String {
        let bio = try MemoryBIO()
        guard bio.withUnsafePointer({ PEM_write_bio_X509_CRL($0, pointer) }) == 1 else {
            throw OpenSSLError.drain("PEM_write_bio_X509_CRL", code: "openssl.crl-encode")
        }
        return bio.string
    }

    /// The revoked entries, in the CRL's order.
    public var revokedCertificates: [RevokedCertificate] {
        guard let stack = X509_CRL_get_REVOKED(pointer) else { return [] }
        var result: [RevokedCertificate] = []
        for index in 0 ..< heyan_sk_X509_REVOKED_num(stack) {
            guard let entry = heyan_sk_X509_REVOKED_value(stack, index) else { continue }
            let serial = X509_REVOKED_get0_serialNumber(entry).map { SerialNumber.hex($0) } ?? ""
            let date = ASN1Time.unixSeconds(X509_REVOKED_get0_revocationDate(entry))
            result.append(RevokedCertificate(serialNumberHex: serial, revokedAt: date))
        }
        return result
    }

    /// The serial numbers of the revoked certificates, uppercase hex.
    public var revokedSerialNumbersHex: [String] { revokedCertificates.map(\.serialNumberHex) }

    /// When the CRL was issued (unix seconds).
    public var thisUpdate: Int64 { ASN1Time.unixSeconds(X509_CRL_get0_lastUpdate(pointer)) }

    /// When the next CRL is due (unix seconds); after it, verifiers refuse this CRL as expired.
    public var nextUpdate: Int64? {
        X509_CRL_get0_nextUpdate(pointer).map { ASN1Time.unixSeconds($0) }
    }

    /// The issuer name in RFC 2253 form.
    public var issuer: String {
        guard let bio = try? MemoryBIO(), let name = X509_CRL_get_issuer(pointer) else { return "" }
        _ = bio.withUnsafePointer { X509_NAME_print_ex($0, name, 0, heyan_XN_FLAG_RFC2253()) }
        return bio.string
    }

    /// The cRLNumber extension, 0 when absent.
    public var number: Int {
        guard let raw = X509_CRL_get_ext_d2i(pointer, NID_crl_number, nil, nil) else {
            _ = OpenSSLError.drainQueue()
            return 0
        }
        let integer = raw.assumingMemoryBound(to: ASN1_INTEGER.self)
        defer { ASN1_INTEGER_free(integer) }
        return Int(ASN1_INTEGER_get(integer))
    }

    /// Calls `body` with the `X509_CRL*`, valid only for the duration of the call. Do not free it.
    public func withUnsafePointer<R>(_ body: (OpaquePointer) throws -> R) rethrows -> R { try body(pointer) }
}
