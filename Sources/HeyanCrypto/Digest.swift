import COpenSSL

/// SHA-256 and HMAC-SHA-256, for the audit hash chain and keyed subject hashes.
public enum Digest {
    /// SHA-256 fetched once for the process (``SHA256Algorithm``).
    private static let sha256Algorithm: SHA256Algorithm = {
        do { return try SHA256Algorithm() } catch { fatalError("\(error)") }
    }()

    /// SHA-256 of `bytes` (32 bytes).
    public static func sha256(_ bytes: [UInt8]) -> [UInt8] {
        var length: UInt32 = 0
        var ok: Int32 = 0
        let output = [UInt8](unsafeUninitializedCapacity: 32) { buffer, count in
            ok = bytes.withUnsafeBytes { input in
                // An explicitly fetched EVP_MD: EVP_sha256() would make every call look SHA-256 up
                // in the provider store again, on every call.
                sha256Algorithm.withUnsafePointer {
                    EVP_Digest(input.baseAddress, input.count, buffer.baseAddress, &length, $0, nil)
                }
            }
            count = ok == 1 && length == 32 ? 32 : 0
        }
        // Fails only when OpenSSL cannot allocate; there is nothing sensible to return instead.
        guard ok == 1, length == 32 else { fatalError("\(OpenSSLError.drain("EVP_Digest(SHA-256)", code: "openssl.digest"))") }
        return output
    }

    /// HMAC-SHA-256 (RFC 2104) of `data` under `key` (32 bytes).
    public static func hmacSHA256(key: [UInt8], data: [UInt8]) -> [UInt8] {
        var output = [UInt8](repeating: 0, count: 32)
        var length = 0
        let result = key.withUnsafeBytes { key in
            data.withUnsafeBytes { data in
                // EVP_Q_mac reads a NULL key pointer as "no key": give it a valid pointer for an empty key.
                withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 1) { empty in
                    EVP_Q_mac(
                        nil, "HMAC", nil, "SHA256", nil,
                        key.count == 0 ? UnsafeRawPointer(empty.baseAddress!) : key.baseAddress, key.count,
                        data.baseAddress?.assumingMemoryBound(to: UInt8.self), data.count,
                        &output, output.count, &length)
                }
            }
        }
        guard result != nil, length == 32 else {
            fatalError("\(OpenSSLError.drain("EVP_Q_mac(HMAC-SHA256)", code: "openssl.digest"))")
        }
        return output
    }
}
