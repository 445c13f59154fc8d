import CSQLite
import Glibc
import HeyanDomain

/// The claim of one running `heyan serve` on an SQLite database: an exclusive `flock` on
/// `<database>.lock`, which holds the claiming process's id.
///
/// SQLite lets several processes open one file, and heyan's group-commit writer assumes it is the
/// only writer (it keeps the audit chain's head in memory): a second server on the same file would
/// answer 500 to the first one's writes, or fork the chain. So `ServiceRuntime` takes this lock
/// before it opens the store, and a second server refuses to start, naming the database and the
/// process that holds it. The lock belongs to the open file description, so it also keeps a second
/// runtime in the same process out, and the kernel releases it when the process dies, however it
/// dies: a stale lock file (left on purpose; removing it would race a starting server) never blocks
/// a start. Offline tools (`heyan audit verify`, `stats`, `catalog publish`) do not take it.
/// docs/storage.md, "One server per database".
public final class DatabaseLock: Sendable {
    /// The lock file: the database path with `.lock` appended.
    public let path: String
    private let descriptor: Int32

    /// Creates `<database>.lock` if missing (parent directories with `directoryMode`, the file with
    /// `fileMode`), locks it without waiting, and writes this process's id into it.
    ///
    /// - Throws: ``DatabaseLockError`` `database.in-use` naming the holder's process id when another
    ///   server holds the lock; `database.lock` when the file cannot be created or locked.
    public init(database: String, configuration: SQLiteConfiguration = SQLiteConfiguration()) throws {
        _ = try DatabaseAddress(parsing: database)
        try createParentDirectories(of: database, mode: configuration.directoryMode)
        path = database + ".lock"
        let descriptor = open(path, O_RDWR | O_CREAT | O_CLOEXEC, configuration.fileMode)
        guard descriptor >= 0 else {
            throw DatabaseLockError(
                code: "database.lock", database: database,
                message: "cannot open the lock file \(path): \(String(cString: strerror(errno)))")
        }
        while flock(descriptor, LOCK_EX | LOCK_NB) != 0 {
            let failure = errno
            if failure == EINTR { continue }
            let holder = failure == EWOULDBLOCK ? Self.holder(descriptor) : nil
            close(descriptor)
            guard failure == EWOULDBLOCK else {
                throw DatabaseLockError(
                    code: "database.lock", database: database,
                    message: "cannot lock \(path): \(String(cString: strerror(failure)))")
            }
            let who = holder.map { "heyan process \($0)" } ?? "another heyan process (it has not written its id yet)"
            throw DatabaseLockError(
                code: "database.in-use", database: database,
                message: "the database \(database) is in use by \(who), which holds \(path); "
                    + "one heyan serve per SQLite database: stop that process or give another database",
                holderProcessID: holder)
        }
        let text = Array("\(getpid())\n".utf8)
        let written = text.withUnsafeBytes { pwrite(descriptor, $0.baseAddress, $0.count, 0) }
        guard written == text.count, ftruncate(descriptor, off_t(text.count)) == 0 else {
            let failure = errno
            close(descriptor)
            throw DatabaseLockError(
                code: "database.lock", database: database,
                message: "cannot write the process id into \(path): \(String(cString: strerror(failure)))")
        }
        self.descriptor = descriptor
    }

    deinit {
        // Closing the only descriptor of the open file description releases the lock.
        close(descriptor)
    }

    /// The process id written in the lock file, if it holds one.
    private static func holder(_ descriptor: Int32) -> Int32? {
        var buffer = [UInt8](repeating: 0, count: 32)
        let count = buffer.withUnsafeMutableBytes { pread(descriptor, $0.baseAddress, $0.count, 0) }
        guard count > 0 else { return nil }
        let digits = buffer[..<count].prefix { $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") }
        guard let pid = Int32(String(decoding: digits, as: UTF8.self)), pid > 0 else { return nil }
        return pid
    }
}

/// The database is held by another server, or its lock file cannot be used.
public struct DatabaseLockError: HeyanError, Equatable {
    /// `database.in-use` or `database.lock`.
    public let code: String
    /// The database path as configured.
    public let database: String
    public let message: String
    /// The process id in the lock file when another process holds it.
    public var holderProcessID: Int32?

    init(code: String, database: String, message: String, holderProcessID: Int32? = nil) {
        self.code = code
        self.database = database
        self.message = message
        self.holderProcessID = holderProcessID
    }
}
