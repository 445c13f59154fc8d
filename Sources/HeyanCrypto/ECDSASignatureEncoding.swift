import COpenSSL

/// Converts between the DER `ECDSA-Sig-Value` OpenSSL produces (for ECDSA and SM2) and the
/// fixed-width big-endian `R ‖ S` that JWS uses (RFC 7518 §3.4).
enum ECDSASignatureEncoding {
    /// Width of R and S for P-256 and SM2.
    static let componentLength = 32

    /// `R ‖ S` (64 bytes) from a DER signature.
    static func rawRS(fromDER der: UnsafeRawBufferPointer) throws -> [UInt8] {
        var cursor: UnsafePointer<UInt8>? = der.baseAddress?.assumingMemoryBound(to: UInt8.self)
        guard let signature = d2i_ECDSA_SIG(nil, &cursor, der.count) else {
            throw OpenSSLError.drain("d2i_ECDSA_SIG", code: "openssl.signature-encoding")
        }
        defer { ECDSA_SIG_free(signature) }
        var r: OpaquePointer?
        var s: OpaquePointer?
        ECDSA_SIG_get0(signature, &r, &s)
        var output = [UInt8](repeating: 0, count: 2 * componentLength)
        let written = output.withUnsafeMutableBufferPointer { buffer in
            (BN_bn2binpad(r, buffer.baseAddress, Int32(componentLength)),
             BN_bn2binpad(s, buffer.baseAddress! + componentLength, Int32(componentLength)))
        }
        guard written.0 == Int32(componentLength), written.1 == Int32(componentLength) else {
            throw OpenSSLError.drain("BN_bn2binpad", code: "openssl.signature-encoding")
        }
        return output
    }

    /// The DER signature for a 64-byte `R ‖ S`; throws `jws.signature` for any other length.
    static func der(fromRawRS raw: [UInt8]) throws -> [UInt8] {
        guard raw.count == 2 * componentLength else {
            throw CryptoError(code: "jws.signature", message: "signature must be \(2 * componentLength) bytes, got \(raw.count)")
        }
        guard let signature = ECDSA_SIG_new() else { throw OpenSSLError.drain("ECDSA_SIG_new", code: "openssl.memory") }
        defer { ECDSA_SIG_free(signature) }
        let (r, s) = raw.withUnsafeBufferPointer { buffer in
            (BN_bin2bn(buffer.baseAddress, Int32(componentLength), nil),
             BN_bin2bn(buffer.baseAddress! + componentLength, Int32(componentLength), nil))
        }
        guard let r, let s, ECDSA_SIG_set0(signature, r, s) == 1 else {
            BN_free(r)
            BN_free(s)
            throw OpenSSLError.drain("ECDSA_SIG_set0", code: "openssl.signature-encoding")
        }
        let length = i2d_ECDSA_SIG(signature, nil)
        guard length > 0 else { throw OpenSSLError.drain("i2d_ECDSA_SIG", code: "openssl.signature-encoding") }
        var der = [UInt8](repeating: 0, count: Int(length))
        _ = der.withUnsafeMutableBufferPointer { buffer in
            var cursor = buffer.baseAddress
            return i2d_ECDSA_SIG(signature, &cursor)
        }
        return der
    }
}
