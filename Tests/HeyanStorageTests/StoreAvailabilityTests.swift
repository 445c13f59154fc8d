import CSQLite
import Dispatch
import Glibc
import HeyanCrypto
import HeyanDomain
import HeyanTestSupport
import Synchronization
import Testing

@testable import HeyanStorage

/// Transient store failures (503 `store-unavailable`), readiness, the one-server lock and the
/// database address (issue 10, findings 4 and 9; docs/storage.md). The full-disk case runs for
/// real on a tmpfs in `HeyanServerTests/ReadinessTests.swift`.
@Suite struct StoreAvailabilityTests {
    /// Waits for a readiness answer.
    func readiness(_ store: SQLiteVerificationStore, minimumFreeBytes: Int64 = 0) -> StoreReadiness {
        let done = DispatchSemaphore(value: 0)
        let answer = Mutex<StoreReadiness?>(nil)
        store.checkReadiness(minimumFreeBytes: minimumFreeBytes) { readiness in
            answer.withLock { $0 = readiness }
            done.signal()
        }
        done.wait()
        return answer.withLock { $0! }
    }

    func verificationCount(_ store: SQLiteVerificationStore) throws -> SQLiteValue? {
        try store.database.read { try $0.fetchScalar("SELECT count(*) FROM verifications") }
    }

    @Test("SQLite failures of the moment are transient; failures of the data or file are not")
    func transientClassification() {
        for code in [SQLITE_FULL, SQLITE_IOERR, SQLITE_BUSY, SQLITE_LOCKED, SQLITE_PROTOCOL, SQLITE_NOMEM, SQLITE_CANTOPEN] {
            #expect(SQLiteError(resultCode: code, message: "x").isTransient, "\(code)")
        }
        #expect(SQLiteError(resultCode: SQLITE_IOERR, extendedResultCode: SQLITE_IOERR | (4 << 8), message: "x").isTransient)
        for code in [SQLITE_CONSTRAINT, SQLITE_ERROR, SQLITE_CORRUPT, SQLITE_MISUSE, SQLITE_READONLY, SQLITE_NOTADB] {
            #expect(!SQLiteError(resultCode: code, message: "x").isTransient, "\(code)")
        }
        #expect(GroupCommitWriter.closedError.isTransient)
        #expect(!SQLiteError(code: "sqlite.schema-too-new", resultCode: SQLITE_ERROR, message: "x").isTransient)
        #expect(!SQLiteError(code: "sqlite.directory", resultCode: SQLITE_CANTOPEN, message: "x").isTransient)
        #expect((SQLiteError(resultCode: SQLITE_FULL, message: "x") as any Error).isTransientStoreFailure)
    }

