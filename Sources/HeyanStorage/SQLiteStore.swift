import CSQLite
import HeyanDomain
import Synchronization

/// heyan's embedded default store: one SQLite file in WAL mode, one writer connection and a small
/// pool of read-only connections.
///
/// - Writes are serialized: ``write(_:)`` holds the writer's `Mutex` and runs its body in an
///   IMMEDIATE transaction, so there is exactly one writer in the process and its transaction
///   cannot fail halfway for lack of the write lock.
/// - Reads run on a reader connection in their own read transaction. In WAL mode a reader sees
///   the last committed state and neither waits for the writer nor blocks it.
///
/// Neither method is reentrant: calling ``write(_:)`` from inside a `write` body deadlocks. A
/// ``read(_:)`` from inside a `write` body does not see that body's uncommitted changes.
/// See docs/storage.md for the pragmas, the durability argument and what comes next.
///
/// Sendable because its connections are reached only through ``LockedConnection`` and everything
/// else is an immutable Sendable value.
public final class SQLiteStore: Sendable {
    /// The database file.
    public let path: String
    /// The installation's `instance_id` from `service_meta` (128 random bits, hex).
    public let instanceID: String
    /// When the schema was first created (`service_meta.schema_created_at`, UTC ISO 8601).
    public let schemaCreatedAt: String
    /// `PRAGMA user_version` after migrating.
    public let schemaVersion: Int
    /// What migrating at open did.
    public let migrationOutcome: Migrator.Outcome
    /// The settings the connections were opened with.
    public let configuration: SQLiteConfiguration

    // Declared before `writer` so the readers close first: only the last connection to close
    // checkpoints the WAL and deletes it, and a read-only connection cannot do that.
    private let readers: [LockedConnection]
    /// The record lookups' connections (``readRecords(_:)``); nil when not configured. Also held by
    /// the checkpointer, which is declared before `writer` as well.
    private let recordReaders: HeldSnapshotReaders?
    /// Checkpoints the WAL off the writer thread (``SQLiteConfiguration/checkpointInBackground``).
    private let checkpointer: WALCheckpointer?
    private let writer: LockedConnection
    /// Where the next reader search starts, so waiting readers spread over the pool.
    private let nextReader = Atomic<Int>(0)

    /// Opens (creating if needed) the database at `path`, creating missing parent directories
    /// with ``SQLiteConfiguration/directoryMode`` and a missing file with
    /// ``SQLiteConfiguration/fileMode``, configures the writer, migrates with `migrator`,
    /// then opens the readers.
    ///
    /// - Throws: ``DatabaseAddressError`` when `path` is not a file path (docs/storage.md);
    ///   ``SQLiteError``; `sqlite.schema-too-new` when the file was written by a newer heyan.
    public init(
        path: String, configuration: SQLiteConfiguration = SQLiteConfiguration(),
        migrator: Migrator = HeyanSchema.migrator
    ) throws {
        precondition(configuration.readerCount > 0, "SQLiteStore needs at least one reader connection")
        // A URI (postgresql://…) or :memory: is refused here too, before any folder is created.
        _ = try DatabaseAddress(parsing: path)
        try createParentDirectories(of: path, mode: configuration.directoryMode)
        try createDatabaseFileIfMissing(at: path, mode: configuration.fileMode)
        let writer = try SQLiteConnection(path: path, mode: .readWriteCreate)
        try writer.configureWriter(configuration)
        let outcome = try migrator.migrate(writer)
        try writer.resetCachedStatements()

        // Readers open after the writer has put the file in WAL mode.
        let readers = try Self.openReaders(configuration.readerCount, path: path, configuration: configuration)

        self.path = path
        self.configuration = configuration
        self.migrationOutcome = outcome
        self.schemaVersion = outcome.currentVersion
        // A custom migrator (tests) may not create service_meta; heyan's always does.
        let hasMeta = try writer.fetchScalar(
            "SELECT count(*) FROM sqlite_schema WHERE type = 'table' AND name = 'service_meta'") == .integer(1)
        self.instanceID = hasMeta ? try SQLiteStore.meta(ServiceMetaKey.instanceID, in: writer) ?? "" : ""
        self.schemaCreatedAt = hasMeta ? try SQLiteStore.meta(ServiceMetaKey.schemaCreatedAt, in: writer) ?? "" : ""
        try writer.resetCachedStatements()
        if configuration.checkpointInBackground && configuration.recordSnapshotMicroseconds > 0
            && configuration.recordReaderCount > 0
        {
            recordReaders = HeldSnapshotReaders(
                connections: try Self.openReaders(configuration.recordReaderCount, path: path, configuration: configuration),
                maximumAgeNanoseconds: UInt64(configuration.recordSnapshotMicroseconds) * 1000)
        } else {
            recordReaders = nil
        }
        if configuration.checkpointInBackground {
            let checkpointer = try WALCheckpointer(path: path, configuration: configuration, snapshots: recordReaders)
            checkpointer.install(on: writer)
            self.checkpointer = checkpointer
        } else {
            self.checkpointer = nil
        }
        self.writer = LockedConnection(writer)
        self.readers = readers.map(LockedConnection.init)
    }

