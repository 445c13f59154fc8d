import CSQLite
import Glibc
import HeyanDomain

/// Random bytes from the kernel's CSPRNG (`/dev/urandom`), read 4 KiB at a time so a lease of
/// many items costs one system call rather than one per token. (Swift's Glibc module does not
/// expose `getrandom`.)
///
/// Used only by the writer thread; not `Sendable`.
final class RandomSource {
    private let descriptor: Int32
    private var buffer = [UInt8](repeating: 0, count: 4096)
    private var available = 0

    init() throws {
        descriptor = open("/dev/urandom", O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else { throw RandomSource.failure(errno) }
    }

    deinit { _ = close(descriptor) }

    /// `count` random bytes (at most 4096).
    func bytes(_ count: Int) throws -> [UInt8] {
        precondition(count <= buffer.count)
        if available < count { try refill() }
        let start = buffer.count - available
        available -= count
        let out = Array(buffer[start..<start + count])
        // Bytes handed out are not kept around.
        for index in start..<start + count { buffer[index] = 0 }
        return out
    }

    /// 128 random bits as 32 lowercase hex characters: a lease token.
    func token() throws -> String {
        hex(try bytes(16))
    }

    private func refill() throws {
        var filled = 0
        let total = buffer.count
        while filled < total {
            let count = buffer.withUnsafeMutableBytes { raw in
                read(descriptor, raw.baseAddress! + filled, total - filled)
            }
            if count > 0 {
                filled += count
            } else if count < 0, errno == EINTR {
                continue
            } else {
                throw RandomSource.failure(count == 0 ? EIO : errno)
            }
        }
        available = total
    }

    private static func failure(_ code: Int32) -> SQLiteError {
        SQLiteError(
            code: "sqlite.random", resultCode: SQLITE_ERROR,
            message: "cannot read /dev/urandom: \(String(cString: strerror(code)))")
    }
}

@available(*, unavailable)
extension RandomSource: Sendable {}
