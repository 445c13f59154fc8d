#if canImport(Glibc)
import Glibc
#endif
import CLinux
import HeyanDomain

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

/// Starts a detached POSIX thread named `name` running `body`.
///
/// Foundation's `Thread` is avoided so the HTTP module does not load Foundation; the closure is
/// boxed and handed to `pthread_create`.
public func startThread(name: String, _ body: @escaping @Sendable () -> Void) throws -> pthread_t {
    final class Box: Sendable {
        let name: String
        let body: @Sendable () -> Void
        init(_ name: String, _ body: @escaping @Sendable () -> Void) {
            self.name = String(name.prefix(15))
            self.body = body
        }
    }
    let box = Unmanaged.passRetained(Box(name, body)).toOpaque()
    var thread = pthread_t()
    let result = pthread_create(&thread, nil, { raw in
        let box = Unmanaged<Box>.fromOpaque(raw!).takeRetainedValue()
        _ = box.name.withCString { heyan_set_thread_name($0) }
        box.body()
        return nil
    }, box)
    guard result == 0 else {
        Unmanaged<Box>.fromOpaque(box).release()
        throw SystemError(code: "system.thread", call: "pthread_create", errnoValue: result)
    }
    pthread_detach(thread)
    return thread
}
