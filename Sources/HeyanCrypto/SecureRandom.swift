import COpenSSL
import Synchronization

/// Random bytes from OpenSSL's CSPRNG (seeded by the kernel), for identifiers and tokens.
///
/// Small draws come from a pool that `RAND_bytes` fills 512 bytes at a time, each byte handed out
/// once: one `RAND_bytes` call costs ~6,000 instructions (DRBG locking and reseed checks) whatever
/// its size, and a data-sharing verification draws twice (its id and its attestation's) on the
/// event loop (docs/performance.md, issue 16). The bytes are the same CSPRNG output either way.
public enum SecureRandom {
    /// `count` random bytes. OpenSSL's RAND_bytes fails only if the CSPRNG cannot be seeded, in
    /// which case heyan cannot safely issue identifiers and stops.
    public static func bytes(_ count: Int) -> [UInt8] {
        guard count <= RandomPool.largestDraw else { return generated(count) }
        return pool.withLock { $0.take(count) }
    }

    private static let pool = Mutex(RandomPool())

    private static func generated(_ count: Int) -> [UInt8] {
        var bytes = [UInt8](repeating: 0, count: count)
        bytes.withUnsafeMutableBufferPointer { fill($0) }
        return bytes
    }

    fileprivate static func fill(_ buffer: UnsafeMutableBufferPointer<UInt8>) {
        guard let base = buffer.baseAddress else { return }
        guard RAND_bytes(base, Int32(buffer.count)) == 1 else {
            fatalError("RAND_bytes failed: \(OpenSSLError.drainQueue().map(\.text))")
        }
    }
}

/// CSPRNG output not handed out yet: `bytes[next...]`.
private struct RandomPool {
    static let size = 512
    static let largestDraw = 64

    private var bytes = [UInt8](repeating: 0, count: RandomPool.size)
    private var next = RandomPool.size

    mutating func take(_ count: Int) -> [UInt8] {
        if next + count > bytes.count {
            bytes.withUnsafeMutableBufferPointer { SecureRandom.fill($0) }
            next = 0
        }
        defer { next += count }
        return Array(bytes[next..<next + count])
    }
}
