import COpenSSL
import HeyanDomain

/// A failed OpenSSL call, with the OpenSSL error queue drained into it.
///
/// Every OpenSSL failure in heyan becomes one of these via ``OpenSSLError/drain(_:code:)`` so the
/// queue never leaks into an unrelated later call on the same thread.
public struct OpenSSLError: HeyanError, Equatable {
    /// One entry of OpenSSL's per-thread error queue.
    public struct Entry: Sendable, Equatable {
        public let library: Int32
        public let reason: Int32
        public let text: String
    }

    /// heyan's code for what was being attempted, e.g. `openssl.key-load`.
    public let code: String
    /// The OpenSSL function (or step) that failed.
    public let operation: String
    /// The drained error queue, oldest first.
    public let entries: [Entry]

    public var message: String {
        let details = entries.map(\.text).joined(separator: "; ")
        return details.isEmpty ? "\(operation) failed" : "\(operation) failed: \(details)"
    }

    public init(code: String, operation: String, entries: [Entry] = []) {
        self.code = code
        self.operation = operation
        self.entries = entries
    }

    /// Builds an error for `operation`, draining the calling thread's OpenSSL error queue.
    public static func drain(_ operation: String, code: String) -> OpenSSLError {
        OpenSSLError(code: code, operation: operation, entries: drainQueue())
    }

    /// Empties the calling thread's OpenSSL error queue and returns its entries, oldest first.
    public static func drainQueue() -> [Entry] {
        var entries: [Entry] = []
        while true {
            let packed = ERR_get_error()
            if packed == 0 { break }
            var buffer = [CChar](repeating: 0, count: 256)
            ERR_error_string_n(packed, &buffer, buffer.count)
            let text = buffer.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }
            entries.append(Entry(library: ERR_GET_LIB(packed), reason: ERR_GET_REASON(packed), text: text))
        }
        return entries
    }
}
