import HeyanDomain
import Synchronization

/// Read-only connections for the shared-data record lookups that keep their read transaction —
/// and with it SQLite's page cache — across lookups, for at most ``maximumAgeNanoseconds``
/// (docs/storage.md, "Held snapshots for record lookups").
///
/// A reader connection in WAL mode drops its whole page cache at the start of every read
/// transaction once any commit has happened since its last one: under load, every lookup. A
/// data-sharing verification's record lookup therefore paid for beginning and ending a read
/// transaction and for re-reading the record b-tree's pages (`pread`) each time. Here a lookup
/// reuses the snapshot the previous lookup on the same connection began, unless:
///
/// - it is older than ``maximumAgeNanoseconds`` (2 ms by default: the records a lookup sees are
///   at most that much older than the last commit, as with any replica of shared data);
/// - records were written since it began (``recordsChanged()``, called after every committed
///   record write and before it is acknowledged): a department that stored a record and then
///   verifies against it sees it;
/// - the writer wants the WAL restarted (``releaseForWALRestart()``): SQLite restarts the WAL
///   from its beginning only when no reader holds a snapshot in it, so while a restart is wanted
///   lookups end their transaction at once, as ``SQLiteStore/read(_:)`` does.
///
/// The WAL hook (``WALCheckpointer``, on the writer thread after each commit) also ends idle
/// snapshots past their age, so a connection nobody asks holds none for long.
final class HeldSnapshotReaders: Sendable {
    let maximumAgeNanoseconds: UInt64
    private let readers: [HeldSnapshotReader]
    /// Bumped after every committed write of records.
    private let generation = Atomic<UInt64>(0)
    /// Set while the writer waits for the WAL to restart; no snapshot is held meanwhile.
    private let restartWanted = Atomic<Bool>(false)

    init(connections: [SQLiteConnection], maximumAgeNanoseconds: UInt64) {
        readers = connections.map(HeldSnapshotReader.init)
        self.maximumAgeNanoseconds = maximumAgeNanoseconds
    }

    /// Runs `body` in a held snapshot on the first idle connection; nil when every connection is
    /// busy. Always from the first: the fewer connections share the lookups, the more lookups each
    /// snapshot (and its page cache) serves.
    func read<T>(_ body: (SQLiteConnection) throws -> T) throws -> T? {
        for reader in readers {
            if let value = try reader.read(in: self, body) { return value }
        }
        return nil
    }

    /// Records were committed: every snapshot that began before is stale for lookups.
    func recordsChanged() { generation.add(1, ordering: .releasing) }

    var currentGeneration: UInt64 { generation.load(ordering: .acquiring) }
    var holding: Bool { !restartWanted.load(ordering: .acquiring) }

    /// The writer's WAL is past its restart size: snapshots end now (idle ones here, busy ones when
    /// their lookup ends) and are not held again until ``afterCommit()`` sees the WAL restarted.
    func releaseForWALRestart() {
        restartWanted.store(true, ordering: .releasing)
        for reader in readers { reader.releaseIfIdle(olderThan: 0) }
    }

    /// After a commit that left the WAL below its restart size: snapshots may be held again, and
    /// idle ones past their age end.
    func afterCommit() {
        if restartWanted.load(ordering: .relaxed) { restartWanted.store(false, ordering: .releasing) }
        for reader in readers { reader.releaseIfIdle(olderThan: maximumAgeNanoseconds) }
    }

    /// Held snapshots right now (tests).
    var heldCount: Int { readers.reduce(0) { $0 + ($1.isHolding ? 1 : 0) } }

    /// The snapshots' age is real time whatever the service clock (a manual one in tests).
    static func monotonicNanoseconds() -> UInt64 { SystemClock().monotonicNanoseconds() }
}

/// One connection of ``HeldSnapshotReaders`` and the snapshot it holds, under one lock.
private final class HeldSnapshotReader: @unchecked Sendable {
    // @unchecked Sendable: `connection` is used only inside `state`'s lock.
    private struct Snapshot {
        var began: UInt64 = 0
        var generation: UInt64 = 0
        var open = false
    }

    private let state = Mutex(Snapshot())
    private let connection: SQLiteConnection

    init(_ connection: SQLiteConnection) {
        self.connection = connection
    }

    var isHolding: Bool { state.withLock { $0.open } }

    func read<T>(in pool: HeldSnapshotReaders, _ body: (SQLiteConnection) throws -> T) throws -> T? {
        try state.withLockIfAvailable { snapshot in
            let now = HeldSnapshotReaders.monotonicNanoseconds()
            let generation = pool.currentGeneration
            if snapshot.open,
                now &- snapshot.began > pool.maximumAgeNanoseconds || snapshot.generation != generation || !pool.holding
            {
                try end(&snapshot)
            }
            if !snapshot.open {
                // Deferred: the snapshot starts at the body's first read, after `generation` was read.
                try connection.begin(.deferred)
                snapshot = Snapshot(began: now, generation: generation, open: true)
            }
            let value: T
            do {
                value = try body(connection)
                try connection.resetCachedStatements()
            } catch {
                try? connection.resetCachedStatements()
                try? end(&snapshot)
                throw error
            }
            if !pool.holding { try end(&snapshot) }
            return value
        }
    }

    /// Ends the snapshot unless the connection is in use or the snapshot is younger than `age`.
    func releaseIfIdle(olderThan age: UInt64) {
        _ = state.withLockIfAvailable { snapshot in
            guard snapshot.open else { return }
            if age > 0, HeldSnapshotReaders.monotonicNanoseconds() &- snapshot.began <= age { return }
            try? end(&snapshot)
        }
    }

    private func end(_ snapshot: inout Snapshot) throws {
        snapshot.open = false
        guard connection.isInTransaction else { return }
        try connection.commit()
    }
}
