import COpenSSL

/// An owned `EVP_MD_CTX` set up for signing or verifying with one key: SHA-256 for ECDSA P-256,
/// no digest for Ed25519, SM3 for SM2.
///
/// SM2 signer ID: JWS signatures use the GB/T 35276 ID `1234567812345678`. Certificate and CRL
/// signatures use OpenSSL's default (no ID), because OpenSSL 3.0's X.509 verification (chain
/// building, `openssl verify`, TLS) cannot be given an ID for CRLs: see `docs/jws-sm2.md`.
final class DigestSignatureContext: @unchecked Sendable {
    // @unchecked Sendable: the EVP_MD_CTX holds running state, so one thread at a time uses it;
    // JWSSigner's pool hands each context to exactly one caller and takes it back after.
    /// The SM2 signer ID heyan uses everywhere (GB/T 35276's default; OpenSSL's own default differs).
    static let sm2SignerID: [UInt8] = Array("1234567812345678".utf8)

    private let pointer: OpaquePointer

    /// An empty context, to be filled by ``copy(from:)``.
    init() throws {
        guard let context = EVP_MD_CTX_new() else { throw OpenSSLError.drain("EVP_MD_CTX_new", code: "openssl.memory") }
        pointer = context
    }

    deinit { EVP_MD_CTX_free(pointer) }

    /// Which SM2 signer ID to use (ignored for other key types).
    enum SM2SignerID {
        /// `1234567812345678` (GB/T 35276), for JWS.
        case standard
        /// None set: OpenSSL's X.509 default, for certificates and CRLs.
        case openSSLDefault
    }

    /// A context ready to sign with `key`.
    static func signing(with key: PrivateKey, sm2SignerID: SM2SignerID = .standard) throws -> DigestSignatureContext {
        let context = try DigestSignatureContext()
        var keyContext: OpaquePointer?
        let result = key.withUnsafePointer {
            EVP_DigestSignInit(context.pointer, &keyContext, digest(for: key.algorithm), nil, $0)
        }
        guard result == 1 else { throw OpenSSLError.drain("EVP_DigestSignInit", code: "openssl.sign") }
        if sm2SignerID == .standard { try setSignerID(keyContext, algorithm: key.algorithm) }
        return context
    }

    /// A context ready to verify with the public key `publicKey` (an `EVP_PKEY*` of `algorithm`).
    static func verifying(with publicKey: OpaquePointer, algorithm: KeyAlgorithm) throws -> DigestSignatureContext {
        let context = try DigestSignatureContext()
        var keyContext: OpaquePointer?
        guard EVP_DigestVerifyInit(context.pointer, &keyContext, digest(for: algorithm), nil, publicKey) == 1 else {
            throw OpenSSLError.drain("EVP_DigestVerifyInit", code: "openssl.verify")
        }
        try setSignerID(keyContext, algorithm: algorithm)
        return context
    }

    /// Makes this context a fresh copy of `template` (a prepared, not yet used context): cheaper
    /// than running `EVP_DigestSignInit` again.
    func copy(from template: DigestSignatureContext) throws {
        guard EVP_MD_CTX_copy_ex(pointer, template.pointer) == 1 else {
            throw OpenSSLError.drain("EVP_MD_CTX_copy_ex", code: "openssl.sign")
        }
    }

    /// One-shot signature over `message` into `output`; returns the signature length.
    func sign(_ message: UnsafeRawBufferPointer, into output: UnsafeMutableRawBufferPointer) throws -> Int {
        var length = output.count
        let result = EVP_DigestSign(
            pointer, output.baseAddress?.assumingMemoryBound(to: UInt8.self), &length,
            message.baseAddress?.assumingMemoryBound(to: UInt8.self), message.count)
        guard result == 1 else { throw OpenSSLError.drain("EVP_DigestSign", code: "openssl.sign") }
        return length
    }

    /// One-shot verification; false for a wrong signature, throws only when OpenSSL itself fails.
    func verify(_ signature: [UInt8], over message: [UInt8]) -> Bool {
        let result = signature.withUnsafeBufferPointer { signature in
            message.withUnsafeBufferPointer { message in
                EVP_DigestVerify(pointer, signature.baseAddress, signature.count, message.baseAddress, message.count)
            }
        }
        _ = OpenSSLError.drainQueue()
        return result == 1
    }

    func withUnsafePointer<R>(_ body: (OpaquePointer) throws -> R) rethrows -> R { try body(pointer) }

    private static func digest(for algorithm: KeyAlgorithm) -> OpaquePointer? {
        switch algorithm {
        case .ecP256: EVP_sha256()
        case .ed25519: nil
        case .sm2: EVP_sm3()
        }
    }

    private static func setSignerID(_ keyContext: OpaquePointer?, algorithm: KeyAlgorithm) throws {
        guard algorithm == .sm2 else { return }
        let result = sm2SignerID.withUnsafeBytes { EVP_PKEY_CTX_set1_id(keyContext, $0.baseAddress, Int32($0.count)) }
        guard result == 1 else { throw OpenSSLError.drain("EVP_PKEY_CTX_set1_id", code: "openssl.sign") }
    }
}
