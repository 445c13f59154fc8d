import COpenSSL

/// A private key (an owned OpenSSL `EVP_PKEY`): generated, loaded from PKCS#8 PEM, written back.
///
/// Key files are private: ``load(pemFile:)`` refuses one that group or others may access and
/// ``write(toFile:)`` creates its file `0600`.
public final class PrivateKey: @unchecked Sendable {
    // @unchecked Sendable: the EVP_PKEY is never mutated after init, and OpenSSL allows a
    // const EVP_PKEY to be used from many threads at once (each operation has its own context).
    private let pointer: OpaquePointer

    /// The key type, decided once when the key is made or loaded.
    public let algorithm: KeyAlgorithm

    /// Takes over an `EVP_PKEY*` (+1 reference), freed when this object goes away. Throws
    /// `key.unsupported` (and frees it) for a key type heyan does not use.
    public init(takingOwnership pointer: OpaquePointer) throws {
        guard let algorithm = KeyAlgorithm(publicKey: pointer) else {
            EVP_PKEY_free(pointer)
            throw CryptoError(code: "key.unsupported", message: "unsupported key type (heyan uses ec-p256, ed25519, sm2)")
        }
        self.pointer = pointer
        self.algorithm = algorithm
    }

    deinit { EVP_PKEY_free(pointer) }

    /// Generates a new key.
    public static func generate(_ algorithm: KeyAlgorithm) throws -> PrivateKey {
        let name: String
        switch algorithm {
        case .ecP256: name = "EC"
        case .ed25519: name = "ED25519"
        case .sm2: name = "SM2"
        }
        guard let context = EVP_PKEY_CTX_new_from_name(nil, name, nil) else {
            throw OpenSSLError.drain("EVP_PKEY_CTX_new_from_name(\(name))", code: "openssl.key-generate")
        }
        defer { EVP_PKEY_CTX_free(context) }
        guard EVP_PKEY_keygen_init(context) == 1 else {
            throw OpenSSLError.drain("EVP_PKEY_keygen_init", code: "openssl.key-generate")
        }
        if algorithm == .ecP256 {
            guard EVP_PKEY_CTX_set_group_name(context, "P-256") == 1 else {
                throw OpenSSLError.drain("EVP_PKEY_CTX_set_group_name", code: "openssl.key-generate")
            }
        }
        var key: OpaquePointer?
        guard EVP_PKEY_generate(context, &key) == 1, let key else {
            throw OpenSSLError.drain("EVP_PKEY_generate", code: "openssl.key-generate")
        }
        return try PrivateKey(takingOwnership: key)
    }

    /// Loads an unencrypted PEM private key from a file that only its owner may access.
    ///
    /// Refuses (error code `key.permissions`) a key file readable/writable by group or others,
    /// naming the file and its mode.
    public static func load(pemFile path: String) throws -> PrivateKey {
        let bytes = try ProtectedFile.readOwnerOnly(path)
        return try PrivateKey(pemBytes: bytes, source: path)
    }

    /// Parses an unencrypted PEM private key (PKCS#8 or the traditional formats).
    public convenience init(pem: String) throws {
        try self.init(pemBytes: Array(pem.utf8), source: "PEM")
    }

    private convenience init(pemBytes: [UInt8], source: String) throws {
        let bio = try MemoryBIO(bytes: pemBytes)
        // A passphrase callback that refuses: an encrypted key fails instead of prompting on a terminal.
        guard let key = bio.withUnsafePointer({ PEM_read_bio_PrivateKey($0, nil, { _, _, _, _ in -1 }, nil) }) else {
            throw OpenSSLError.drain("PEM_read_bio_PrivateKey(\(source))", code: "openssl.key-load")
        }
        try self.init(takingOwnership: key)
    }

    /// The key as unencrypted PKCS#8 PEM (`-----BEGIN PRIVATE KEY-----`).
    public func pemEncoded() throws -> String {
        let bio = try MemoryBIO()
        guard bio.withUnsafePointer({ PEM_write_bio_PKCS8PrivateKey($0, pointer, nil, nil, 0, nil, nil) }) == 1 else {
            throw OpenSSLError.drain("PEM_write_bio_PKCS8PrivateKey", code: "openssl.key-encode")
        }
        return bio.string
    }

    /// The public half as SubjectPublicKeyInfo PEM (`-----BEGIN PUBLIC KEY-----`).
    public func publicKeyPEMEncoded() throws -> String {
        let bio = try MemoryBIO()
        guard bio.withUnsafePointer({ PEM_write_bio_PUBKEY($0, pointer) }) == 1 else {
            throw OpenSSLError.drain("PEM_write_bio_PUBKEY", code: "openssl.key-encode")
        }
        return bio.string
    }

    /// Writes the key as PKCS#8 PEM to `path`: the file is created with mode 0600 by open(2) (not
    /// left to the umask) and atomically replaces any file already there.
    public func write(toFile path: String) throws {
        try ProtectedFile.writeAtomically(Array(try pemEncoded().utf8), to: path, mode: 0o600)
    }

    /// Calls `body` with the `EVP_PKEY*`, valid only for the duration of the call. Do not free it.
    public func withUnsafePointer<R>(_ body: (OpaquePointer) throws -> R) rethrows -> R { try body(pointer) }
}

extension KeyAlgorithm {
    /// The heyan algorithm of an `EVP_PKEY` (private or public), nil for any other key type.
    init?(publicKey key: OpaquePointer) {
        if EVP_PKEY_is_a(key, "SM2") == 1 {
            self = .sm2
        } else if EVP_PKEY_is_a(key, "ED25519") == 1 {
            self = .ed25519
        } else if EVP_PKEY_is_a(key, "EC") == 1 {
            var name = [CChar](repeating: 0, count: 64)
            var length = 0
            guard EVP_PKEY_get_group_name(key, &name, name.count, &length) == 1 else {
                _ = OpenSSLError.drainQueue()
                return nil
            }
            let group = name.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }
            switch group {
            case "prime256v1", "P-256", "secp256r1": self = .ecP256
            case "SM2": self = .sm2
            default: return nil
            }
        } else {
            return nil
        }
    }
}
