import CLinux
import Glibc

/// `pthread_create` refused a thread: its error number (`EAGAIN` at the process's thread limit).
public struct ThreadStartFailure: Error, Sendable {
    public let errorNumber: Int32
}

/// Starts a POSIX thread named `name` running `body` — the one wrapper of `pthread_create` in the
/// project: the event loops and service threads (HeyanHTTP's `startThread`, detached), the load
/// generator's workers (HeyanBench) and the store's writer, checkpointer and audit log reader
/// (HeyanStorage), each of which turns a failure into its module's error.
///
/// Joinable unless `detached`: the caller joins it. `body` usually captures its owner strongly, so
/// the owner lives until the thread exits. The name (the kernel keeps 15 bytes) is what `top -H`,
/// `perf` and `make bench`'s per-thread CPU report. Foundation's `Thread` is avoided so the modules
/// that start threads do not load Foundation; the closure is boxed and handed to `pthread_create`.
public func startNamedThread(
    name: String, detached: Bool, _ body: @escaping @Sendable () -> Void
) throws(ThreadStartFailure) -> pthread_t {
    let start = Unmanaged.passRetained(ThreadStart(name, body)).toOpaque()
    var thread = pthread_t()
    let created = pthread_create(
        &thread, nil,
        { raw in
            let start = Unmanaged<ThreadStart>.fromOpaque(raw!).takeRetainedValue()
            _ = start.name.withCString { heyan_set_thread_name($0) }
            start.body()
            return nil
        }, start)
    guard created == 0 else {
        Unmanaged<ThreadStart>.fromOpaque(start).release()
        throw ThreadStartFailure(errorNumber: created)
    }
    if detached { pthread_detach(thread) }
    return thread
}

private final class ThreadStart: Sendable {
    let name: String
    let body: @Sendable () -> Void
    init(_ name: String, _ body: @escaping @Sendable () -> Void) {
        self.name = String(name.prefix(15))
        self.body = body
    }
}
