import Glibc
import Synchronization

/// An audit log's rows read ahead on a second thread, so that `heyan audit verify` reads and decodes
/// one block of entries (the engine's cursor and ``AuditRow``'s decoding: about half its time)
/// while it hashes and checks the block before, on a machine's second core: 5.3 → 2.9 s over
/// 622,437 entries on the 2-core development VM (docs/performance.md, "Issue 16, ninth session").
///
/// `source` is the engine's ``AuditLogSnapshot/nextEntry``: it is called only on the reading
/// thread, never at the same time as anything else the verifier does with the engine's
/// connection, and never again once ``finish()`` returns — the verifier calls ``finish()`` (or
/// lets `deinit` do it) before its caller touches the connection again. Rows come out in the
/// order `source` gave them; an error `source` throws comes out after the rows read before it.
///
/// `@unchecked Sendable`: `source`, `written` and `taken`/`current` belong to one thread each
/// (reading and consuming); a block in `slots` belongs to the reader from its `space` wait to its
/// `ready` post and to the consumer from its `ready` wait to its `space` post — the semaphores order
/// the two threads' accesses, so no slot is touched by both at once.
final class PrefetchedAuditRows: @unchecked Sendable {
    typealias Row = AuditLogSnapshot.Row

    /// Rows per block: large enough that the threads meet rarely, small enough that a break found
    /// early stops the reading soon.
    static let blockSize = 2048
    /// Blocks read ahead at most: bounds the memory (a few MB) whatever the log's size.
    static let blocksAhead = 4

    /// Rows, then whether they are the last, and the error `source` threw after them if it did.
    private struct Block {
        var rows: [Row] = []
        var last = false
        var error: (any Error)?
    }

    private let source: () throws -> Row?
    private let slots: UnsafeMutablePointer<Block>
    private let stopping = Atomic<Bool>(false)
    /// Posted once per block the reader hands over.
    private let ready: UnsafeMutablePointer<sem_t>
    /// Free slots; the reader waits on it before reading another block.
    private let space: UnsafeMutablePointer<sem_t>
    private var thread = pthread_t()
    private var joined = false
    /// Reader side: blocks handed over.
    private var written = 0
    /// Consumer side: blocks taken, the block being handed out and the next index in it.
    private var taken = 0
    private var current: [Row] = []
    private var index = 0
    private var done = false
    /// What `source` threw, for ``next()`` once the rows read before it are handed out.
    private var pendingError: (any Error)?

    init(_ source: @escaping () throws -> Row?) throws {
        self.source = source
        slots = .allocate(capacity: Self.blocksAhead)
        slots.initialize(repeating: Block(), count: Self.blocksAhead)
        ready = .allocate(capacity: 1)
        space = .allocate(capacity: 1)
        sem_init(ready, 0, 0)
        sem_init(space, 0, UInt32(Self.blocksAhead))
        do {
            thread = try startStorageThread(name: "heyan-audit-rd", what: "the audit log's reading thread") {
                [self] in read()
            }
        } catch {
            joined = true
            throw error
        }
    }

    deinit {
        finish()
        slots.deinitialize(count: Self.blocksAhead)
        slots.deallocate()
        sem_destroy(ready)
        sem_destroy(space)
        ready.deallocate()
        space.deallocate()
    }

    /// The next row, `nil` after the last; rethrows what `source` threw, after the rows before it.
    func next() throws -> Row? {
        while index == current.count {
            if let error = pendingError {
                pendingError = nil
                throw error
            }
            if done { return nil }
            while sem_wait(ready) != 0 && errno == EINTR {}
            let slot = slots + taken % Self.blocksAhead
            let block = slot.move()
            // The rows used up go back in the slot, for the reader to free where it allocated them:
            // glibc frees memory from another thread's arena under that arena's lock, and the
            // decoded rows are a dozen allocations each (the first version freed them here and
            // took longer than reading on one thread).
            var spent = Block()
            swap(&spent.rows, &current)
            slot.initialize(to: spent)
            taken += 1
            sem_post(space)
            current = block.rows
            index = 0
            if block.last {
                done = true
                pendingError = block.error
            }
        }
        defer { index += 1 }
        return current[index]
    }

    /// Stops the reading thread and waits for it: after this, `source` is not called again.
    func finish() {
        guard !joined else { return }
        joined = true
        stopping.store(true, ordering: .releasing)
        sem_post(space)  // a reader waiting for a free slot wakes and sees `stopping`
        pthread_join(thread, nil)
    }

    /// The reading thread: blocks of rows until the end, an error, or ``finish()``.
    private func read() {
        while true {
            while sem_wait(space) != 0 && errno == EINTR {}
            if stopping.load(ordering: .acquiring) { return }
            let slot = slots + written % Self.blocksAhead
            slot.pointee.rows = []  // frees the rows the consumer used up, on this thread
            var block = Block()
            block.rows.reserveCapacity(Self.blockSize)
            do {
                while block.rows.count < Self.blockSize {
                    guard let row = try source() else {
                        block.last = true
                        break
                    }
                    block.rows.append(row)
                }
            } catch {
                block.last = true
                block.error = error
            }
            slot.pointee = block
            written += 1
            sem_post(ready)
            if block.last { return }
        }
    }
}
