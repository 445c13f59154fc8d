import COpenSSL

/// PKCS#12 files: a department's key, certificate and CA in one file a browser can import.
public enum PKCS12Bundle {
    /// DER PKCS#12 with OpenSSL 3's default protection: PBES2 with AES-256-CBC and PBKDF2 for the
    /// key and certificates, HMAC-SHA-256 MAC. `password` may be empty (as for development files).
    public static func make(
        friendlyName: String, key: PrivateKey, certificate: Certificate, authorities: [Certificate], password: String
    ) throws -> [UInt8] {
        guard let stack = heyan_sk_X509_new_null() else { throw OpenSSLError.drain("sk_X509_new_null", code: "openssl.memory") }
        defer { heyan_sk_X509_free(stack) }  // borrows the certificates; PKCS12_create copies what it needs
        for authority in authorities {
            guard authority.withUnsafePointer({ heyan_sk_X509_push(stack, $0) }) > 0 else {
                throw OpenSSLError.drain("sk_X509_push", code: "openssl.memory")
            }
        }
        let bundle = key.withUnsafePointer { pkey in
            certificate.withUnsafePointer { x509 in
                PKCS12_create(password, friendlyName, pkey, x509, stack, 0, 0, 0, 0, 0)
            }
        }
        guard let bundle else { throw OpenSSLError.drain("PKCS12_create", code: "openssl.pkcs12") }
        defer { PKCS12_free(bundle) }
        let length = i2d_PKCS12(bundle, nil)
        guard length > 0 else { throw OpenSSLError.drain("i2d_PKCS12", code: "openssl.pkcs12") }
        var der = [UInt8](repeating: 0, count: Int(length))
        let written = der.withUnsafeMutableBufferPointer { buffer in
            var cursor = buffer.baseAddress
            return i2d_PKCS12(bundle, &cursor)
        }
        guard written == length else { throw OpenSSLError.drain("i2d_PKCS12", code: "openssl.pkcs12") }
        return der
    }
}
