import Dispatch
import Glibc
import HeyanPostgres
import Synchronization

/// Elects the one node that runs the periodic work (docs/postgresql.md, "Leader election"): a
/// session-level `pg_try_advisory_lock` held on a connection of its own.
///
/// A thread tries for the lock every ``interval`` while it does not hold it, and while it does,
/// checks every ``interval`` that the connection (and so the lock) is still alive. The lock goes
/// with its session: a node that dies, or whose connection is lost or terminated, loses it, and
/// another node takes it at its next try — within about ``interval``. The session has
/// `idle_session_timeout` set, so a frozen node (its socket still open, no more checks) loses the
/// lock after ``idleTimeoutMilliseconds`` too. The key is derived from the schema name, so
/// installations in different schemas of one database elect separately.
///
/// A node that lost its connection learns it at its next check: for up to about ``interval`` two
/// nodes may both believe they lead. Everything the leader runs is safe to run twice (overdue
/// marking locks its rows; checkpoints are written under the tree's row lock, never behind the
/// stored newest).
final class LeaderElection: @unchecked Sendable {
    // @unchecked: `connection` is used only on the election thread; the rest is atomic.
    static let interval: Double = 1
    static let idleTimeoutMilliseconds = 5_000

    private let conninfo: String
    private var connection: PostgresConnection?
    private let leading = Atomic<Bool>(false)
    private let stopped = Atomic<Bool>(false)
    private let started = Atomic<Bool>(false)
    private let done = DispatchSemaphore(value: 0)
    private let wakeups = DispatchSemaphore(value: 0)
    private let backendPID = Atomic<Int32>(0)

    init(conninfo: String) { self.conninfo = conninfo }

    /// Whether this node holds the lock (as of its last check). Starts the election on first use,
    /// trying once before answering.
    var isLeader: Bool {
        start()
        return leading.load(ordering: .acquiring)
    }

    /// The election connection's server process (0 while there is none): a test terminates it.
    var connectionPID: Int32 { backendPID.load(ordering: .acquiring) }

    func start() {
        guard !started.exchange(true, ordering: .acquiringAndReleasing) else { return }
        check()
        Thread.detach { [self] in
            while !stopped.load(ordering: .acquiring) {
                _ = wakeups.wait(timeout: .now() + Self.interval)
                guard !stopped.load(ordering: .acquiring) else { break }
                check()
            }
            leading.store(false, ordering: .releasing)
            connection?.close()  // ends the session: the lock is free for another node at once
            done.signal()
        }
    }

    /// Resigns: stops trying and closes the connection, which releases the lock.
    func stop() {
        guard !stopped.exchange(true, ordering: .acquiringAndReleasing), started.load(ordering: .acquiring) else { return }
        wakeups.signal()
        done.wait()
    }

    /// One round: connect if needed, then take the lock or confirm it is still held.
    private func check() {
        do {
            if connection == nil || connection?.isConnected == false {
                leading.store(false, ordering: .releasing)
                connection?.close()
                connection = nil
                let fresh = try PostgresConnection(conninfo: conninfo, applicationName: "heyan-leader")
                try fresh.query("SET idle_session_timeout = \(Self.idleTimeoutMilliseconds)")
                connection = fresh
                backendPID.store(fresh.backendPID, ordering: .releasing)
            }
            guard let connection else { return }
            if leading.load(ordering: .acquiring) {
                // Still our session, so still our lock (it is released only with the session).
                try connection.query("SELECT 1")
            } else {
                let row = try connection.query(
                    "SELECT pg_try_advisory_lock(hashtextextended('heyan-periodic-work:' || current_schema(), 0)) AS taken"
                ).rows.first
                leading.store(try row?.decode("taken", as: Bool.self) == true, ordering: .releasing)
            }
        } catch {
            leading.store(false, ordering: .releasing)
            connection?.close()
            connection = nil
            backendPID.store(0, ordering: .releasing)
        }
    }
}
