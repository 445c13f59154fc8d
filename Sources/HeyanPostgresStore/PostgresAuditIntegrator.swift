import Dispatch
import Glibc
import HeyanCrypto
import HeyanDomain
import HeyanPostgres
import HeyanTransparencyLog
import Synchronization

/// Moves queued audit entries into the log and the tree, one batch per transaction, on a thread
/// and a connection of its own (docs/postgresql.md, "Audit").
///
/// Every node runs one; the row lock on `audit_tree` (`SELECT … FOR UPDATE SKIP LOCKED`) lets
/// one integrate at a time and makes the others skip the pass, not wait. A batch is up to
/// ``AuditQueue/limit`` queued entries in id order; in one READ COMMITTED transaction it assigns
/// sequences after the tree's size, chains them (`previous_hash`, `hash`: the chain
/// ``AuditChainVerifier`` checks), computes each leaf `d = SHA-256(salt ‖ canonical entry)` as the
/// SQLite store does, appends the leaves to the tree, copies the entries into `audit_log`, deletes
/// exactly those queue rows and saves size, root and head hash. A crash or a lost connection at any
/// point rolls all of it back, so an entry is integrated once or not yet, never twice or lost;
/// the statements check their row counts, and a mismatch aborts the batch.
///
/// A pass runs when this node's writer committed entries (``wake()``), and every
/// ``tickInterval`` in any case (entries of a node whose integrator is gone, or left behind by a
/// pass another node was running). When another node holds the lock the pass retries shortly, so
/// entries of this node do not wait for the next tick.
final class AuditIntegrator: @unchecked Sendable {
    // @unchecked: `connection` and `edge` are used only on the integrator thread; the rest is atomic
    // or under a Mutex.
    static let tickInterval = 0.2
    /// Retries while another node integrates, before falling back to the tick.
    static let busyRetries = 20
    static let busyRetryMicroseconds: useconds_t = 10_000
    /// The pause after a pass that integrated entries, before the next one (see ``start()``): at most
    /// this much more delay from commit to integration, against the 1 s bound.
    static let passSpacingMicroseconds: useconds_t = 20_000
    /// Entries this integrator deletes from the queue before it vacuums it, and the least time between
    /// two of its vacuums (see ``vacuumQueueIfDue()``).
    static let vacuumAfterEntries = 2_048
    static let vacuumInterval = 1.0

    private let conninfo: String
    private let hash: @Sendable ([UInt8]) -> [UInt8]
    private var connection: PostgresConnection?
    /// The tree's right edge after the last batch this integrator committed (reloaded when the
    /// stored size or root differ: another node integrated since).
    private var edge: MerkleRightEdge?
    private let wakeups = DispatchSemaphore(value: 0)
    private let stopped = Atomic<Bool>(false)
    private let done = DispatchSemaphore(value: 0)
    private let started = Atomic<Bool>(false)
    private let delays = Mutex(DelayRing(capacity: 65_536))
    private let integratedCount = Atomic<Int>(0)
    private let batchCount = Atomic<Int>(0)
    private let backendPID = Atomic<Int32>(0)
    private let finishing = Atomic<Bool>(false)
    /// Entries deleted from the queue since this integrator's last vacuum of it, and when that was.
    private var deletedSinceVacuum = 0
    private var lastVacuum = 0.0
    private let vacuumCount = Atomic<Int>(0)

    /// Test hook: while true no pass runs (integration paused).
    let paused = Atomic<Bool>(false)
    /// Test hook: runs inside the batch's transaction just before COMMIT, with the batch's size.
    let beforeCommit = Mutex<(@Sendable (Int) -> Void)?>(nil)

    init(conninfo: String, hash: @escaping @Sendable ([UInt8]) -> [UInt8]) {
        self.conninfo = conninfo
        self.hash = hash
    }

