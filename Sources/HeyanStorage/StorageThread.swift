import CLinux
import CSQLite
import Glibc

/// Starts a joinable POSIX thread named `name` (what `make bench` and `thread-cpu.sh` report per
/// thread) running `body`: the store's own threads — the writer, the checkpointer, the audit log's
/// reader — each joined by its owner when it stops. `body` usually captures its owner strongly, so
/// the owner lives until the thread exits. Throws `sqlite.thread` naming `what` when the system
/// refuses a thread. (HeyanHTTP's `startThread` starts detached threads for the event loops; the
/// store does not depend on HeyanHTTP.)
func startStorageThread(name: String, what: String, _ body: @escaping @Sendable () -> Void) throws -> pthread_t {
    final class Start: Sendable {
        let name: String
        let body: @Sendable () -> Void
        init(_ name: String, _ body: @escaping @Sendable () -> Void) {
            self.name = String(name.prefix(15))  // the kernel keeps 15 bytes of a thread's name
            self.body = body
        }
    }
    let start = Unmanaged.passRetained(Start(name, body)).toOpaque()
    var thread = pthread_t()
    let created = pthread_create(
        &thread, nil,
        { raw in
            let start = Unmanaged<Start>.fromOpaque(raw!).takeRetainedValue()
            _ = start.name.withCString { heyan_set_thread_name($0) }
            start.body()
            return nil
        }, start)
    guard created == 0 else {
        Unmanaged<Start>.fromOpaque(start).release()
        throw SQLiteError(code: "sqlite.thread", resultCode: SQLITE_ERROR, message: "cannot start \(what): error \(created)")
    }
    return thread
}
