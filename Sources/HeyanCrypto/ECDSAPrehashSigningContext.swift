import COpenSSL
import Glibc

/// ES256's fast path: an `EVP_PKEY_CTX` initialised once with `EVP_PKEY_sign_init` and used for
/// every signature (as `openssl speed` does), plus an `EVP_MD_CTX` re-initialised with an
/// explicitly fetched SHA-256 for the hash. Avoids both `EVP_DigestSignInit` and copying a
/// context per signature.
final class ECDSAPrehashSigningContext: @unchecked Sendable {
    // @unchecked Sendable: holds running state, so one thread at a time uses it; JWSSigner's pool
    // hands each context to exactly one caller and takes it back after.
    private let keyContext: OpaquePointer
    private let digestContext: OpaquePointer
    private let digest: SHA256Algorithm
    /// SHA-256 with `prefix` already absorbed (nil without a prefix): a JWS signing input starts
    /// with the same 2.5 KB protected header (its `x5c` chain) every time, so each signature
    /// copies this state and hashes only what follows.
    private let prefixContext: OpaquePointer?
    /// The bytes `prefixContext` has absorbed.
    let prefix: [UInt8]

    init(key: PrivateKey, digest: SHA256Algorithm, prefix: [UInt8] = []) throws {
        guard let keyContext = key.withUnsafePointer({ EVP_PKEY_CTX_new_from_pkey(nil, $0, nil) }) else {
            throw OpenSSLError.drain("EVP_PKEY_CTX_new_from_pkey", code: "openssl.sign")
        }
        guard EVP_PKEY_sign_init(keyContext) == 1 else {
            EVP_PKEY_CTX_free(keyContext)
            throw OpenSSLError.drain("EVP_PKEY_sign_init", code: "openssl.sign")
        }
        guard let digestContext = EVP_MD_CTX_new() else {
            EVP_PKEY_CTX_free(keyContext)
            throw OpenSSLError.drain("EVP_MD_CTX_new", code: "openssl.memory")
        }
        var prefixContext: OpaquePointer?
        if !prefix.isEmpty {
            prefixContext = EVP_MD_CTX_new()
            let absorbed = prefixContext.map { context in
                digest.withUnsafePointer({ EVP_DigestInit_ex2(context, $0, nil) }) == 1
                    && prefix.withUnsafeBytes { EVP_DigestUpdate(context, $0.baseAddress, $0.count) } == 1
            }
            guard absorbed == true else {
                EVP_MD_CTX_free(prefixContext)
                EVP_MD_CTX_free(digestContext)
                EVP_PKEY_CTX_free(keyContext)
                throw OpenSSLError.drain("SHA-256 of the JWS header", code: "openssl.sign")
            }
        }
        self.keyContext = keyContext
        self.digestContext = digestContext
        self.digest = digest
        self.prefixContext = prefixContext
        self.prefix = prefix
    }

    deinit {
        EVP_PKEY_CTX_free(keyContext)
        EVP_MD_CTX_free(digestContext)
        EVP_MD_CTX_free(prefixContext)
    }

    /// The DER ECDSA signature over SHA-256(`message`) into `output`; returns its length.
    func sign(_ message: UnsafeRawBufferPointer, into output: UnsafeMutableRawBufferPointer) throws -> Int {
        try withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 32) { hash in
            var hashLength: UInt32 = 0
            var rest = message
            let started: Bool
            if let prefixContext, message.count >= prefix.count,
                prefix.withUnsafeBytes({ memcmp($0.baseAddress!, message.baseAddress!, prefix.count) == 0 })
            {
                started = EVP_MD_CTX_copy_ex(digestContext, prefixContext) == 1
                rest = UnsafeRawBufferPointer(rebasing: message[prefix.count...])
            } else {
                started = digest.withUnsafePointer({ EVP_DigestInit_ex2(digestContext, $0, nil) }) == 1
            }
            guard started,
                EVP_DigestUpdate(digestContext, rest.baseAddress, rest.count) == 1,
                EVP_DigestFinal_ex(digestContext, hash.baseAddress, &hashLength) == 1, hashLength == 32
            else { throw OpenSSLError.drain("SHA-256", code: "openssl.sign") }
            var length = output.count
            guard EVP_PKEY_sign(
                keyContext, output.baseAddress?.assumingMemoryBound(to: UInt8.self), &length, hash.baseAddress, 32) == 1
            else { throw OpenSSLError.drain("EVP_PKEY_sign", code: "openssl.sign") }
            return length
        }
    }
}

/// SHA-256 fetched once from the default provider (an `EVP_MD` fetched explicitly, so digest
/// initialisation does no name lookup).
final class SHA256Algorithm: @unchecked Sendable {
    // @unchecked Sendable: a fetched EVP_MD is immutable and reference-counted atomically.
    private let pointer: OpaquePointer

    init() throws {
        guard let md = EVP_MD_fetch(nil, "SHA256", nil) else { throw OpenSSLError.drain("EVP_MD_fetch(SHA256)", code: "openssl.digest") }
        pointer = md
    }

    deinit { EVP_MD_free(pointer) }

    func withUnsafePointer<R>(_ body: (OpaquePointer) throws -> R) rethrows -> R { try body(pointer) }
}