    func start() {
        guard !started.exchange(true, ordering: .acquiringAndReleasing) else { return }
        Thread.detach { [self] in
            while !stopped.load(ordering: .acquiring) {
                _ = wakeups.wait(timeout: .now() + Self.tickInterval)
                while wakeups.wait(timeout: .now()) == .success {}  // one pass serves every wake-up so far
                guard !stopped.load(ordering: .acquiring), !paused.load(ordering: .acquiring) else { continue }
                let integrated = runPass()
                vacuumQueueIfDue()
                // Entries committed meanwhile wait for one larger batch: one transaction, one COMMIT and
                // its WAL flush, and ~10 statements per pass are shared by more entries under load.
                if integrated, !stopped.load(ordering: .acquiring) { usleep(Self.passSpacingMicroseconds) }
            }
            // A node shutting down integrates one last batch of what is queued (unless paused).
            if finishing.load(ordering: .acquiring), !paused.load(ordering: .acquiring) {
                _ = try? integrateBatch()
            }
            connection?.close()
            done.signal()
        }
    }

    /// Stops after the current pass — with `finishing`, after one more batch — and closes the
    /// connection.
    func stop(finishing: Bool = false) {
        self.finishing.store(finishing, ordering: .releasing)
        guard !stopped.exchange(true, ordering: .acquiringAndReleasing), started.load(ordering: .acquiring) else { return }
        wakeups.signal()
        done.wait()
    }

    /// Asks for a pass now (this node committed entries).
    func wake() { wakeups.signal() }

    /// Integrates batches until the queue is empty (or only another node's pass could take it);
    /// whether it integrated any.
    private func runPass() -> Bool {
        var busy = 0
        var integrated = false
        while !stopped.load(ordering: .acquiring), !paused.load(ordering: .acquiring) {
            do {
                switch try integrateBatch() {
                case .integrated:
                    busy = 0
                    integrated = true
                case .empty: return integrated
                case .busy:
                    busy += 1
                    guard busy <= Self.busyRetries else { return integrated }
                    usleep(Self.busyRetryMicroseconds)
                }
            } catch {
                connection?.close()
                connection = nil
                edge = nil
                return integrated  // the next tick tries again on a fresh connection
            }
        }
        return integrated
    }

    /// What one ``integrateBatch()`` did: integrated a batch, found the queue empty, or found another
    /// node integrating.
    enum Outcome {
        case integrated
        case empty
        case busy
    }

    /// One batch in one transaction (see the type's comment).
    func integrateBatch() throws -> Outcome {
        let db = try openConnection()
        // Nothing queued: one cheap statement, no transaction.
        guard try AuditQueue.firstID(on: db) != nil else { return .empty }
        try db.query("BEGIN ISOLATION LEVEL READ COMMITTED")
        let batch: Batch
        do {
            guard let written = try writeBatch(db) else {
                db.rollbackQuietly()
                return .busy
            }
            batch = written
            if batch.count > 0 { beforeCommit.withLock { $0 }?(batch.count) }
            try db.commit()
        } catch {
            db.rollbackQuietly()
            edge = nil
            throw error
        }
        guard batch.count > 0 else { return .empty }
        edge = batch.tree
        let elapsed = monotonicSeconds() - batch.selectedAt
        delays.withLock { ring in for delay in batch.waited { ring.append(delay + elapsed) } }
        deletedSinceVacuum += batch.count
        integratedCount.add(batch.count, ordering: .relaxed)
        batchCount.add(1, ordering: .relaxed)
        return .integrated
    }

    /// What one batch wrote, for after its COMMIT.
    private struct Batch {
        var count = 0
        var tree = MerkleRightEdge()
        /// Seconds each entry had waited when the batch read it.
        var waited: [Double] = []
        var selectedAt = 0.0
    }

