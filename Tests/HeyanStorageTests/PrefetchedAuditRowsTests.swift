import Glibc
import Synchronization
import Testing

@testable import HeyanStorage

/// `heyan audit verify` reads the log's rows on a second thread (``PrefetchedAuditRows``): these hold
/// it to what the verifier needs from the engine's cursor read directly.
struct PrefetchedAuditRowsTests {
    struct Failure: Error, Equatable {}

    /// A cursor over `count` rows, numbered from 1, that counts its calls and throws after
    /// `failAfter` rows when given.
    final class Cursor: @unchecked Sendable {
        let count: Int
        let failAfter: Int?
        let calls = Atomic<Int>(0)
        init(count: Int, failAfter: Int? = nil) {
            self.count = count
            self.failAfter = failAfter
        }
        func next() throws -> AuditLogSnapshot.Row? {
            let call = calls.add(1, ordering: .relaxed).newValue
            if let failAfter, call > failAfter { throw Failure() }
            guard call <= count else { return nil }
            return AuditLogSnapshot.Row(sequence: Int64(call), entry: nil, salt: nil, leaf: nil)
        }
    }

    @Test(arguments: [0, 1, PrefetchedAuditRows.blockSize, PrefetchedAuditRows.blockSize * 6 + 17])
    func everyRowInOrderThenNil(count: Int) throws {
        let cursor = Cursor(count: count)
        let rows = try PrefetchedAuditRows(cursor.next)
        var sequences: [Int64] = []
        while let row = try rows.next() { sequences.append(row.sequence) }
        #expect(sequences == (0..<count).map { Int64($0 + 1) })
        #expect(try rows.next() == nil)
        rows.finish()
        #expect(cursor.calls.load(ordering: .relaxed) == count + 1)
    }

    @Test func anErrorComesAfterTheRowsReadBeforeIt() throws {
        let failAfter = PrefetchedAuditRows.blockSize + 5
        let rows = try PrefetchedAuditRows(Cursor(count: 10_000, failAfter: failAfter).next)
        var read = 0
        let error = #expect(throws: Failure.self) {
            while try rows.next() != nil { read += 1 }
        }
        #expect(error == Failure())
        #expect(read == failAfter)
    }

    /// A verifier that stops at a break must not leave the engine's cursor in use: after
    /// ``PrefetchedAuditRows/finish()`` the cursor is not called again, and it was not read far ahead.
    @Test func finishStopsTheReadingThread() throws {
        let cursor = Cursor(count: 1_000_000)
        let rows = try PrefetchedAuditRows(cursor.next)
        #expect(try rows.next()?.sequence == 1)
        rows.finish()
        let calls = cursor.calls.load(ordering: .relaxed)
        #expect(calls <= PrefetchedAuditRows.blockSize * (PrefetchedAuditRows.blocksAhead + 1))
        // Nothing runs the cursor any more.
        var pause = timespec(tv_sec: 0, tv_nsec: 50_000_000)
        nanosleep(&pause, nil)
        #expect(cursor.calls.load(ordering: .relaxed) == calls)
    }
}
