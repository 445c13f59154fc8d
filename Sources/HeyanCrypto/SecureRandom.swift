import COpenSSL

/// Random bytes from OpenSSL's CSPRNG (seeded by the kernel), for identifiers and tokens.
public enum SecureRandom {
    /// `count` random bytes. OpenSSL's RAND_bytes fails only if the CSPRNG cannot be seeded, in
    /// which case heyan cannot safely issue identifiers and stops.
    public static func bytes(_ count: Int) -> [UInt8] {
        var bytes = [UInt8](repeating: 0, count: count)
        guard RAND_bytes(&bytes, Int32(count)) == 1 else {
            fatalError("RAND_bytes failed: \(OpenSSLError.drainQueue().map(\.text))")
        }
        return bytes
    }
}
