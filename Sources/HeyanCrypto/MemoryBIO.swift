import COpenSSL

/// An owned OpenSSL memory `BIO`, the buffer PEM and DER functions read from and write to.
final class MemoryBIO {
    private let pointer: OpaquePointer

    /// An empty, writable memory BIO.
    init() throws {
        guard let bio = BIO_new(BIO_s_mem()) else { throw OpenSSLError.drain("BIO_new", code: "openssl.memory") }
        pointer = bio
    }

    /// A memory BIO holding a copy of `bytes`, for reading.
    convenience init(bytes: [UInt8]) throws {
        try self.init()
        let written = bytes.withUnsafeBytes { BIO_write(pointer, $0.baseAddress, Int32($0.count)) }
        guard written == Int32(bytes.count) || bytes.isEmpty else {
            throw OpenSSLError.drain("BIO_write", code: "openssl.memory")
        }
    }

    convenience init(string: String) throws { try self.init(bytes: Array(string.utf8)) }

    deinit { BIO_free(pointer) }

    func withUnsafePointer<R>(_ body: (OpaquePointer) throws -> R) rethrows -> R { try body(pointer) }

    /// Everything written to the BIO so far.
    var bytes: [UInt8] {
        var data: UnsafeMutablePointer<CChar>?
        let count = heyan_BIO_get_mem_data(pointer, &data)
        guard count > 0, let data else { return [] }
        return data.withMemoryRebound(to: UInt8.self, capacity: count) { Array(UnsafeBufferPointer(start: $0, count: count)) }
    }

    var string: String { String(decoding: bytes, as: UTF8.self) }
}

@available(*, unavailable, message: "a BIO has a read/write position: keep it on one thread")
extension MemoryBIO: Sendable {}
