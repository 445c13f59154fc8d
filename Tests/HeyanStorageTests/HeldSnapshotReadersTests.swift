import Glibc
import HeyanCrypto
import HeyanDomain
import HeyanTestSupport
import Testing

@testable import HeyanStorage

/// Record lookups reuse their connection's read snapshot (HeldSnapshotReaders) without ever
/// missing an acknowledged record write, and without keeping the WAL from restarting.
@Suite("HeldSnapshotReaders: record lookups in held snapshots")
struct HeldSnapshotReadersTests {
    let directory = TemporaryDirectory()
    static let t0: Millis = 1_767_225_600_000

    /// Snapshots held for a minute: only a record write or a WAL restart ends one in these tests.
    static func configuration(walPages: Int = 4000) -> SQLiteConfiguration {
        var configuration = SQLiteConfiguration()
        configuration.recordSnapshotMicroseconds = 60_000_000
        configuration.walAutocheckpointPages = walPages
        return configuration
    }

    static func record(_ subject: String, _ status: String) -> SharedRecord {
        SharedRecord(
            certificateType: "marriage-status", subjectID: subject, owner: "dept-civil-affairs",
            claims: ["maritalStatus": .string(status)], updatedAt: t0)
    }

    func walBytes(_ path: String) -> Int {
        var status = stat()
        return stat(path + "-wal", &status) == 0 ? Int(status.st_size) : 0
    }

    @Test("a lookup after an acknowledged record write sees it, though the snapshot before is held")
    func acknowledgedRecordWritesAreSeen() throws {
        let store = try SQLiteVerificationStore(
            path: directory.file("seen.sqlite"), hash: Digest.sha256, configuration: Self.configuration())
        defer { store.close() }
        let subject = "110105194912310021"
        _ = try wait { store.putRecords([Self.record(subject, "single")], actor: "dept-civil-affairs", now: Self.t0, completion: $0) }
        #expect(try store.record(certificateType: "marriage-status", subjectID: subject)?.claims["maritalStatus"] == .string("single"))
        #expect(store.database.heldRecordSnapshots == 1, "the lookup's snapshot is held")
        for status in ["married", "divorced"] {
            _ = try wait { store.putRecords([Self.record(subject, status)], actor: "dept-civil-affairs", now: Self.t0 + 1, completion: $0) }
            #expect(try store.record(certificateType: "marriage-status", subjectID: subject)?.claims["maritalStatus"] == .string(status))
        }
        #expect(try wait { store.deleteRecord(certificateType: "marriage-status", subjectID: subject, actor: "dept-civil-affairs", now: Self.t0 + 2, completion: $0) })
        #expect(try store.record(certificateType: "marriage-status", subjectID: subject) == nil)
    }

    @Test("a held snapshot is reused across other commits: a write that bypasses the store is not seen until one ends")
    func snapshotsAreHeldAcrossOtherCommits() throws {
        let path = directory.file("held.sqlite")
        let store = try SQLiteVerificationStore(path: path, hash: Digest.sha256, configuration: Self.configuration())
        defer { store.close() }
        let subject = "110105194912310021"
        _ = try wait { store.putRecords([Self.record(subject, "single")], actor: "dept-civil-affairs", now: Self.t0, completion: $0) }
        #expect(try store.record(certificateType: "marriage-status", subjectID: subject)?.claims["maritalStatus"] == .string("single"))
        // Another connection commits a change the store is not told about: the held snapshot (and so
        // its page cache) is still the one the lookups read.
        let other = try SQLiteConnection(path: path, mode: .readWriteCreate)
        try other.execute("PRAGMA busy_timeout = 5000")
        try other.execute(#"UPDATE records SET claims = '{"maritalStatus":"married"}' WHERE subject_id = '\#(subject)'"#)
        #expect(try store.record(certificateType: "marriage-status", subjectID: subject)?.claims["maritalStatus"] == .string("single"))
        store.database.recordsChanged()
        #expect(try store.record(certificateType: "marriage-status", subjectID: subject)?.claims["maritalStatus"] == .string("married"))
    }

    @Test("held snapshots do not keep the WAL from restarting: ~8 MB written between lookups, the WAL stays bounded")
    func theWALStillRestarts() throws {
        let path = directory.file("restart.sqlite")
        let store = try SQLiteVerificationStore(
            path: path, hash: Digest.sha256, configuration: Self.configuration(walPages: 100))
        defer { store.close() }
        let subject = "110105194912310021"
        _ = try wait { store.putRecords([Self.record(subject, "single")], actor: "dept-civil-affairs", now: Self.t0, completion: $0) }
        try store.database.write { try $0.execute("CREATE TABLE filler (id INTEGER PRIMARY KEY, data BLOB)") }
        for round in 0..<1000 {
            try store.database.write { try $0.execute("INSERT INTO filler (data) VALUES (randomblob(8000))") }
            if round % 10 == 0 {
                #expect(try store.record(certificateType: "marriage-status", subjectID: subject) != nil)
            }
        }
        // 4 x 100 pages of 4 KiB plus a commit's frames (WALCheckpointerTests' bound); a snapshot held
        // throughout would have kept every frame: ~8 MB.
        #expect(walBytes(path) < 3 * 1024 * 1024, "WAL grew to \(walBytes(path)) bytes")
        #expect(try store.database.integrityCheck())
    }

    @Test("an idle held snapshot past its age is ended by the next commit")
    func idleSnapshotsEndAfterTheirAge() throws {
        var configuration = SQLiteConfiguration()
        configuration.recordSnapshotMicroseconds = 1000
        let store = try SQLiteVerificationStore(path: directory.file("idle.sqlite"), hash: Digest.sha256, configuration: configuration)
        defer { store.close() }
        _ = try store.record(certificateType: "marriage-status", subjectID: "none")
        #expect(store.database.heldRecordSnapshots == 1)
        usleep(5000)
        try store.database.write { try $0.execute("CREATE TABLE IF NOT EXISTS filler (id INTEGER PRIMARY KEY)") }
        #expect(store.database.heldRecordSnapshots == 0)
    }
}
