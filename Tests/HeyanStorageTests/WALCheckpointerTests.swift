import Glibc
import HeyanTestSupport
import Testing

@testable import HeyanStorage

/// The WAL is checkpointed by a background thread (WALCheckpointer), not inside the writer's
/// commits, and still stays bounded under sustained writes.
@Suite("WALCheckpointer: checkpoints off the writer, WAL bounded")
struct WALCheckpointerTests {
    let directory = TemporaryDirectory()

    /// Commits `count` transactions of about 8 KiB each.
    private func fill(_ store: SQLiteStore, count: Int) throws {
        try store.write { try $0.execute("CREATE TABLE IF NOT EXISTS filler (id INTEGER PRIMARY KEY, data BLOB)") }
        for _ in 0..<count {
            try store.write { try $0.execute("INSERT INTO filler (data) VALUES (randomblob(8000))") }
        }
    }

    private func walBytes(_ path: String) -> Int {
        var status = stat()
        return stat(path + "-wal", &status) == 0 ? Int(status.st_size) : 0
    }

    @Test("checkpoints run in the background and the WAL restarts: ~8 MB written, the WAL stays near 4x the threshold")
    func backgroundCheckpointsKeepTheWALBounded() throws {
        var configuration = SQLiteConfiguration()
        configuration.walAutocheckpointPages = 100  // 400 KiB; the writer resets at 400 pages
        let path = directory.file("bounded.sqlite")
        let store = try SQLiteStore(path: path, configuration: configuration)
        try fill(store, count: 1000)
        #expect(store.backgroundCheckpoints > 0)
        // 4 x 100 pages of 4 KiB plus one commit's frames and the header, with room to spare.
        #expect(walBytes(path) < 3 * 1024 * 1024, "WAL grew to \(walBytes(path)) bytes")
        #expect(try store.read { try $0.fetchScalar("SELECT count(*) FROM filler") } == .integer(1000))
        #expect(try store.integrityCheck())
    }

    @Test("without background checkpoints SQLite's own automatic checkpoint is in place")
    func foregroundConfiguration() throws {
        var configuration = SQLiteConfiguration()
        configuration.checkpointInBackground = false
        let store = try SQLiteStore(path: directory.file("foreground.sqlite"), configuration: configuration)
        #expect(try store.write { try $0.fetchScalar("PRAGMA wal_autocheckpoint") } == .integer(Int64(configuration.walAutocheckpointPages)))
        try fill(store, count: 50)
        #expect(store.backgroundCheckpoints == 0)
    }

    @Test("a reader holding a snapshot neither blocks the checkpointer nor the writer")
    func readerSnapshotDoesNotBlock() throws {
        var configuration = SQLiteConfiguration()
        configuration.walAutocheckpointPages = 50
        let path = directory.file("reader.sqlite")
        let store = try SQLiteStore(path: path, configuration: configuration)
        try fill(store, count: 10)
        try store.read { reader in
            #expect(try reader.fetchScalar("SELECT count(*) FROM filler") == .integer(10))
            try fill(store, count: 200)  // commits and checkpoints while the snapshot is open
            #expect(try reader.fetchScalar("SELECT count(*) FROM filler") == .integer(10))
        }
        #expect(try store.read { try $0.fetchScalar("SELECT count(*) FROM filler") } == .integer(210))
    }
}
