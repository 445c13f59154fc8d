import COpenSSL

/// Converts between the DER `ECDSA-Sig-Value` OpenSSL produces (for ECDSA and SM2) and the
/// fixed-width big-endian `R ‖ S` that JWS uses (RFC 7518 §3.4).
enum ECDSASignatureEncoding {
    /// Width of R and S for P-256 and SM2.
    static let componentLength = 32

    /// `R ‖ S` (64 bytes) from a DER signature: `SEQUENCE { INTEGER r, INTEGER s }` in strict DER
    /// (short-form lengths, each integer positive, minimally encoded and at most 32 bytes without
    /// its sign byte), read here rather than through `d2i_ECDSA_SIG` and two `BIGNUM`s (~4,500
    /// instructions per signature on the event loop); anything else throws.
    static func rawRS(fromDER der: UnsafeRawBufferPointer) throws -> [UInt8] {
        var output = [UInt8](repeating: 0, count: 2 * componentLength)
        let parsed = output.withUnsafeMutableBytes { raw -> Bool in
            guard der.count >= 8, der.count < 0x80, der[0] == 0x30, Int(der[1]) == der.count - 2 else { return false }
            var offset = 2
            for component in 0..<2 {
                guard offset + 2 <= der.count, der[offset] == 0x02 else { return false }
                var length = Int(der[offset + 1])
                offset += 2
                guard length >= 1, length < 0x80, offset + length <= der.count, der[offset] & 0x80 == 0 else {
                    return false
                }
                if der[offset] == 0 && length > 1 {
                    // A sign byte only before a byte with its top bit set (minimal encoding).
                    guard der[offset + 1] & 0x80 != 0 else { return false }
                    offset += 1
                    length -= 1
                }
                guard length <= componentLength else { return false }
                let end = (component + 1) * componentLength
                UnsafeMutableRawBufferPointer(rebasing: raw[(end - length)..<end])
                    .copyMemory(from: UnsafeRawBufferPointer(rebasing: der[offset..<(offset + length)]))
                offset += length
            }
            return offset == der.count
        }
        guard parsed else {
            throw CryptoError(code: "openssl.signature-encoding", message: "the signature is not a DER ECDSA-Sig-Value")
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
