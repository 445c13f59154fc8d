import CSQLite
import Glibc
import HeyanThreads

/// Starts a joinable thread named `name` running `body` (``startNamedThread(name:detached:_:)``): the
/// store's own threads — the writer, the checkpointer, the audit log's reader — each joined by its
/// owner when it stops. Throws `sqlite.thread` naming `what` when the system refuses a thread.
func startStorageThread(name: String, what: String, _ body: @escaping @Sendable () -> Void) throws -> pthread_t {
    do {
        return try startNamedThread(name: name, detached: false, body)
    } catch {
        throw SQLiteError(
            code: "sqlite.thread", resultCode: SQLITE_ERROR, message: "cannot start \(what): error \(error.errorNumber)")
    }
}
