#if canImport(Glibc)
import Glibc
#endif
import COpenSSL

/// What a certificate must be good for, checked against its extendedKeyUsage.
public enum CertificatePurpose: Sendable {
    /// A department's TLS client certificate (EKU clientAuth).
    case clientAuth
    /// heyan's TLS server certificate (EKU serverAuth).
    case serverAuth
    /// No EKU check: e.g. the attestation signer, whose keyUsage the caller checks itself.
    case any
}

/// The trusted department CA certificates and their CRLs: verifies certificate chains for
/// mTLS and for attestation `x5c` chains, and makes the `X509_STORE` a TLS context uses.
///
/// When a CRL is present, the leaf is checked against it (`X509_V_FLAG_CRL_CHECK`); a CA that has a
/// CRL must keep it current, or verification fails once its nextUpdate passes.
public final class TrustStore: @unchecked Sendable {
    // @unchecked Sendable: the store is filled in init and never changed; X509_STORE lookups
    // take the store's own lock, and each verification has its own X509_STORE_CTX.
    private let store: OpaquePointer
    private let hasRevocationLists: Bool

    /// The trusted CA certificates.
    public let authorities: [Certificate]
    /// The CRLs consulted during verification.
    public let revocationLists: [CertificateRevocationList]

    /// Trusts every certificate in the PEM file `caFile`, with the CRL in `crlFile` when given.
    public convenience init(caFile: String, crlFile: String?) throws {
        let authorities = try Certificate.loadChain(pemFile: caFile)
        let crls = try crlFile.map { [try CertificateRevocationList.load(pemFile: $0)] } ?? []
        try self.init(authorities: authorities, crls: crls)
    }

    /// Trusts `authorities`, checking leaves against `crls` when there are any.
    public init(authorities: [Certificate], crls: [CertificateRevocationList]) throws {
        guard !authorities.isEmpty else {
            throw CryptoError(code: "certificate.trust", message: "a trust store needs at least one CA certificate")
        }
        self.authorities = authorities
        self.revocationLists = crls
        self.hasRevocationLists = !crls.isEmpty
        self.store = try Self.makeStore(authorities: authorities, crls: crls)
    }

    deinit { X509_STORE_free(store) }

    /// Verifies leaf (chain[0]) + intermediates against the authorities and CRLs (CRL checked when
    /// present), at `time` (unix seconds; nil = now).
    ///
    /// Throws a ``CryptoError`` whose code names the reason: `certificate.expired`,
    /// `certificate.not-yet-valid`, `certificate.revoked`, `certificate.purpose`,
    /// `certificate.untrusted`, `certificate.crl` (CRL missing, expired or badly signed), or
    /// `certificate.invalid` for anything else; the message carries OpenSSL's reason.
    public func verify(_ chain: [Certificate], purpose: CertificatePurpose, at time: Int64?) throws {
        guard let leaf = chain.first else {
            throw CryptoError(code: "certificate.untrusted", message: "empty certificate chain")
        }
        guard let context = X509_STORE_CTX_new() else {
            throw OpenSSLError.drain("X509_STORE_CTX_new", code: "openssl.memory")
        }
        defer { X509_STORE_CTX_free(context) }
        guard let untrusted = heyan_sk_X509_new_null() else {
            throw OpenSSLError.drain("sk_X509_new_null", code: "openssl.memory")
        }
        defer { heyan_sk_X509_free(untrusted) }  // the stack only borrows the certificates
        for certificate in chain.dropFirst() {
            guard certificate.withUnsafePointer({ heyan_sk_X509_push(untrusted, $0) }) > 0 else {
                throw OpenSSLError.drain("sk_X509_push", code: "openssl.memory")
            }
        }
        let initialised = leaf.withUnsafePointer { X509_STORE_CTX_init(context, store, $0, untrusted) }
        guard initialised == 1 else { throw OpenSSLError.drain("X509_STORE_CTX_init", code: "openssl.verify") }
        if let time { X509_STORE_CTX_set_time(context, 0, time_t(time)) }
        switch purpose {
        case .clientAuth:
            guard X509_STORE_CTX_set_purpose(context, X509_PURPOSE_SSL_CLIENT) == 1 else {
                throw OpenSSLError.drain("X509_STORE_CTX_set_purpose", code: "openssl.verify")
            }
        case .serverAuth:
            guard X509_STORE_CTX_set_purpose(context, X509_PURPOSE_SSL_SERVER) == 1 else {
                throw OpenSSLError.drain("X509_STORE_CTX_set_purpose", code: "openssl.verify")
            }
        case .any:
            break
        }
        let result = X509_verify_cert(context)
        let status = X509_STORE_CTX_get_error(context)
        _ = OpenSSLError.drainQueue()
        if result == 1 { return }
        let reason = String(cString: X509_verify_cert_error_string(Int(status)))
        let depth = X509_STORE_CTX_get_error_depth(context)
        throw CryptoError(
            code: Self.code(forVerifyError: status),
            message: "certificate \(leaf.subject) (serial \(leaf.serialNumberHex)) is not trusted: \(reason) at depth \(depth)")
    }

