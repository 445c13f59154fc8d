import CSQLite
import Dispatch
import Glibc
import HeyanDomain
import Synchronization
import HeyanCrypto
import Testing

@testable import HeyanStorage

private struct JobFailed: Error, Equatable {}

@Suite("GroupCommitWriter: batches, savepoints, commit failures, durability")
struct GroupCommitTests {
    let fixture: StoreFixture
    let t0 = StoreFixture.t0

    init() throws {
        fixture = try StoreFixture()
    }

    /// Holds the writer thread inside a job until `release()`, so the jobs queued meanwhile form
    /// one batch.
    final class WriterGate: Sendable {
        private let entered = DispatchSemaphore(value: 0)
        private let gate = DispatchSemaphore(value: 0)

        init(_ store: SQLiteVerificationStore) {
            store.writer.submit({ [entered, gate] _ in
                entered.signal()
                gate.wait()
            }, completion: { _ in })
            entered.wait()
        }

        func release() { gate.signal() }
    }

    @Test("many concurrent submits commit in fewer transactions than jobs, and none is lost")
    func groupsCommits() throws {
        let before = fixture.sqliteStore.statistics
        let news = (0..<300).map { _ in fixture.queued(dueAt: t0 + 1000) }
        let store = fixture.sqliteStore
        let results = Mutex<[SubmitResult]>([])
        runOnThreads(6) { worker in
            for index in stride(from: worker, to: news.count, by: 6) {
                let result = try! wait { store.submit(news[index], completion: $0) }
                results.withLock { $0.append(result) }
            }
        }
        #expect(results.withLock { $0.count } == 300)
        #expect(results.withLock { $0.allSatisfy { $0 == .stored } })
        let after = fixture.sqliteStore.statistics
        #expect(after.jobs - before.jobs == 300)
        #expect(after.commits - before.commits < 300)
        #expect(try fixture.count("verifications") == 300)
        let entries = try fixture.allAuditEntries()
        #expect(entries.map(\.sequence) == Array(1...600))
    }

    @Test("jobs queued while the writer is busy commit together, in one transaction")
    func naturalBatching() throws {
        let batches = Mutex<[GroupCommitBatch]>([])
        fixture.sqliteStore.observeBatches { batch in batches.withLock { $0.append(batch) } }
        let gate = WriterGate(fixture.sqliteStore)
        let commitsBefore = fixture.sqliteStore.statistics.commits
        let completed = Mutex(0)
        let done = DispatchSemaphore(value: 0)
        for _ in 0..<50 {
            fixture.sqliteStore.submit(fixture.queued(dueAt: t0 + 1000)) { result in
                #expect((try? result.get()) == .stored)
                completed.withLock { $0 += 1 }
                done.signal()
            }
        }
        #expect(completed.withLock { $0 } == 0)  // nothing acknowledged before its commit
        gate.release()
        for _ in 0..<50 { done.wait() }
        // The gate's batch, then one batch with all 50 submits.
        #expect(fixture.sqliteStore.statistics.commits == commitsBefore + 2)
        // The batch observer saw both, each before its completions ran.
        let observed = batches.withLock { $0 }
        #expect(observed.map(\.jobs) == [1, 50])
        #expect(observed.allSatisfy { $0.committed && $0.seconds > 0 })
    }

    @Test("a completion runs only after its transaction committed: another connection already sees the row")
    func completionAfterCommit() throws {
        let new = fixture.queued(dueAt: t0 + 1000)
        let path = fixture.path
        let seen = try wait { (completion: @escaping StoreCompletion<Int64>) in
            fixture.sqliteStore.submit(new) { result in
                // A fresh connection, outside the writer: it sees only committed data.
                let count = Result {
                    let connection = try SQLiteConnection(path: path, mode: .readOnly)
                    return try connection.fetchScalar(
                        "SELECT count(*) FROM verifications WHERE id = ?", arguments: [.text(new.verification.id)]
                    )?.integerValue ?? -1
                }
                completion(result.flatMap { _ in count.mapError { $0 as any Error } })
            }
        }
        #expect(seen == 1)
    }

