import COpenSSL

/// Ed25519 (RFC 8032) with raw 32-byte public keys, as C2SP signed notes carry them: the raw
/// public key of a ``PrivateKey``, a one-shot signature, and verification against raw key bytes.
public enum Ed25519 {
    /// The 32-byte public key of an Ed25519 private key.
    public static func publicKey(of key: PrivateKey) throws -> [UInt8] {
        guard key.algorithm == .ed25519 else {
            throw CryptoError(code: "key.unsupported", message: "an Ed25519 key is required, got \(key.algorithm.rawValue)")
        }
        var bytes = [UInt8](repeating: 0, count: 32)
        var length = bytes.count
        let ok = key.withUnsafePointer { EVP_PKEY_get_raw_public_key($0, &bytes, &length) }
        guard ok == 1, length == 32 else {
            throw OpenSSLError.drain("EVP_PKEY_get_raw_public_key", code: "openssl.key-encode")
        }
        return bytes
    }

    /// The private key made from a 32-byte seed (RFC 8032 §5.1.5); for fixed test keys.
    public static func privateKey(seed: [UInt8]) throws -> PrivateKey {
        guard seed.count == 32 else { throw CryptoError(code: "key.invalid", message: "an Ed25519 seed is 32 bytes") }
        guard let key = EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, nil, seed, seed.count) else {
            throw OpenSSLError.drain("EVP_PKEY_new_raw_private_key", code: "openssl.key-load")
        }
        return try PrivateKey(takingOwnership: key)
    }

    /// The 64-byte signature of `message`.
    public static func sign(_ message: [UInt8], with key: PrivateKey) throws -> [UInt8] {
        guard key.algorithm == .ed25519 else {
            throw CryptoError(code: "key.unsupported", message: "an Ed25519 key is required, got \(key.algorithm.rawValue)")
        }
        let context = try DigestSignatureContext.signing(with: key)
        var signature = [UInt8](repeating: 0, count: 64)
        let length = try message.withUnsafeBytes { message in
            try signature.withUnsafeMutableBytes { try context.sign(message, into: $0) }
        }
        guard length == 64 else { throw CryptoError(code: "openssl.sign", message: "Ed25519 signature of \(length) bytes") }
        return signature
    }

    /// Whether `signature` is a valid signature of `message` under the raw `publicKey`.
    public static func verify(_ signature: [UInt8], of message: [UInt8], publicKey: [UInt8]) -> Bool {
        guard publicKey.count == 32, signature.count == 64,
            let key = EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, nil, publicKey, publicKey.count)
        else {
            _ = OpenSSLError.drainQueue()
            return false
        }
        defer { EVP_PKEY_free(key) }
        guard let context = try? DigestSignatureContext.verifying(with: key, algorithm: .ed25519) else { return false }
        return context.verify(signature, over: message)
    }
}