    deinit {
        if let checkpointer {
            try? writer.withLock { WALCheckpointer.uninstall(from: $0) }
            checkpointer.stop()
        }
    }

    /// `count` read-only connections configured as readers.
    private static func openReaders(_ count: Int, path: String, configuration: SQLiteConfiguration) throws -> [SQLiteConnection] {
        try (0..<count).map { _ in
            let reader = try SQLiteConnection(path: path, mode: .readOnly)
            try reader.configureReader(configuration)
            return reader
        }
    }

    /// Background checkpoints run so far (0 without ``SQLiteConfiguration/checkpointInBackground``).
    public var backgroundCheckpoints: Int { checkpointer?.checkpoints ?? 0 }

    /// The `service_meta` value of `key`, if any.
    static func meta(_ key: String, in connection: SQLiteConnection) throws -> String? {
        try connection.fetchScalar("SELECT value FROM service_meta WHERE key = ?", arguments: [.text(key)])?.textValue
    }

    /// Runs `body` on a reader connection inside one read transaction, so every query in it sees
    /// the same committed snapshot. Writes inside fail with `sqlite.readonly`.
    ///
    /// Takes an idle reader if there is one, otherwise waits for one; never waits for the writer.
    public func read<T>(_ body: (SQLiteConnection) throws -> T) throws -> T {
        let count = readers.count
        let start = nextReader.wrappingAdd(1, ordering: .relaxed).oldValue
        for offset in 0..<count {
            let index = (start &+ offset) % count
            let outcome = try readers[index].withLockIfAvailable { try readTransaction(on: $0, body) }
            if let outcome { return outcome }
        }
        return try readers[start % count].withLock { try readTransaction(on: $0, body) }
    }

    /// Runs `body` like ``read(_:)``, on a connection that may reuse the snapshot of an earlier call
    /// (``HeldSnapshotReaders``): for the shared-data record lookups only, which may see the
    /// records as of up to ``SQLiteConfiguration/recordSnapshotMicroseconds`` before the last
    /// commit, but always every record write acknowledged before (``recordsChanged()``).
    public func readRecords<T>(_ body: (SQLiteConnection) throws -> T) throws -> T {
        if let recordReaders, let value = try recordReaders.read(body) { return value }
        return try read(body)
    }

    /// Call after a committed write of `records`, before acknowledging it: record lookups begin a
    /// new snapshot.
    public func recordsChanged() { recordReaders?.recordsChanged() }

    /// Record lookups' snapshots held right now (tests).
    var heldRecordSnapshots: Int { recordReaders?.heldCount ?? 0 }

    private func readTransaction<T>(on reader: SQLiteConnection, _ body: (SQLiteConnection) throws -> T) throws -> T {
        // A DEFERRED transaction on a read-only connection is a pure read transaction: its snapshot
        // starts at the first read and ends at COMMIT.
        try reader.transaction(.deferred) { try body(reader) }
    }

    /// Runs `body` on the single writer connection inside an IMMEDIATE transaction: committed when
    /// `body` returns, rolled back when it throws. When `write` returns, the commit is durable
    /// (WAL, `synchronous=FULL`): only then may a caller acknowledge the change.
    public func write<T>(_ body: (SQLiteConnection) throws -> T) throws -> T {
        try writer.withLock { connection in
            try connection.transaction(.immediate) { try body(connection) }
        }
    }

    /// Runs `body` with the writer connection under its lock, outside any transaction: for the
    /// ``GroupCommitWriter``, which begins and commits its own batch transactions. The body must
    /// leave no transaction open.
    func withWriterConnection<T>(_ body: (SQLiteConnection) throws -> T) throws -> T {
        try writer.withLock(body)
    }

    /// Runs `PRAGMA integrity_check` on a reader: `true` when SQLite reports `ok`.
    public func integrityCheck() throws -> Bool {
        try read { connection in
            let rows = try connection.fetchAll("PRAGMA integrity_check")
            return rows == [[.text("ok")]]
        }
    }
}

/// A connection together with the lock that must be held to use it.
///
/// `@unchecked Sendable`: `connection` is private and only reached inside `lock`, so at most one
/// thread uses it at a time, which is all a `SQLITE_OPEN_NOMUTEX` connection needs.
private final class LockedConnection: @unchecked Sendable {
    private let lock = Mutex<Void>(())
    private let connection: SQLiteConnection

    init(_ connection: SQLiteConnection) {
        self.connection = connection
    }

    /// Waits for the lock, then runs `body`.
    func withLock<T>(_ body: (SQLiteConnection) throws -> T) throws -> T {
        try lock.withLock { _ in try body(connection) }
    }

    /// Runs `body` if the lock is free right now; `nil` when another thread holds it.
    func withLockIfAvailable<T>(_ body: (SQLiteConnection) throws -> T) throws -> T? {
        try lock.withLockIfAvailable { _ in try body(connection) }
    }
}