    /// A new X509_STORE* (+1 reference, the caller owns it; SSL_CTX_set_cert_store takes it) with the
    /// CAs, the CRLs and X509_V_FLAG_CRL_CHECK set when a CRL is present.
    public func makeOpenSSLStore() throws -> OpaquePointer {
        try Self.makeStore(authorities: authorities, crls: revocationLists)
    }

    private static func makeStore(authorities: [Certificate], crls: [CertificateRevocationList]) throws -> OpaquePointer {
        guard let store = X509_STORE_new() else { throw OpenSSLError.drain("X509_STORE_new", code: "openssl.memory") }
        do {
            for authority in authorities {
                guard authority.withUnsafePointer({ X509_STORE_add_cert(store, $0) }) == 1 else {
                    throw OpenSSLError.drain("X509_STORE_add_cert", code: "openssl.trust-store")
                }
            }
            for crl in crls {
                guard crl.withUnsafePointer({ X509_STORE_add_crl(store, $0) }) == 1 else {
                    throw OpenSSLError.drain("X509_STORE_add_crl", code: "openssl.trust-store")
                }
            }
            if !crls.isEmpty {
                guard X509_STORE_set_flags(store, UInt(X509_V_FLAG_CRL_CHECK)) == 1 else {
                    throw OpenSSLError.drain("X509_STORE_set_flags", code: "openssl.trust-store")
                }
            }
            return store
        } catch {
            X509_STORE_free(store)
            throw error
        }
    }

    private static func code(forVerifyError status: Int32) -> String {
        switch status {
        case X509_V_ERR_CERT_HAS_EXPIRED: "certificate.expired"
        case X509_V_ERR_CERT_NOT_YET_VALID: "certificate.not-yet-valid"
        case X509_V_ERR_CERT_REVOKED: "certificate.revoked"
        case X509_V_ERR_INVALID_PURPOSE: "certificate.purpose"
        case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT, X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY,
            X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT, X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN,
            X509_V_ERR_UNABLE_TO_VERIFY_LEAF_SIGNATURE, X509_V_ERR_CERT_SIGNATURE_FAILURE,
            X509_V_ERR_CERT_UNTRUSTED:
            "certificate.untrusted"
        case X509_V_ERR_UNABLE_TO_GET_CRL, X509_V_ERR_CRL_HAS_EXPIRED, X509_V_ERR_CRL_NOT_YET_VALID,
            X509_V_ERR_CRL_SIGNATURE_FAILURE, X509_V_ERR_UNABLE_TO_DECRYPT_CRL_SIGNATURE:
            "certificate.crl"
        default: "certificate.invalid"
        }
    }
}
