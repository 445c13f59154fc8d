import CSQLite
import CSQLiteProcess
import Glibc
import HeyanTestSupport
import Testing

@testable import HeyanStorage

/// The VFS of `CSQLiteProcess` (docs/storage.md, "WAL writes"): SQLite writes each WAL frame as two
/// calls, its header and its page; heyan's default VFS hands a commit's frames to the kernel at the
/// sync, in pieces of at most 128 KiB.
@Suite("WAL writes: a commit's frames reach the kernel gathered")
struct WALBufferTests {
    let directory = TemporaryDirectory()

    /// The write(2)-family calls this thread has made (`syscw` in /proc/thread-self/io).
    static func writeCalls() throws -> Int {
        let fd = open("/proc/thread-self/io", O_RDONLY)
        guard fd >= 0 else { throw TestFailure("cannot open /proc/thread-self/io") }
        defer { close(fd) }
        var bytes = [UInt8](repeating: 0, count: 1024)
        let count = read(fd, &bytes, bytes.count)
        guard count > 0 else { throw TestFailure("cannot read /proc/thread-self/io") }
        let text = String(decoding: bytes[..<count], as: UTF8.self)
        for line in text.split(separator: "\n") where line.hasPrefix("syscw:") {
            if let value = Int(line.dropFirst("syscw:".count).trimmingPrefix(" ")) { return value }
        }
        throw TestFailure("no syscw in /proc/thread-self/io: \(text)")
    }

    @Test("heyan's VFS is SQLite's default, and a commit of 40 pages is at most three writes, not 80")
    func commitIsGathered() throws {
        let path = directory.file("gathered.sqlite")
        do {
            let store = try SQLiteStore(path: path)
            let vfs = try #require(sqlite3_vfs_find(nil))
            #expect(String(cString: vfs.pointee.zName) == String(cString: heyan_sqlite_wal_buffer_vfs_name()))
            try store.write { try $0.execute("CREATE TABLE t (x BLOB)") }
            let before = try Self.writeCalls()
            try store.write { db in
                for _ in 0..<40 { try db.execute("INSERT INTO t VALUES (randomblob(3500))") }
            }
            let calls = try Self.writeCalls() - before
            // ~41 frames of 4,120 bytes: two pieces of at most 128 KiB. Each frame on its own would be
            // two calls, 80 or more.
            #expect(calls >= 1 && calls <= 3, "\(calls) write calls for one commit")
        }
        // Everything committed is in the file: a new store (new connections, WAL recovered) reads it.
        let reopened = try SQLiteStore(path: path)
        #expect(try reopened.read { try $0.fetchScalar("SELECT count(*) FROM t") } == .integer(40))
        #expect(try reopened.integrityCheck())
    }

    @Test("with synchronous = NORMAL (no sync at commit) another connection still sees every commit at once")
    func visibleWithoutSync() throws {
        // The gathered frames go out when the commit frame is complete, before SQLite publishes the
        // transaction in the WAL index; a reader that found a frame in the index and read the file
        // before the bytes were there would see an older page, or none.
        let path = directory.file("normal.sqlite")
        let writer = try SQLiteConnection(path: path)
        let reader = try SQLiteConnection(path: path)
        try writer.execute("PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; CREATE TABLE t (x BLOB)")
        var missed: [Int] = []
        for commit in 1...300 {
            try writer.execute("BEGIN; INSERT INTO t VALUES (randomblob(3000)); INSERT INTO t VALUES (randomblob(3000)); COMMIT")
            if try reader.fetchScalar("SELECT count(*) FROM t") != .integer(Int64(2 * commit)) { missed.append(commit) }
        }
        #expect(missed.isEmpty, "the reader missed commits \(missed.prefix(10))")
    }

    @Test("a transaction far larger than the buffer commits whole and reads back")
    func largeTransaction() throws {
        let path = directory.file("large.sqlite")
        do {
            let store = try SQLiteStore(path: path)
            try store.write { db in
                try db.execute(
                    """
                    CREATE TABLE t (a INTEGER PRIMARY KEY, b TEXT);
                    WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 20000)
                        INSERT INTO t SELECT x, hex(randomblob(200)) FROM c;
                    """)
            }
            // A later, small commit goes on from where the large one ended.
            try store.write { try $0.execute("UPDATE t SET b = 'last' WHERE a = 20000") }
        }
        let reopened = try SQLiteStore(path: path)
        #expect(try reopened.read { try $0.fetchScalar("SELECT count(*) FROM t") } == .integer(20000))
        #expect(try reopened.read { try $0.fetchScalar("SELECT b FROM t WHERE a = 20000") } == .text("last"))
        #expect(try reopened.integrityCheck())
    }
}
