import CLinux
import CSQLite
import Glibc
import Synchronization

/// Copies the WAL back into the database file on its own thread and connection, so the single
/// writer never does it inside a commit.
///
/// SQLite's automatic checkpoint runs in the connection that commits, after its COMMIT: the commit
/// that crosses ``SQLiteConfiguration/walAutocheckpointPages`` also copies up to that many pages
/// into the database file and fsyncs it, and every request of that batch waits for it (the
/// spikes in the data-sharing p99). Here the writer's WAL hook only notes the WAL size and wakes
/// this thread, which runs a PASSIVE checkpoint on a second read-write connection: PASSIVE never
/// waits for the writer or readers and never blocks them, and copies whatever is not needed by a
/// reader's snapshot. The checkpoint connection has `synchronous=FULL`, so the WAL is synced before
/// pages are copied and the database file after, as in SQLite's own checkpoint.
///
/// `@unchecked Sendable`: the connection is used only by the checkpoint thread (and by `stop` after
/// that thread has ended); the rest is atomics and a semaphore.
final class WALCheckpointer: @unchecked Sendable {
    private let connection: SQLiteConnection
    private let threshold: Int32
    /// WAL size at which the writer checkpoints itself after its commit. SQLite restarts the WAL
    /// from its beginning only when a write transaction begins with every frame checkpointed; with
    /// the writer committing while this thread copies, that moment rarely comes, and the WAL would
    /// grow without bound under sustained load. At 4× the threshold the writer runs a PASSIVE
    /// checkpoint itself, which finds most frames already copied (cheap), so its next transaction
    /// restarts the WAL.
    fileprivate let resetLimit: Int32
    private let wakeup: UnsafeMutablePointer<sem_t>
    private let pending = Atomic<Bool>(false)
    private let stopping = Atomic<Bool>(false)
    private let completed = Atomic<Int>(0)
    private var thread = pthread_t()

    /// Checkpoints that ran (whether or not they could copy every frame), for tests.
    var checkpoints: Int { completed.load(ordering: .relaxed) }

    /// The record lookups' held snapshots, ended here for a WAL restart and when idle.
    fileprivate let snapshots: HeldSnapshotReaders?

    init(path: String, configuration: SQLiteConfiguration, snapshots: HeldSnapshotReaders? = nil) throws {
        self.snapshots = snapshots
        connection = try SQLiteConnection(path: path, mode: .readWriteCreate)
        try connection.withConnectionPointer { handle in
            try SQLiteError.check(
                sqlite3_busy_timeout(handle, configuration.busyTimeoutMilliseconds), connection: handle,
                sql: "sqlite3_busy_timeout")
        }
        try connection.execute("PRAGMA synchronous = FULL")
        try connection.execute("PRAGMA wal_autocheckpoint = 0")
        threshold = Int32(clamping: configuration.walAutocheckpointPages)
        resetLimit = Int32(clamping: configuration.walAutocheckpointPages * 4)
        wakeup = .allocate(capacity: 1)
        sem_init(wakeup, 0, 0)
        do {
            thread = try startStorageThread(name: "heyan-ckpt", what: "the checkpoint thread") { [self] in run() }
        } catch {
            sem_destroy(wakeup)
            wakeup.deallocate()
            throw error
        }
    }

    /// Replaces the writer's automatic checkpoint with a hook that wakes this thread. The hook
    /// runs on the writer thread after each commit: it compares and signals, and ends the record
    /// lookups' idle held snapshots (all of them when the WAL should restart; those past their age
    /// otherwise), taking no lock that a reader holds.
    func install(on writer: SQLiteConnection) {
        let context = Unmanaged.passUnretained(self).toOpaque()
        writer.withConnectionPointer { handle in
            _ = sqlite3_wal_hook(
                handle,
                { context, writer, _, pages in
                    let checkpointer = Unmanaged<WALCheckpointer>.fromOpaque(context!).takeUnretainedValue()
                    if pages >= checkpointer.resetLimit, let writer {
                        // A held snapshot would keep the WAL from restarting: end them first.
                        checkpointer.snapshots?.releaseForWALRestart()
                        // See `resetLimit`: the background has copied most frames, so this
                        // copies the rest and lets the next transaction restart the WAL.
                        _ = sqlite3_wal_checkpoint_v2(writer, nil, SQLITE_CHECKPOINT_PASSIVE, nil, nil)
                        return SQLITE_OK
                    }
                    checkpointer.snapshots?.afterCommit()
                    checkpointer.walGrew(to: pages)
                    return SQLITE_OK
                }, context)
        }
    }

    /// Removes the hook (before the writer closes or this checkpointer stops).
    static func uninstall(from writer: SQLiteConnection) {
        writer.withConnectionPointer { handle in _ = sqlite3_wal_hook(handle, nil, nil) }
    }

    private func walGrew(to pages: Int32) {
        guard pages >= threshold, !pending.exchange(true, ordering: .acquiringAndReleasing) else { return }
        sem_post(wakeup)
    }

    /// Ends the thread after the checkpoint in progress (if any) and waits for it.
    func stop() {
        guard !stopping.exchange(true, ordering: .acquiringAndReleasing) else { return }
        sem_post(wakeup)
        pthread_join(thread, nil)
        sem_destroy(wakeup)
        wakeup.deallocate()
    }

    private func run() {
        while true {
            while sem_wait(wakeup) != 0 && errno == EINTR {}
            if stopping.load(ordering: .acquiring) { return }
            pending.store(false, ordering: .releasing)
            var logPages: Int32 = 0
            var copiedPages: Int32 = 0
            // SQLITE_BUSY (another checkpoint, or a reset in progress) is fine: the next wake-up
            // tries again. Other errors are left to SQLite's own recovery at the next open.
            _ = connection.withConnectionPointer { handle in
                sqlite3_wal_checkpoint_v2(handle, nil, SQLITE_CHECKPOINT_PASSIVE, &logPages, &copiedPages)
            }
            completed.add(1, ordering: .relaxed)
        }
    }
}