    @Test("a write lock held past the busy timeout fails every job, stores nothing, and readiness recovers after it")
    func lockedStoreFailsCleanlyAndRecovers() throws {
        let fixture = try StoreFixture()  // builds the submissions; its own store stays idle
        let directory = TemporaryDirectory()
        let path = directory.file("heyan.sqlite")
        var configuration = SQLiteConfiguration()
        configuration.busyTimeoutMilliseconds = 50
        let clock = ManualClock()
        let store = try SQLiteVerificationStore(path: path, hash: Digest.sha256, configuration: configuration, clock: clock)
        defer { store.close() }
        #expect(readiness(store) == .ready)

        // Another process's connection (an operator's sqlite3 shell, a second server) holds the write lock.
        let other = try SQLiteConnection(path: path)
        try other.execute("BEGIN IMMEDIATE")
        let outcomes = Mutex<[Result<SubmitResult, any Error>]>([])
        let submissions = (0..<6).map { _ in fixture.queued(dueAt: StoreFixture.t0 + 1000) }
        runOnThreads(submissions.count) { index in
            let done = DispatchSemaphore(value: 0)
            store.submit(submissions[index]) { result in
                outcomes.withLock { $0.append(result) }
                done.signal()
            }
            done.wait()
        }
        let results = outcomes.withLock { $0 }
        #expect(results.count == 6)
        for result in results {
            guard case .failure(let error) = result else {
                Issue.record("a job committed while another connection held the write lock")
                continue
            }
            #expect(error.isTransientStoreFailure, "\(error)")
            #expect((error as? SQLiteError)?.code == "sqlite.busy", "\(error)")
        }
        #expect(try verificationCount(store) == .integer(0))
        #expect(store.lastTransientFailure != nil)
        let locked = readiness(store)  // runs a probe, which waits for the lock and fails too
        #expect(!locked.isReady)
        #expect(locked.reason?.contains("locked") == true, "\(locked)")

        try other.execute("ROLLBACK")
        // Probes run at most once a second: within it the last answer stands.
        #expect(!readiness(store).isReady)
        clock.advance(seconds: 0.9)
        #expect(!readiness(store).isReady)
        clock.advance(seconds: 0.2)
        #expect(readiness(store) == .ready)
        #expect(store.lastTransientFailure == nil)
        #expect(try wait { store.submit(fixture.queued(dueAt: StoreFixture.t0 + 1000), completion: $0) } == .stored)
        #expect(try verificationCount(store) == .integer(1))
        // The probe wrote its row and nothing else: the audit log holds only the submission's entries.
        let probe = try store.database.read {
            try $0.fetchScalar("SELECT count(*) FROM service_meta WHERE key = 'readiness_probe_at'")
        }
        #expect(probe == .integer(1))
    }

    @Test("readiness is refused below the free-space reserve, without a probe")
    func freeSpaceReserve() throws {
        let fixture = try StoreFixture()
        let free = try #require(fixture.sqliteStore.freeBytes())
        #expect(free > 0)
        #expect(readiness(fixture.sqliteStore, minimumFreeBytes: 1) == .ready)
        let short = readiness(fixture.sqliteStore, minimumFreeBytes: Int64.max)
        #expect(!short.isReady)
        #expect(short.reason?.contains("limits.minimumFreeDiskBytes") == true)
    }

    @Test("a second lock on the same database is refused naming the holder's pid; released on close")
    func oneServerPerDatabase() throws {
        let directory = TemporaryDirectory()
        let path = directory.file("sub/heyan.sqlite")
        var first: DatabaseLock? = try DatabaseLock(database: path)
        #expect(first?.path == path + ".lock")
        #expect(String(decoding: try readFile(path + ".lock"), as: UTF8.self) == "\(getpid())\n")
        do {
            _ = try DatabaseLock(database: path)
            Issue.record("a second lock was granted")
        } catch let error as DatabaseLockError {
            #expect(error.code == "database.in-use")
            #expect(error.holderProcessID == getpid())
            #expect(error.message.contains(path))
            #expect(error.message.contains("heyan process \(getpid())"))
        }
        first = nil
        _ = first
        let again = try DatabaseLock(database: path)
        #expect(again.path == path + ".lock")
        // Another database next to it is another lock.
        _ = try DatabaseLock(database: directory.file("sub/other.sqlite"))
    }

    @Test(
        "a database address with a URI scheme is refused before any folder is created",
        arguments: ["postgresql://heyan@db.example:5432/heyan", "postgres://db/heyan", "mysql://root@localhost/heyan",
                    "file:heyan.sqlite", "sqlite:///var/heyan.sqlite", ":memory:"])
    func uriAddressesAreRefused(_ address: String) throws {
        #expect(throws: DatabaseAddressError.self) { try SQLiteStore(path: address) }
        #expect(throws: DatabaseAddressError.self) { try DatabaseLock(database: address) }
        #expect(throws: DatabaseAddressError.self) {
            try SQLiteVerificationStore(path: address, hash: Digest.sha256)
        }
        // Relative to the working directory, the old reading made `postgresql:/…` folders there.
        let firstComponent = String(address.prefix { $0 != "/" })
        #expect(access(firstComponent, F_OK) != 0, "\(firstComponent) exists")
    }
}