    /// The batch's statements, inside the open transaction; nil when another node holds the tree's
    /// lock, a batch of 0 when the queue turned out empty.
    private func writeBatch(_ db: PostgresConnection) throws -> Batch? {
        guard
            let state = try db.query("SELECT size, root, head_hash FROM audit_tree WHERE id = 0 FOR UPDATE SKIP LOCKED")
                .rows.first
        else { return nil }
        let size: Int64 = try state.decode("size")
        guard let root = MerkleHash(bytes: try state.decode("root")) else {
            throw PostgresStoreError.corrupt(table: "audit_tree", key: "0", column: "root")
        }
        var head: [UInt8] = try state.decode("head_hash")
        // Statement snapshots start after the lock: every batch committed before is visible.
        let queued = try db.query(
            """
            SELECT id, queued_at, time, action, actor, requester, owner, certificate_type, subject_id, verification_id,
                attestation_id, queue_item_id, detail, clerk, salt,
                (extract(epoch FROM clock_timestamp()) * 1000)::bigint AS now
            FROM audit_queue ORDER BY id LIMIT \(AuditQueue.limit)
            """
        ).rows
        guard let first = queued.first else { return Batch() }
        let selectedAt = monotonicSeconds()
        let databaseNow: Int64 = try first.decode("now")

        var tree = try currentEdge(size: UInt64(size), root: root, on: db)
        var ids: [Int64] = []
        var waited: [Double] = []
        var previous = [UInt8](), hashes = [UInt8](), leaves = [UInt8]()
        var nodeLevels: [Int] = [], nodeIndexes: [UInt64] = [], nodeHashes = [UInt8]()
        for (offset, row) in queued.enumerated() {
            let id: Int64 = try row.decode("id")
            let sequence = size + 1 + Int64(offset)
            let time: Millis = try row.decode("time")
            let event = try PGAuditRow.decodeEvent(row, table: "audit_queue", key: String(id))
            let salt: [UInt8] = try row.decode("salt")
            let canonical = AuditEntry.canonicalBytes(sequence: sequence, time: time, event: event)
            let digest = hash(head + canonical)
            let leaf = Digest.sha256(salt + canonical)
            previous += head
            hashes += digest
            leaves += leaf
            for node in tree.append(leafHash: .leaf(leaf)) where node.address.level > 0 {
                nodeLevels.append(node.address.level)
                nodeIndexes.append(node.address.index)
                nodeHashes += node.hash.bytes
            }
            head = digest
            ids.append(id)
            waited.append(Double(databaseNow - (try row.decode("queued_at", as: Int64.self))) / 1000)
        }
        let idArray = PostgresValue.array(ids.map(PostgresValue.int64))
        // The entries move: fields copied from their queue rows, sequence and hashes from above.
        let moved = try db.query(
            """
            INSERT INTO audit_log (sequence, time, action, actor, requester, owner, certificate_type, subject_id,
                verification_id, attestation_id, queue_item_id, detail, clerk, previous_hash, hash, salt, leaf)
            SELECT $2::bigint + b.n, q.time, q.action, q.actor, q.requester, q.owner, q.certificate_type, q.subject_id,
                q.verification_id, q.attestation_id, q.queue_item_id, q.detail, q.clerk,
                substring($3::bytea FROM (b.n::int - 1) * 32 + 1 FOR 32),
                substring($4::bytea FROM (b.n::int - 1) * 32 + 1 FOR 32), q.salt,
                substring($5::bytea FROM (b.n::int - 1) * 32 + 1 FOR 32)
            FROM unnest($1::bigint[]) WITH ORDINALITY AS b(id, n) JOIN audit_queue q ON q.id = b.id
            """, [idArray, .int64(size), .bytes(previous), .bytes(hashes), .bytes(leaves)])
        guard moved.affectedRows == ids.count else { throw IntegrationMismatch(step: "audit_log", expected: ids.count, actual: moved.affectedRows) }
        if !nodeLevels.isEmpty {
            let nodes = try db.query(
                """
                INSERT INTO audit_tree_nodes (level, idx, hash)
                SELECT t.level, t.idx, substring($3::bytea FROM (t.n::int - 1) * 32 + 1 FOR 32)
                FROM unnest($1::integer[], $2::bigint[]) WITH ORDINALITY AS t(level, idx, n)
                """,
                [
                    .array(nodeLevels.map { .int64(Int64($0)) }),
                    .array(nodeIndexes.map { .int64(Int64($0)) }), .bytes(nodeHashes),
                ])
            guard nodes.affectedRows == nodeLevels.count else {
                throw IntegrationMismatch(step: "audit_tree_nodes", expected: nodeLevels.count, actual: nodes.affectedRows)
            }
        }
        let deleted = try db.query("DELETE FROM audit_queue WHERE id = ANY($1::bigint[])", [idArray])
        guard deleted.affectedRows == ids.count else {
            throw IntegrationMismatch(step: "audit_queue", expected: ids.count, actual: deleted.affectedRows)
        }
        try db.query(
            "UPDATE audit_tree SET size = $1, root = $2, head_hash = $3 WHERE id = 0",
            [.int64(Int64(tree.size)), .bytes(tree.root.bytes), .bytes(head)])
        return Batch(count: ids.count, tree: tree, waited: waited, selectedAt: selectedAt)
    }

