import Dispatch
import HeyanDomain
import HeyanPostgres
import HeyanPostgresStore
import HeyanTestSupport
import Synchronization
import Testing

/// A batch of plain writes (submissions, refusals) goes to PostgreSQL in one round trip — BEGIN,
/// statements, NOTIFY, COMMIT in one pipeline; when a statement of it fails the batch runs again
/// job by job in savepoints, so the failing job fails alone (docs/postgresql.md, "Group commit").
@Suite("PostgreSQL store: a batch in one round trip, and its fallback")
struct PostgresOneRoundTripTests {
    /// Holds the writer thread after the next batch (in the batch observer, before its
    /// completions) until `release()`, so the jobs queued meanwhile form one batch.
    final class WriterGate: Sendable {
        private let armed = Atomic<Bool>(false)
        private let entered = DispatchSemaphore(value: 0)
        private let gate = DispatchSemaphore(value: 0)
        let batches = Mutex<[GroupCommitBatch]>([])

        init(_ store: PostgresVerificationStore) {
            store.observeBatches { [self] batch in
                batches.withLock { $0.append(batch) }
                if armed.exchange(false, ordering: .acquiringAndReleasing) {
                    entered.signal()
                    gate.wait()
                }
            }
        }

        /// Arms the gate and submits `trigger`, returning once the writer holds in its batch.
        func close(with trigger: () -> Void) {
            armed.store(true, ordering: .releasing)
            trigger()
            entered.wait()
        }

        func release() { gate.signal() }
    }

    /// Submits `news` without waiting; `results` completes once all have completed.
    static func submitAll(_ news: [NewVerification], to store: PostgresVerificationStore)
        -> () -> [Result<SubmitResult, any Error>]
    {
        let results = Mutex<[Int: Result<SubmitResult, any Error>]>([:])
        let done = DispatchSemaphore(value: 0)
        for (index, new) in news.enumerated() {
            store.submit(new) { result in
                results.withLock { $0[index] = result }
                done.signal()
            }
        }
        return {
            for _ in news { done.wait() }
            return results.withLock { all in news.indices.map { all[$0]! } }
        }
    }

