#if canImport(Glibc)
import Glibc
#endif
import HeyanDomain
import HeyanThreads

/// A failed system call, with `errno` and its text.
public struct SystemError: HeyanError, Equatable {
    public let code: String
    public let call: String
    public let errnoValue: Int32

    public var message: String { "\(call) failed: \(String(cString: strerror(errnoValue))) (errno \(errnoValue))" }

    public init(code: String, call: String, errnoValue: Int32 = errno) {
        self.code = code
        self.call = call
        self.errnoValue = errnoValue
    }
}

/// Starts a detached POSIX thread named `name` running `body` (``startNamedThread(name:detached:_:)``);
/// throws `system.thread` when the system refuses one.
public func startThread(name: String, _ body: @escaping @Sendable () -> Void) throws -> pthread_t {
    do {
        return try startNamedThread(name: name, detached: true, body)
    } catch {
        throw SystemError(code: "system.thread", call: "pthread_create", errnoValue: error.errorNumber)
    }
}