    /// The right edge of the stored tree of `size` leaves and `root`: this integrator's own when it
    /// made that tree, else read from the stored nodes.
    private func currentEdge(size: UInt64, root: MerkleHash, on db: PostgresConnection) throws -> MerkleRightEdge {
        if let edge, edge.size == size, edge.root == root { return edge }
        edge = nil
        let loaded = try MerkleRightEdge(size: size, reader: PostgresMerkleNodeReader(connection: db))
        guard loaded.root == root else {
            throw PostgresStoreError.corrupt(table: "audit_tree", key: "0", column: "root")
        }
        return loaded
    }

    /// Vacuums `audit_queue` once this integrator has deleted ``vacuumAfterEntries`` entries, at most
    /// every ``vacuumInterval`` seconds. Every integrated entry leaves a dead row and a dead primary-key
    /// entry at the queue's low end, and each probe for the oldest entry — the integrator's "anything
    /// queued?", its batch read, every batch's admission bound — walks the index from there over all
    /// of them until a vacuum removes them. Autovacuum comes every `autovacuum_naptime` (10 s as set): at
    /// 4,000 verifications/s that is up to 40,000 dead entries per walk, ~50 µs of the database's CPU
    /// per verification in the bench (docs/postgresql.md, "Audit: queue and integrator"). A vacuum of the
    /// short, churned queue costs a few milliseconds. `SKIP_LOCKED`: when another node's integrator or
    /// autovacuum is vacuuming it, this one does not wait. A failure (a role that does not own the table
    /// only gets a warning) is ignored: the probes are slower, nothing is wrong.
    private func vacuumQueueIfDue() {
        guard deletedSinceVacuum >= Self.vacuumAfterEntries, !stopped.load(ordering: .acquiring) else { return }
        let now = monotonicSeconds()
        guard now - lastVacuum >= Self.vacuumInterval, let db = connection, db.isConnected else { return }
        lastVacuum = now
        deletedSinceVacuum = 0
        if (try? db.execute("VACUUM (SKIP_LOCKED, INDEX_CLEANUP ON, TRUNCATE false) audit_queue")) != nil {
            vacuumCount.add(1, ordering: .relaxed)
        }
    }

    private func openConnection() throws -> PostgresConnection {
        if let connection, connection.isConnected { return connection }
        connection?.close()
        let fresh = try PostgresConnection(conninfo: conninfo, applicationName: "heyan-integrator")
        connection = fresh
        backendPID.store(fresh.backendPID, ordering: .releasing)
        edge = nil
        return fresh
    }


    // MARK: - what tests and metrics read

    /// Seconds from queueing to integration of the most recent entries (at most 65,536), by the
    /// database server's clock up to the batch's read, then this node's until its COMMIT returned.
    var recentDelays: [Double] { delays.withLock { $0.values } }
    /// Entries and batches this integrator committed.
    var integrated: (entries: Int, batches: Int) {
        (integratedCount.load(ordering: .relaxed), batchCount.load(ordering: .relaxed))
    }
    /// Vacuums of the queue this integrator ran.
    var vacuums: Int { vacuumCount.load(ordering: .relaxed) }
    /// The integration connection's server process (0 before the first pass).
    var connectionPID: Int32 { backendPID.load(ordering: .acquiring) }
}

/// A statement of the integration moved another number of rows than the batch has: the batch is
/// rolled back (it can only happen if something outside heyan changed the queue or the tree).
struct IntegrationMismatch: Error, CustomStringConvertible {
    let step: String
    let expected: Int
    let actual: Int
    var description: String { "audit integration: \(step) changed \(actual) rows, expected \(expected); rolled back" }
}

/// The last `capacity` values appended.
struct DelayRing {
    let capacity: Int
    private var storage: [Double] = []
    private var next = 0

    init(capacity: Int) { self.capacity = capacity }

    mutating func append(_ value: Double) {
        if storage.count < capacity {
            storage.append(value)
        } else {
            storage[next] = value
            next = (next + 1) % capacity
        }
    }

    var values: [Double] { Array(storage[next...] + storage[..<next]) }
}

/// Real monotonic seconds, whatever clock the store was given: integration delays, and the wait for
/// another thread's integration, are measured and bounded in real time.
func monotonicSeconds() -> Double { Double(SystemClock().monotonicNanoseconds()) / 1e9 }