    @Test(
        "plain submissions queued together commit in one round trip, with their entries and notifications",
        .enabled(if: Engine.all.contains(.postgresql)))
    func oneRoundTrip() throws {
        let fixture = try StoreFixture(.postgresql)
        let store = try #require(fixture.store as? PostgresVerificationStore)
        let changes = Mutex<[StoreChange]>([])
        store.observeChanges { change in changes.withLock { $0.append(change) } }
        let gate = WriterGate(store)
        gate.close { store.submit(fixture.answeredAtOnce()) { _ in } }
        let before = store.oneRoundTripBatches
        let news = (0..<20).map { index in
            index % 2 == 0 ? fixture.answeredAtOnce() : fixture.queued(dueAt: StoreFixture.t0 + Millis(index))
        }
        let results = Self.submitAll(news, to: store)
        gate.release()
        #expect(try results().map { try $0.get() } == Array(repeating: .stored, count: 20))
        let after = store.oneRoundTripBatches
        #expect(after.committed - before.committed == 1)
        #expect(after.fellBack == before.fellBack)
        #expect(gate.batches.withLock { $0.last }.map { ($0.jobs, $0.committed) } ?? (0, false) == (20, true))
        #expect(try fixture.count("verifications") == 21)
        #expect(try fixture.count("attestations") == 11)
        let entries = try fixture.allAuditEntries()
        #expect(entries.count == 2 + 10 * 2 + 10 * 2)
        #expect(entries.map(\.sequence) == Array(1...Int64(entries.count)))
        for (previous, entry) in zip(entries, entries.dropFirst()) { #expect(entry.previousHash == previous.hash) }
        // Reported in order once committed, as the careful way reports them.
        var expected: [StoreChange] = []
        for new in news {
            expected.append(.verification(id: new.verification.id))
            if let item = new.queueItem, !expected.contains(.queue(owner: item.owner)) { expected.append(.queue(owner: item.owner)) }
        }
        #expect(Array(changes.withLock { $0 }.suffix(expected.count)) == expected)
    }

    /// Values an array literal must escape, for ``batchRoundTripsValuesExactly()``.
    static let tricky = [
        #"{"quote":"say \"hi\"","path":"C:\\dir\\file","list":[1,"a,b"]}"#, "line one\nline two\r\n\tend",
        "张三 · 住房公积金提取：核验婚姻状况", "NULL", "", "{braces,commas}", "\\", "\"", "  padded  ",
    ]

    /// A submission of batch `index` whose every text column holds one of ``tricky``, whose optional
    /// columns are NULL or not by turn, with bytes of every value and integers at their extremes.
    static func trickySubmission(_ fixture: StoreFixture, _ index: Int) -> NewVerification {
        func text(_ offset: Int) -> String { tricky[(index + offset) % tricky.count] }
        var new = index % 2 == 0 ? fixture.answeredAtOnce() : fixture.queued(dueAt: StoreFixture.t0 + 60_000)
        new.verification.purpose = text(0)
        new.verification.subject.name = "名" + text(1)
        new.verification.matterCode = text(2)
        new.verification.claims = ["text": .string(text(3)), "json": .string(text(0)), "n": .integer(-7)]
        new.verification.catalogVersion = index % 2 == 0 ? Int(Int32.min) : Int(Int32.max)
        if var attestation = new.attestation {
            attestation.issuedAt = .min
            attestation.expiresAt = .max
            new.attestation = attestation
            new.verification.state = .answered(
                VerificationAnswer(
                    outcome: .confirmed, disclosed: ["said": .string(text(4))], note: index % 4 == 0 ? "" : text(5),
                    answeredAt: .max, attestationID: attestation.id))
        } else if var item = new.queueItem {
            new.verification.dueAt = .max
            item.createdAt = .min
            item.dueAt = .max
            new.queueItem = item
            new.dueBeyondCalendar = true
        }
        new.idempotency = IdempotencyRecord(
            requester: StoreFixture.requester, key: "key \(index) " + text(6),
            requestHash: (0..<32).map { UInt8(truncatingIfNeeded: $0 &* 8 &+ index) }, status: 201,
            body: Array(0...255) + Array(text(7).utf8), createdAt: index % 2 == 0 ? .min : .max)
        new.audit.append(
            AuditEvent(
                action: AuditAction(rawValue: "test.escaping"), actor: "actor " + text(8),
                requester: index % 2 == 0 ? nil : text(1), verificationID: new.verification.id,
                clerk: index % 3 == 0 ? nil : text(2), detail: ["text": text(3), "other": "核验 \(index)"]))
        return new
    }

    @Test(
        "quotes, backslashes, newlines, Chinese text, NULLs, bytes and int64 extremes come back exactly through the batch's arrays",
        .enabled(if: Engine.all.contains(.postgresql)))
    func batchRoundTripsValuesExactly() throws {
        let fixture = try StoreFixture(.postgresql)
        let store = try #require(fixture.store as? PostgresVerificationStore)
        let gate = WriterGate(store)
        var submitted: [NewVerification] = []
        // Two batches: the first registers the JWS header and stores attestations whole, the second
        // names the header by id.
        for batch in 0..<2 {
            gate.close { store.submit(fixture.answeredAtOnce()) { _ in } }
            let before = store.oneRoundTripBatches
            let news = (0..<12).map { Self.trickySubmission(fixture, batch * 12 + $0) }
            let results = Self.submitAll(news, to: store)
            gate.release()
            #expect(try results().map { try $0.get() } == Array(repeating: .stored, count: news.count))
            let after = store.oneRoundTripBatches
            #expect(after.committed - before.committed == 1)
            #expect(after.fellBack == before.fellBack)
            submitted += news
        }
        #expect(try fixture.count("attestations WHERE header_id IS NOT NULL") >= 6)
        for new in submitted {
            #expect(try store.verification(id: new.verification.id) == new.verification)
            if let attestation = new.attestation { #expect(try store.attestation(id: attestation.id) == attestation) }
            if let item = new.queueItem { #expect(try store.queueItem(id: item.id) == item) }
            let key = try #require(new.idempotency)
            #expect(try store.idempotencyRecord(requester: key.requester, key: key.key) == key)
        }
        #expect(try fixture.count("queue_items WHERE due_beyond_calendar") == 12)
        // Every entry, in the batches' job order (ids drawn in that order), each with its own salt.
        _ = try fixture.integratedTreeHead()
        let events = try fixture.allAuditEntries().map(\.event).filter { $0.action.rawValue == "test.escaping" }
        #expect(events == submitted.map { $0.audit.last! })
        let entries = try fixture.allAuditEntries()
        for (previous, entry) in zip(entries, entries.dropFirst()) { #expect(entry.previousHash == previous.hash) }
        #expect(try fixture.count("(SELECT DISTINCT salt FROM audit_log WHERE length(salt) = 32) AS s") == Int64(entries.count))
    }

    @Test(
        "a failing job in a one-round-trip batch: the batch runs again in savepoints, it fails alone, the others commit",
        .enabled(if: Engine.all.contains(.postgresql)))
    func fallbackFailsOnlyTheFailingJob() throws {
        let fixture = try StoreFixture(.postgresql)
        let store = try #require(fixture.store as? PostgresVerificationStore)
        let key = IdempotencyRecord(
            requester: StoreFixture.requester, key: "key-1", requestHash: Array(repeating: 7, count: 32), status: 202,
            body: Array("first".utf8), createdAt: StoreFixture.t0)
        let first = fixture.queued(dueAt: StoreFixture.t0 + 10, idempotency: key)
        let plain = fixture.answeredAtOnce()
        #expect(try fixture.submit(first) == .stored)
        #expect(try fixture.submit(plain) == .stored)

        let gate = WriterGate(store)
        gate.close { store.submit(fixture.answeredAtOnce()) { _ in } }
        let before = store.oneRoundTripBatches
        let otherHash = IdempotencyRecord(
            requester: key.requester, key: key.key, requestHash: Array(repeating: 8, count: 32), status: 202,
            body: [], createdAt: StoreFixture.t0)
        let news = [
            fixture.answeredAtOnce(),  // stored
            fixture.queued(dueAt: StoreFixture.t0 + 20, idempotency: key),  // the key's request again: replayed
            fixture.queued(dueAt: StoreFixture.t0 + 30, idempotency: otherHash),  // the key, another request: keyReused
            plain,  // its verification id again: a unique violation, this job alone fails
            fixture.queued(dueAt: StoreFixture.t0 + 40),  // stored
        ]
        let results = Self.submitAll(news, to: store)
        gate.release()
        let outcomes = results()
        #expect((try? outcomes[0].get()) == .stored)
        #expect((try? outcomes[1].get()) == .replayed(status: 202, body: Array("first".utf8)))
        #expect((try? outcomes[2].get()) == .keyReused)
        guard case .failure(let error) = outcomes[3] else {
            Issue.record("a second verification with one id was stored")
            return
        }
        #expect((error as? PostgresError)?.code == "postgres.unique-violation")
        #expect((try? outcomes[4].get()) == .stored)
        let after = store.oneRoundTripBatches
        #expect(after.fellBack - before.fellBack == 1)
        #expect(after.committed == before.committed)
        #expect(gate.batches.withLock { $0.last }.map { ($0.jobs, $0.committed) } ?? (0, false) == (5, true))
        #expect(try fixture.count("verifications") == 5)
        #expect(try fixture.count("idempotency_keys") == 1)
        // 2 each for first, plain, the gate's, news[0] and news[4]; nothing of the failing, replayed
        // and refused jobs.
        let entries = try fixture.allAuditEntries()
        #expect(entries.count == 10)
        #expect(entries.map(\.sequence) == Array(1...Int64(10)))
        for (previous, entry) in zip(entries, entries.dropFirst()) { #expect(entry.previousHash == previous.hash) }
    }

    @Test(
        "the connection lost under a one-round-trip batch fails every job of it, none acknowledged; the next batch reconnects",
        .enabled(if: Engine.all.contains(.postgresql)))
    func connectionLostFailsTheBatch() throws {
        let fixture = try StoreFixture(.postgresql)
        let store = try #require(fixture.store as? PostgresVerificationStore)
        #expect(try fixture.submit(fixture.answeredAtOnce()) == .stored)
        let pid = store.writerBackendPID  // before the gate holds the writer's queue
        let gate = WriterGate(store)
        gate.close { store.submit(fixture.answeredAtOnce()) { _ in } }
        let admin = try PostgresConnection(conninfo: fixture.conninfo)
        defer { admin.close() }
        _ = try admin.query("SELECT pg_terminate_backend($1::integer, 5000)", [.int(Int(pid))])
        let news = (0..<4).map { _ in fixture.answeredAtOnce() }
        let results = Self.submitAll(news, to: store)
        gate.release()
        for outcome in results() {
            guard case .failure(let error) = outcome else {
                Issue.record("a job of a batch whose connection was lost succeeded")
                continue
            }
            #expect(error.isTransientStoreFailure)
        }
        #expect(try fixture.count("verifications") == 2)
        #expect(try fixture.submit(fixture.answeredAtOnce()) == .stored)
        #expect(store.writerBackendPID != pid)
        #expect(try fixture.count("verifications") == 3)
    }
}