    @Test("a failing job is rolled back alone: no rows, no audit entry, no gap in the chain")
    func savepointRollback() throws {
        let existing = fixture.queued(dueAt: t0 + 1000)
        #expect(try fixture.submit(existing) == .stored)  // entries 1, 2

        let gate = WriterGate(fixture.sqliteStore)
        let commitsBefore = fixture.sqliteStore.statistics.commits
        let a = fixture.queued(dueAt: t0 + 1000)
        // Same verification ID as an existing one: the INSERT fails after nothing else was written,
        // so put the duplicate *after* an audit append to prove the append is undone too.
        let duplicate = fixture.queued(dueAt: t0 + 1000, id: existing.verification.id)
        let c = fixture.queued(dueAt: t0 + 1000)
        let outcomes = Mutex<[String: Result<SubmitResult, any Error>]>([:])
        let done = DispatchSemaphore(value: 0)
        func record(_ name: String) -> StoreCompletion<SubmitResult> {
            { result in
                outcomes.withLock { $0[name] = result }
                done.signal()
            }
        }
        fixture.sqliteStore.submit(a, completion: record("a"))
        fixture.sqliteStore.writer.submit(
            { session in
                try session.appendAudit(AuditEvent(action: .requestRefused, actor: "doomed"), at: StoreFixture.t0)
                session.changed(.queue(owner: "doomed"))
                try VerificationRow.insert(.init(duplicate.verification), on: session.connection)
                return SubmitResult.stored
            }, completion: record("b"))
        fixture.sqliteStore.writer.submit({ _ in throw JobFailed() }, completion: record("thrown"))
        fixture.sqliteStore.submit(c, completion: record("c"))
        gate.release()
        for _ in 0..<4 { done.wait() }

        let results = outcomes.withLock { $0 }
        #expect((try? results["a"]?.get()) == .stored)
        #expect((try? results["c"]?.get()) == .stored)
        let constraint = try #require(results["b"].flatMap { result -> SQLiteError? in
            if case .failure(let error) = result { return error as? SQLiteError }
            return nil
        })
        #expect(constraint.code == "sqlite.constraint")
        if case .failure(let error) = results["thrown"] { #expect(error is JobFailed) } else { Issue.record("thrown job") }
        #expect(fixture.sqliteStore.statistics.commits == commitsBefore + 2)  // gate, then the one batch

        let entries = try fixture.allAuditEntries()
        #expect(entries.map(\.sequence) == Array(1...6))
        #expect(!entries.contains { $0.event.actor == "doomed" })
        #expect(entries[4].event.verificationID == c.verification.id)
        #expect(entries[4].previousHash == entries[3].hash)
        let report = try AuditChainVerifier.verify(databasePath: fixture.path, hash: Digest.sha256) { _ in }
        #expect(report.isIntact && report.entries == 6)        // The rolled-back job left no leaf: the tree has exactly the six entries.
        try expectTreeMatchesLog(fixture.sqliteStore)
    }

    @Test("a job that fails alone in its batch leaves no row, entry or leaf, and the chain continues")
    func singleJobFailure() throws {
        let store = fixture.sqliteStore
        let commitsBefore = store.statistics.commits
        let duplicate = fixture.queued(dueAt: t0 + 1000)
        #expect(try fixture.submit(duplicate) == .stored)  // entries 1, 2
        let written = fixture.queued(dueAt: t0 + 1000).verification
        #expect(throws: JobFailed.self) {
            try wait { (completion: @escaping StoreCompletion<Void>) in
                store.writer.submit(
                    { session in
                        try session.appendAudit(AuditEvent(action: .requestRefused, actor: "doomed"), at: StoreFixture.t0)
                        try VerificationRow.insert(.init(written), on: session.connection)
                        throw JobFailed()
                    }, completion: completion)
            }
        }
        #expect(throws: SQLiteError.self) {
            try wait { (completion: @escaping StoreCompletion<Void>) in
                store.writer.submit(
                    { session in try VerificationRow.insert(.init(duplicate.verification), on: session.connection) },
                    completion: completion)
            }
        }
        let next = fixture.queued(dueAt: t0 + 1000)
        #expect(try fixture.submit(next) == .stored)  // entries 3, 4
        #expect(store.statistics.commits == commitsBefore + 4)
        #expect(try fixture.count("verifications") == 2)
        let entries = try fixture.allAuditEntries()
        #expect(entries.map(\.sequence) == Array(1...4))
        #expect(!entries.contains { $0.event.actor == "doomed" })
        let report = try AuditChainVerifier.verify(databasePath: fixture.path, hash: Digest.sha256) { _ in }
        #expect(report.isIntact && report.entries == 4)
        try expectTreeMatchesLog(store)
    }

    @Test("a failing COMMIT fails every job of its batch and the chain continues from the database")
    func commitFailure() throws {
        #expect(try fixture.submit(fixture.queued(dueAt: t0 + 1000)) == .stored)  // entries 1, 2
        let batches = Mutex<[GroupCommitBatch]>([])
        fixture.sqliteStore.observeBatches { batch in batches.withLock { $0.append(batch) } }
        let gate = WriterGate(fixture.sqliteStore)
        let outcomes = Mutex<[Result<SubmitResult, any Error>]>([])
        let done = DispatchSemaphore(value: 0)
        let ok = fixture.queued(dueAt: t0 + 1000)
        fixture.sqliteStore.submit(ok) { result in
            outcomes.withLock { $0.append(result) }
            done.signal()
        }
        // Deferred foreign keys: the orphan queue item is only refused at COMMIT.
        let orphan = QueueItem(
            id: "qi_orphan", kind: .verification, verificationID: "ver_missing", owner: "x", createdAt: t0, dueAt: t0)
        fixture.sqliteStore.writer.submit(
            { session in
                try session.connection.execute("PRAGMA defer_foreign_keys = ON")
                try QueueItemRow.insert(orphan, on: session.connection)
                try session.appendAudit(AuditEvent(action: .requestRefused, actor: "orphan"), at: StoreFixture.t0)
                return SubmitResult.stored
            },
            completion: { result in
                outcomes.withLock { $0.append(result) }
                done.signal()
            })
        gate.release()
        done.wait()
        done.wait()
        let results = outcomes.withLock { $0 }
        #expect(results.count == 2)
        for result in results {
            guard case .failure(let error) = result else {
                Issue.record("every job of a batch whose COMMIT failed fails")
                continue
            }
            #expect((error as? SQLiteError)?.extendedResultCode == SQLiteError.constraintForeignKey)
        }
        #expect(fixture.sqliteStore.statistics.failedBatches == 1)
        #expect(batches.withLock { $0.map { [$0.jobs, $0.committed ? 1 : 0] } } == [[1, 1], [2, 0]])
        #expect(try fixture.sqliteStore.verification(id: ok.verification.id) == nil)

        // The in-memory head went back to entry 2: the next write is entry 3, chained to it.
        let next = fixture.queued(dueAt: t0 + 1000)
        #expect(try fixture.submit(next) == .stored)
        let entries = try fixture.allAuditEntries()
        #expect(entries.map(\.sequence) == [1, 2, 3, 4])
        #expect(entries[2].event.verificationID == next.verification.id)
        let report = try AuditChainVerifier.verify(databasePath: fixture.path, hash: Digest.sha256) { _ in }
        #expect(report.isIntact)        // The failed batch's leaves went with it: the tree continued from the committed edge.
        try expectTreeMatchesLog(fixture.sqliteStore)
    }

    @Test("close and reopen: every row is there and the audit chain continues without a gap")
    func durableAcrossReopen() throws {
        let queued = fixture.queued(dueAt: t0 + 1000)
        let answered = fixture.answeredAtOnce()
        #expect(try fixture.submit(queued) == .stored)
        #expect(try fixture.submit(answered) == .stored)
        let leased = try #require(try fixture.lease(now: t0).first)
        let checkpoint = try wait { fixture.sqliteStore.checkpoint(now: t0, sign: { _ in "jws" }, completion: $0) }
        let before = try fixture.allAuditEntries()

        try fixture.reopen()
        #expect(try fixture.sqliteStore.verification(id: queued.verification.id) == queued.verification)
        #expect(try fixture.sqliteStore.attestation(id: answered.attestation!.id) == answered.attestation)
        #expect(try fixture.sqliteStore.latestCheckpoint() == checkpoint)
        #expect(try fixture.allAuditEntries() == before)
        // The lease survived: its token still answers.
        guard case .answered = try fixture.answer(leased, at: t0 + 10) else {
            Issue.record("the lease survives a restart")
            return
        }
        let after = try fixture.allAuditEntries()
        #expect(after.map(\.sequence) == Array(1...Int64(before.count + 1)))
        #expect(after[before.count].previousHash == before.last?.hash)
        #expect(try fixture.sqliteStore.database.integrityCheck())
    }

    @Test("writes after close fail with sqlite.closed; the queue drains first")
    func closeDrains() throws {
        let done = DispatchSemaphore(value: 0)
        let result = Mutex<Result<SubmitResult, any Error>?>(nil)
        fixture.sqliteStore.submit(fixture.queued(dueAt: t0)) { outcome in
            result.withLock { $0 = outcome }
            done.signal()
        }
        fixture.sqliteStore.close()
        done.wait()
        #expect((try? result.withLock { $0 }?.get()) == .stored)
        let error = try #require(throws: SQLiteError.self) { try fixture.submit(fixture.queued(dueAt: t0)) }
        #expect(error.code == "sqlite.closed")
        #expect(try fixture.count("verifications") == 1)  // reads still work
    }

    /// `HEYAN_BENCH=1 swift test -c release --filter GroupCommitTests/benchmark`: latency of one
    /// job alone, and jobs/s with 64 submitters each keeping one 3-row job (verification, queue
    /// item, audit entry) in flight. Prints one JSON line.
    @Test("benchmark: single-job latency and 64 concurrent submitters", .enabled(if: getenv("HEYAN_BENCH") != nil))
    func benchmark() throws {
        let store = fixture.sqliteStore
        // Latency: one job at a time.
        var latencies: [UInt64] = []
        for _ in 0..<200 {
            let new = fixture.queuedOneEvent(dueAt: t0 + 1000)
            let start = monotonicNanoseconds()
            _ = try fixture.submit(new)
            latencies.append(monotonicNanoseconds() - start)
        }
        latencies.sort()

        // Throughput: 64 closed-loop submitters.
        let total = 40_000
        let jobs = (0..<total).map { _ in fixture.queuedOneEvent(dueAt: t0 + 1000) }
        let next = Atomic<Int>(64)
        let finished = DispatchSemaphore(value: 0)
        let failures = Atomic<Int>(0)
        let before = store.statistics
        let start = monotonicNanoseconds()
        @Sendable func run(_ index: Int) {
            store.submit(jobs[index]) { result in
                if case .failure = result { failures.add(1, ordering: .relaxed) }
                let following = next.wrappingAdd(1, ordering: .relaxed).oldValue
                if following < total { run(following) }
                finished.signal()
            }
        }
        for index in 0..<64 { run(index) }
        for _ in 0..<total { finished.wait() }
        let seconds = Double(monotonicNanoseconds() - start) / 1e9
        let after = store.statistics
        #expect(failures.load(ordering: .relaxed) == 0)
        let commits = after.commits - before.commits
        print(
            "{\"benchmark\":\"group-commit\",\"singleJobLatencyMedianMicroseconds\":\(latencies[100] / 1000),"
                + "\"singleJobLatencyP99Microseconds\":\(latencies[198] / 1000),\"submitters\":64,\"jobs\":\(total),"
                + "\"jobsPerSecond\":\(Int(Double(total) / seconds)),\"commits\":\(commits),"
                + "\"jobsPerCommit\":\(Double(total) / Double(max(commits, 1)))}")
    }
}

extension StoreFixture {
    /// A 3-row job: verification, queue item, one audit entry.
    func queuedOneEvent(dueAt: Millis) -> NewVerification {
        var new = queued(dueAt: dueAt)
        new.audit = Array(new.audit.prefix(1))
        return new
    }
}
