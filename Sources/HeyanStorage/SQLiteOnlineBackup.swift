import CSQLite

/// One SQLite online backup (`sqlite3_backup_init/step/finish`) from a source connection into a
/// destination connection: owns the `sqlite3_backup*`, finished in `deinit`.
///
/// It keeps both connections alive while it exists, as SQLite requires. Errors are reported by
/// `sqlite3_backup_step` and recorded on the destination connection. Used by ``SQLiteBackup``.
final class SQLiteOnlineBackup {
    private let handle: OpaquePointer
    private let source: SQLiteConnection
    private let destination: SQLiteConnection

    /// Starts a backup of `source`'s main database into `destination`'s main database.
    init(from source: SQLiteConnection, to destination: SQLiteConnection) throws {
        let started = source.withConnectionPointer { from in
            destination.withConnectionPointer { to in sqlite3_backup_init(to, "main", from, "main") }
        }
        guard let started else {
            // sqlite3_backup_init leaves its error on the destination connection.
            throw destination.withConnectionPointer { to in
                SQLiteError(connection: to, returned: sqlite3_errcode(to), sql: nil)
            }
        }
        handle = started
        self.source = source
        self.destination = destination
    }

    deinit {
        // Its result repeats the last `sqlite3_backup_step` error, already thrown by `step`.
        _ = sqlite3_backup_finish(handle)
    }

    /// Copies up to `pages` pages (-1: all of them, in one read transaction on the source, so the
    /// copy is one consistent snapshot). Returns true when the copy is complete.
    ///
    /// - Throws: ``SQLiteError``; `sqlite.busy` or `sqlite.locked` may be retried.
    func step(pages: Int32) throws -> Bool {
        let returned = sqlite3_backup_step(handle, pages)
        switch returned {
        case SQLITE_DONE: return true
        case SQLITE_OK: return false
        default:
            // The step's own code: the destination's error message may describe an earlier call.
            throw SQLiteError(
                resultCode: returned, extendedResultCode: returned,
                message: "online backup of \(source.path): \(String(cString: sqlite3_errstr(returned)))")
        }
    }
}

@available(*, unavailable)
extension SQLiteOnlineBackup: Sendable {}
