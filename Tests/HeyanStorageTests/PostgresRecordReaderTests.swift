import Dispatch
import HeyanDomain
import HeyanPostgres
import HeyanPostgresStore
import HeyanTestSupport
import Synchronization
import Testing

/// PostgreSQL's record reader answers every lookup waiting when it is free with one statement, off
/// the event loops (docs/postgresql.md, "Record reader").
@Suite("PostgreSQL store: the record reader")
struct PostgresRecordReaderTests {
    static let type = "marriage-status"
    static let owner = "dept-civil-affairs"

    /// `count` records of ``type``, one a subject whose ID needs quoting in an array literal.
    static func records(_ count: Int) -> [SharedRecord] {
        (0..<count).map { index in
            SharedRecord(
                certificateType: type, subjectID: index == 0 ? #"a"b\c,{d} e"# : "1101051949123100\(index)",
                owner: owner, claims: ["maritalStatus": .string("status-\(index)")], updatedAt: StoreFixture.t0)
        }
    }

    @Test(
        "many concurrent lookups: each answered with its own record (a missing one nil), in fewer statements",
        .enabled(if: Engine.all.contains(.postgresql)))
    func concurrentLookupsAreBatched() throws {
        let fixture = try StoreFixture(.postgresql)
        let store = try #require(fixture.store as? PostgresVerificationStore)
        let records = Self.records(20)
        _ = try wait { store.putRecords(records, actor: Self.owner, now: StoreFixture.t0, completion: $0) }
        // Key i: record i % 25 — the last five of every 25 have no record.
        @Sendable func expected(_ index: Int) -> SharedRecord? {
            index % 25 < records.count ? records[index % 25] : nil
        }
        @Sendable func subject(_ index: Int) -> String { expected(index)?.subjectID ?? "missing-\(index % 25)" }

        let threads = 8
        let perThread = 50
        let lookups = threads * perThread
        let answers = Mutex<[Int: Result<SharedRecord?, any Error>]>([:])
        let done = DispatchSemaphore(value: 0)
        let before = store.recordReadBatches
        runOnThreads(threads) { thread in
            for offset in 0..<perThread {
                let index = thread * perThread + offset
                guard case .later(let read) = store.lookUpRecord(certificateType: Self.type, subjectID: subject(index))
                else {
                    Issue.record("PostgreSQL answered a record lookup on the caller's thread")
                    return
                }
                read { result in
                    answers.withLock { $0[index] = result }
                    done.signal()
                }
            }
        }
        for _ in 0..<lookups { done.wait() }
        let batches = store.recordReadBatches - before
        for index in 0..<lookups {
            #expect(try answers.withLock { $0[index] }?.get() == expected(index), "lookup \(index)")
        }
        #expect(batches >= 1)
        #expect(batches < lookups)
        print("record reader: \(lookups) lookups in \(batches) statements")

        // Held, every lookup queued meanwhile is one batch: one statement.
        let release = store.holdRecordReader()
        let held = store.recordReadBatches
        let results = Mutex<[Int: SharedRecord?]>([:])
        for index in 0..<50 {
            guard case .later(let read) = store.lookUpRecord(certificateType: Self.type, subjectID: subject(index))
            else {
                Issue.record("PostgreSQL answered a record lookup on the caller's thread")
                return
            }
            read { result in
                results.withLock { $0[index] = try? result.get() }
                done.signal()
            }
        }
        release()
        for _ in 0..<50 { done.wait() }
        #expect(store.recordReadBatches - held == 1)
        for index in 0..<50 {
            #expect(results.withLock { $0[index] } == .some(expected(index)), "held lookup \(index)")
        }
    }

    @Test(
        "the reader's connection lost: the lookups waiting fail transiently, the next one reconnects and is answered",
        .enabled(if: Engine.all.contains(.postgresql)))
    func lostConnectionFailsThePendingLookups() throws {
        let fixture = try StoreFixture(.postgresql)
        let store = try #require(fixture.store as? PostgresVerificationStore)
        let records = Self.records(3)
        _ = try wait { store.putRecords(records, actor: Self.owner, now: StoreFixture.t0, completion: $0) }
        #expect(try wait(store.lookUpRecord(certificateType: Self.type, subjectID: records[1].subjectID)) == records[1])
        let pid = store.recordReaderBackendPID

        let release = store.holdRecordReader()
        let admin = try PostgresConnection(conninfo: fixture.conninfo)
        defer { admin.close() }
        let terminated: Bool? = try admin.query(
            "SELECT pg_terminate_backend($1::integer, 5000) AS terminated", [.int(Int(pid))]
        ).rows.first?.decode("terminated")
        #expect(terminated == true)
        let outcomes = Mutex<[Result<SharedRecord?, any Error>]>([])
        let done = DispatchSemaphore(value: 0)
        for record in records {
            guard case .later(let read) = store.lookUpRecord(certificateType: Self.type, subjectID: record.subjectID)
            else {
                Issue.record("PostgreSQL answered a record lookup on the caller's thread")
                return
            }
            read { result in
                outcomes.withLock { $0.append(result) }
                done.signal()
            }
        }
        release()
        for _ in records { done.wait() }
        for outcome in outcomes.withLock({ $0 }) {
            guard case .failure(let error) = outcome else {
                Issue.record("a lookup on a lost connection was answered")
                continue
            }
            #expect(error.isTransientStoreFailure)
        }
        #expect(try wait(store.lookUpRecord(certificateType: Self.type, subjectID: records[2].subjectID)) == records[2])
        #expect(try wait(store.lookUpRecord(certificateType: Self.type, subjectID: "none")) == nil)
        #expect(store.recordReaderBackendPID != pid)
    }

    @Test("the idempotency reader: concurrent lookups of stored and unknown keys, each answered right, batched")
    func idempotencyKeysAreReadInBatches() throws {
        let fixture = try StoreFixture(.postgresql)
        let store = try #require(fixture.store as? PostgresVerificationStore)
        // Keys that need quoting in an array literal, stored through submissions.
        let keys = (0..<20).map { index in index == 0 ? #"k"e\y,{0} x"# : "key-\(index)" }
        for (index, key) in keys.enumerated() where index % 2 == 0 {
            let record = IdempotencyRecord(
                requester: StoreFixture.requester, key: key, requestHash: Array(repeating: UInt8(index), count: 32),
                status: 201, body: Array("{\"n\":\(index)}".utf8), createdAt: StoreFixture.t0)
            #expect(try fixture.submit(fixture.queued(dueAt: StoreFixture.t0 + 1000, idempotency: record)) == .stored)
        }
        let release = store.holdIdempotencyReader()
        let before = store.idempotencyReadBatches
        let done = DispatchSemaphore(value: 0)
        let answers = Mutex<[Int: IdempotencyRecord?]>([:])
        for (index, key) in keys.enumerated() {
            guard case .later(let read) = store.lookUpIdempotencyRecord(requester: StoreFixture.requester, key: key) else {
                Issue.record("PostgreSQL answered an Idempotency-Key lookup on the caller's thread")
                return
            }
            read { result in
                answers.withLock { $0[index] = try? result.get() }
                done.signal()
            }
        }
        release()
        for _ in keys { done.wait() }
        #expect(store.idempotencyReadBatches - before == 1)
        for (index, key) in keys.enumerated() {
            let answer = answers.withLock { $0[index] } ?? nil
            if index % 2 == 0 {
                #expect(answer?.key == key && answer?.body == Array("{\"n\":\(index)}".utf8), "key \(index)")
            } else {
                #expect(answer == nil, "unknown key \(index)")
            }
        }
    }
}
