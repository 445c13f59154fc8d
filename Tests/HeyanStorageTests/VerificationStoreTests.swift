import CSQLite
import Dispatch
import HeyanDomain
import HeyanPostgres
import HeyanPostgresStore
import HeyanStores
import HeyanTestSupport
import Synchronization
import HeyanCrypto
import HeyanTransparencyLog
import Testing

@testable import HeyanStorage

@Suite("VerificationStore contract, on SQLite and PostgreSQL")
struct VerificationStoreTests {
    let fixture: StoreFixture
    let t0 = StoreFixture.t0

    init() throws {
        fixture = try StoreFixture()
    }

    @Test("SHA-256 of the test target matches the FIPS 180-4 vectors")
    func testHash() {
        #expect(hex(Digest.sha256(Array("abc".utf8))) == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        #expect(hex(Digest.sha256([])) == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        #expect(
            hex(Digest.sha256(Array("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq".utf8)))
                == "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1")
    }

    @Test("submit stores the verification, queue item and audit entries, and reports the changes", arguments: Engine.all)
    func submitQueued(_ engine: Engine) throws {
        let fixture = try StoreFixture(engine)
        let changes = Mutex<[StoreChange]>([])
        fixture.store.observeChanges { change in changes.withLock { $0.append(change) } }
        let new = fixture.queued(dueAt: t0 + 3_600_000)
        #expect(try fixture.submit(new) == .stored)

        #expect(try fixture.store.verification(id: new.verification.id) == new.verification)
        #expect(try fixture.store.verification(id: "ver_unknown") == nil)
        let entries = try fixture.allAuditEntries()
        #expect(entries.map(\.event) == new.audit)
        #expect(entries.map(\.sequence) == [1, 2])
        #expect(entries.allSatisfy { $0.time == t0 })
        #expect(changes.withLock { $0 } == [.verification(id: new.verification.id), .queue(owner: StoreFixture.owner)])
        #expect(
            try fixture.store.queueCounts() == [QueueCount(owner: StoreFixture.owner, pending: 1, leased: 0, overdue: 0, oldestCreatedAt: t0)])
    }

    @Test("submit of an answered-at-once verification stores its attestation; no queue change", arguments: Engine.all)
    func submitAnswered(_ engine: Engine) throws {
        let fixture = try StoreFixture(engine)
        let changes = Mutex<[StoreChange]>([])
        fixture.store.observeChanges { change in changes.withLock { $0.append(change) } }
        let new = fixture.answeredAtOnce()
        #expect(try fixture.submit(new) == .stored)
        #expect(try fixture.store.verification(id: new.verification.id) == new.verification)
        #expect(try fixture.store.attestation(id: new.attestation!.id) == new.attestation)
        #expect(try fixture.count("queue_items") == 0)
        #expect(changes.withLock { $0 } == [.verification(id: new.verification.id)])
    }

    @Test("idempotency: same key and body replays, another body is keyReused; neither writes anything", arguments: Engine.all)
    func idempotency(_ engine: Engine) throws {
        let fixture = try StoreFixture(engine)
        let record = IdempotencyRecord(
            requester: StoreFixture.requester, key: "key-1", requestHash: Array(repeating: 7, count: 32), status: 202,
            body: Array(#"{"id":"ver_1"}"#.utf8), createdAt: t0)
        let first = fixture.queued(dueAt: t0 + 1000, idempotency: record)
        #expect(try fixture.submit(first) == .stored)
        #expect(try fixture.store.idempotencyRecord(requester: StoreFixture.requester, key: "key-1") == record)
        #expect(try fixture.store.idempotencyRecord(requester: "dept-other", key: "key-1") == nil)
        // The lookup an event loop makes: now on SQLite, later from PostgreSQL's idempotency reader.
        #expect(try wait(fixture.store.lookUpIdempotencyRecord(requester: StoreFixture.requester, key: "key-1")) == record)
        #expect(try wait(fixture.store.lookUpIdempotencyRecord(requester: "dept-other", key: "key-1")) == nil)
        let auditBefore = try fixture.allAuditEntries().count

        let again = fixture.queued(dueAt: t0 + 1000, idempotency: record)
        #expect(try fixture.submit(again) == .replayed(status: 202, body: record.body))
        var other = record
        other.requestHash = Array(repeating: 8, count: 32)
        #expect(try fixture.submit(fixture.queued(dueAt: t0 + 1000, idempotency: other)) == .keyReused)

        #expect(try fixture.store.verification(id: again.verification.id) == nil)
        #expect(try fixture.count("verifications") == 1)
        #expect(try fixture.count("queue_items") == 1)
        #expect(try fixture.allAuditEntries().count == auditBefore)

        // The same key from another requester is another key.
        var foreign = record
        foreign.requester = "dept-tax"
        #expect(try fixture.submit(fixture.queued(requester: "dept-tax", dueAt: t0 + 1000, idempotency: foreign)) == .stored)
    }

    @Test("recordRefusal appends exactly one entry", arguments: Engine.all)
    func refusal(_ engine: Engine) throws {
        let fixture = try StoreFixture(engine)
        let event = AuditEvent(
            action: .requestRefused, actor: "dept-civil",
            detail: ["method": "POST", "route": "/v1/verifications", "status": "403", "problem": "forbidden"])
        try wait { fixture.store.recordRefusal(event, at: t0 + 5, completion: $0) }
        let entries = try fixture.allAuditEntries()
        #expect(entries.count == 1)
        #expect(entries.first?.event == event)
        #expect(entries.first?.time == t0 + 5)
    }

    @Test("lease hands out the owner's items oldest due first, up to the limit, each with its own token", arguments: Engine.all)
    func leaseOrdering(_ engine: Engine) throws {
        let fixture = try StoreFixture(engine)
        let late = fixture.queued(dueAt: t0 + 30_000)
        let early = fixture.queued(createdAt: t0 + 10, dueAt: t0 + 10_000)
        let middle = fixture.queued(dueAt: t0 + 20_000)
        let foreign = fixture.queued(owner: "dept-tax", dueAt: t0 + 1)
        for new in [late, early, middle, foreign] { #expect(try fixture.submit(new) == .stored) }

        let first = try fixture.lease(limit: 2, duration: 60_000, now: t0 + 100)
        #expect(first.map(\.verification.id) == [early.verification.id, middle.verification.id])
        #expect(first.map(\.verification) == [early.verification, middle.verification])
        for leased in first {
            #expect(leased.item.state.name == .leased)
            #expect(leased.item.leaseExpiresAt == t0 + 60_100)
            #expect(leased.item.leaseCount == 1)
            #expect(leased.item.leaseToken?.count == 32)
        }
        #expect(first[0].item.leaseToken != first[1].item.leaseToken)

        let second = try fixture.lease(limit: 10, now: t0 + 200)
        #expect(second.map(\.verification.id) == [late.verification.id])
        #expect(try fixture.lease(limit: 10, now: t0 + 300).isEmpty)
        #expect(try fixture.lease(limit: 0, now: t0 + 300).isEmpty)

        // queue.leased is audited with the lease's facts.
        let leasedEntries = try fixture.store.auditEntries(
            matching: AuditFilter(action: .queueLeased), after: 0, limit: 100)
        #expect(leasedEntries.count == 3)
        let entry = try #require(leasedEntries.first)
        #expect(
            entry.event
                == AuditEvent(
                    action: .queueLeased, actor: StoreFixture.owner, requester: StoreFixture.requester,
                    owner: StoreFixture.owner, certificateType: "marriage-status", subjectID: "11010519491231002X",
                    verificationID: early.verification.id, queueItemID: early.queueItem!.id,
                    detail: ["leaseExpiresAt": "2026-01-01T00:01:00.100Z", "leaseCount": "1"]))
        #expect(
            try fixture.store.queueCounts() == [
                QueueCount(owner: "dept-police", pending: 0, leased: 3, overdue: 0, oldestCreatedAt: t0),
                QueueCount(owner: "dept-tax", pending: 1, leased: 0, overdue: 0, oldestCreatedAt: t0),
            ])
    }

    @Test("queue depths (read at every /metrics scrape) never scan a queue table: only index seeks")
    func queueDepthsDoNotScanTheHistory() throws {
        for (table, sql) in [("queue_items", QueueItemRow.queue.depthSQL), ("spot_checks", SpotCheckRow.queue.depthSQL)] {
            let plan = try fixture.sqliteStore.database.read { db in
                try db.fetchAll(
                    "EXPLAIN QUERY PLAN " + sql,
                    arguments: [.integer(0), .text(QueueItemState.Name.pending.rawValue), .text(QueueItemState.Name.leased.rawValue)])
            }
            let steps = plan.compactMap { $0.last?.textValue }
            #expect(steps.contains { $0.hasPrefix("SEARCH item USING INDEX") }, "\(steps)")
            #expect(!steps.contains { $0.hasPrefix("SCAN \(table)") || $0.hasPrefix("SCAN item") || $0.hasPrefix("SCAN later") }, "\(steps)")
        }
    }

    @Test("a lease finds expired leases as a range of the leased rows by expiry, not by walking every leased row")
    func expiredLeasesAreARange() throws {
        for (table, sql) in [("queue_items", QueueItemRow.queue.expiredSQL.sql), ("spot_checks", SpotCheckRow.queue.expiredSQL.sql)] {
            let plan = try fixture.sqliteStore.database.read { db in
                try db.fetchAll("EXPLAIN QUERY PLAN " + sql, arguments: [.text("dept-police"), .integer(10), .integer(t0)])
            }
            let steps = plan.compactMap { $0.last?.textValue }
            #expect(
                steps.contains("SEARCH \(table) USING INDEX \(table)_leased_by_expiry (owner=? AND lease_expires_at<?)"),
                "\(steps)")
        }
    }

    /// SQLite decides whether a partial index serves a query from the values bound to it, and marks
    /// such a statement to be prepared again at every new binding: with the pending read binding its
    /// state, re-preparing was ~14 % of the writer's samples in the queue round trip. The lease reads
    /// write their states into the SQL. Leases go through the store; the counts are read from the
    /// writer's own cached statements. The control shows a re-preparation is seen.
    @Test("the lease reads are not prepared again at every lease (SQLite re-prepares on bound values a partial index depends on)")
    func leaseReadsStayPrepared() throws {
        for n in 0..<4 {
            #expect(try fixture.submit(fixture.queued(dueAt: t0 + Millis(n))) == .stored)
            #expect(try fixture.lease(limit: 1, now: t0 + Millis(n)).count == 1)
        }
        let counts = try wait { completion in
            fixture.sqliteStore.writer.submit({ session -> [Int32] in
                let db = session.connection
                func reprepares(_ statement: SQLiteStatement) -> Int32 {
                    statement.withStatementPointer { sqlite3_stmt_status($0, SQLITE_STMTSTATUS_REPREPARE, 0) }
                }
                var counts = try [QueueItemRow.queue.pendingSQL, QueueItemRow.queue.expiredSQL].map {
                    reprepares(try db.cachedStatement($0))
                }
                // Nor the queue depths (states bound, compared with IN, not the leased index's =) and
                // the overdue sweep (its done state written into the SQL: bound, `state <> ?` against the
                // overdue index's `state <> 'done'` made it re-prepare at every maintenance tick).
                for (sql, states) in [
                    (QueueItemRow.queue.depthSQL, [SQLiteValue.text(QueueItemState.Name.pending.rawValue), .text(QueueItemState.Name.leased.rawValue)]),
                    (QueueItemRow.overdueSQL, []),
                ] {
                    let statement = try db.prepare(sql)
                    for n in 0..<4 {
                        try statement.reset()
                        try statement.bind([.integer(t0 + Int64(n))] + states)
                        while try statement.step() {}
                    }
                    counts.append(reprepares(statement))
                }
                // Control: the same pending read with its state bound, four times.
                let bound = try db.prepare(
                    "SELECT id FROM queue_items WHERE owner = ?1 AND state = ?2 ORDER BY due_at, created_at LIMIT 1")
                for _ in 0..<4 {
                    try bound.reset()
                    try bound.bind([.text(StoreFixture.owner), .text(QueueItemState.Name.pending.rawValue)])
                    while try bound.step() {}
                }
                counts.append(reprepares(bound))
                return counts
            }, completion: completion)
        }
        #expect(counts[0] == 0 && counts[1] == 0, "pending and expired reads re-prepared \(counts[0]) and \(counts[1]) times")
        #expect(counts[2] == 0 && counts[3] == 0, "depth and overdue reads re-prepared \(counts[2]) and \(counts[3]) times")
        #expect(counts[4] >= 3, "the control was re-prepared \(counts[4]) times")
    }

    @Test("expired leases are leased again in due order, after the pending items due before them", arguments: Engine.all)
    func expiredLeasesInDueOrder(_ engine: Engine) throws {
        let fixture = try StoreFixture(engine)
        // Leased one by one with different durations: expiry order is not due order.
        let due = [t0 + 3_000_000, t0 + 1_000_000, t0 + 2_000_000, t0 + 4_000_000]
        let durations: [Millis] = [1_000, 5_000, 2_000, 100_000]
        var leased: [LeasedItem] = []
        for (dueAt, duration) in zip(due, durations) {
            #expect(try fixture.submit(fixture.queued(dueAt: dueAt)) == .stored)
            leased.append(try #require(try fixture.lease(limit: 1, duration: duration, now: t0).first))
        }
        let pending = fixture.queued(dueAt: t0 + 2_500_000)
        #expect(try fixture.submit(pending) == .stored)
        // At t0 + 3000 the leases of 1,000 and 2,000 ms have run out; 5,000 and 100,000 have not.
        let again = try fixture.lease(limit: 10, now: t0 + 3_000)
        #expect(again.map(\.item.id) == [leased[2].item.id, pending.queueItem!.id, leased[0].item.id])
        #expect(again.map(\.item.leaseCount) == [2, 1, 2])
        // Later every lease has run out: the earliest due comes first.
        #expect(try fixture.lease(limit: 1, now: t0 + 200_000).map(\.item.id) == [leased[1].item.id])
    }

    @Test("an expired lease returns the item: a new lease gets a new token and the old one is stale", arguments: Engine.all)
    func leaseExpiry(_ engine: Engine) throws {
        let fixture = try StoreFixture(engine)
        let new = fixture.queued(dueAt: t0 + 1_000_000)
        #expect(try fixture.submit(new) == .stored)
        let first = try #require(try fixture.lease(duration: 1000, now: t0).first)
        #expect(try fixture.lease(duration: 1000, now: t0 + 999).isEmpty)  // still held

        let second = try #require(try fixture.lease(duration: 1000, now: t0 + 1000).first)  // expired at t0+1000
        #expect(second.item.id == first.item.id)
        #expect(second.item.leaseToken != first.item.leaseToken)
        #expect(second.item.leaseCount == 2)

        #expect(try fixture.answer(first, at: t0 + 1500) == .staleLease)
        // Answering after the lease ran out is stale too, even with the current token.
        #expect(try fixture.answer(second, at: t0 + 2000) == .staleLease)
        guard case .answered = try fixture.answer(second, at: t0 + 1999) else {
            Issue.record("the current lease answers")
            return
        }
    }

    @Test("two workers leasing at once never get the same item", arguments: Engine.all)
    func concurrentLeases(_ engine: Engine) throws {
        let fixture = try StoreFixture(engine)
        var expected: Set<String> = []
        for index in 0..<40 {
            let new = fixture.queued(dueAt: t0 + Millis(index))
            expected.insert(new.queueItem!.id)
            #expect(try fixture.submit(new) == .stored)
        }
        let taken = Mutex<[[String]]>([[], []])
        let store = fixture.store
        runOnThreads(2) { worker in
            for round in 0..<30 {
                let items = try! wait {
                    store.lease(owner: StoreFixture.owner, limit: 3, duration: 600_000, now: StoreFixture.t0 + Millis(round), completion: $0)
                }
                taken.withLock { $0[worker] += items.map(\.item.id) }
            }
        }
        let all = taken.withLock { $0[0] + $0[1] }
        #expect(all.count == 40)
        #expect(Set(all) == expected)
        #expect(Set(taken.withLock { $0[0] }).isDisjoint(with: taken.withLock { $0[1] }))
    }

    @Test("answer: answered, then repeated with the same answer, stale with another, notFound for others", arguments: Engine.all)
    func answerCases(_ engine: Engine) throws {
        let fixture = try StoreFixture(engine)
        let changes = Mutex<[StoreChange]>([])
        fixture.store.observeChanges { change in changes.withLock { $0.append(change) } }
        let new = fixture.queued(dueAt: t0 + 1_000_000)
        #expect(try fixture.submit(new) == .stored)
        let leased = try #require(try fixture.lease(now: t0 + 10).first)
        let auditBefore = try fixture.allAuditEntries().count

        // Another owner's item is not found, and changes nothing.
        #expect(try fixture.answer(leased, owner: "dept-tax", at: t0 + 20) == .notFound)
        let unknown = LeasedItem(
            item: QueueItem(
                id: "qi_missing", kind: .verification, verificationID: "v", owner: StoreFixture.owner, createdAt: t0,
                dueAt: t0, state: .leased(token: "x", expiresAt: t0)), verification: leased.verification)
        #expect(try fixture.answer(unknown, at: t0 + 20) == .notFound)
        #expect(try fixture.answer(leased, token: "not-the-token", at: t0 + 20) == .staleLease)

        guard case .answered(let verification, let attestation) = try fixture.answer(leased, at: t0 + 30) else {
            Issue.record("expected answered")
            return
        }
        #expect(verification.status == .answered)
        #expect(verification.outcome == .confirmed)
        #expect(verification.note == "核实无误")
        #expect(verification.disclosed == ["maritalStatus": .string("married")])
        #expect(verification.answeredAt == t0 + 30)
        #expect(verification.attestationID == attestation.id)
        #expect(try fixture.store.verification(id: verification.id) == verification)
        #expect(try fixture.store.attestation(id: attestation.id) == attestation)
        #expect(try fixture.store.queueCounts().isEmpty)

        let entries = try fixture.allAuditEntries()
        // One entry for the one state change: answered, with the attestation it issued.
        #expect(entries.count == auditBefore + 1)
        #expect(entries[auditBefore].event.action == .verificationAnswered)
        #expect(
            entries[auditBefore].event.detail == [
                "outcome": "confirmed", "answeredBy": StoreFixture.owner,
                "expiresAt": Timestamp.rfc3339(attestation.expiresAt),
            ])
        #expect(entries[auditBefore].event.queueItemID == leased.item.id)
        #expect(entries[auditBefore].event.attestationID == attestation.id)
        #expect(changes.withLock { $0.last } == .verification(id: verification.id))

        // The same answer again (a retried request): repeated, nothing written.
        #expect(try fixture.answer(leased, at: t0 + 40) == .repeated(verification, attestation))
        // A different answer to a done item, or the same answer under another token: stale.
        #expect(try fixture.answer(leased, outcome: .denied, at: t0 + 40) == .staleLease)
        #expect(try fixture.answer(leased, note: "另一个说明", at: t0 + 40) == .staleLease)
        #expect(try fixture.answer(leased, disclosed: [:], at: t0 + 40) == .staleLease)
        #expect(try fixture.answer(leased, token: "other", at: t0 + 40) == .staleLease)
        #expect(try fixture.allAuditEntries().count == auditBefore + 1)
        #expect(try fixture.count("attestations") == 1)
    }

    @Test("an answer whose signing fails writes nothing and leaves the lease usable", arguments: Engine.all)
    func answerIssueFails(_ engine: Engine) throws {
        let fixture = try StoreFixture(engine)
        struct SigningFailed: Error {}
        #expect(try fixture.submit(fixture.queued(dueAt: t0 + 1_000_000)) == .stored)
        let leased = try #require(try fixture.lease(now: t0).first)
        let before = try fixture.allAuditEntries()
        let answer = OwnerAnswer(
            queueItemID: leased.item.id, owner: StoreFixture.owner, leaseToken: leased.item.leaseToken!,
            outcome: .denied, note: nil, disclosed: [:], answeredAt: t0 + 1)
        #expect(throws: SigningFailed.self) {
            try wait { fixture.store.answer(answer, issue: { _ in throw SigningFailed() }, completion: $0) }
        }
        #expect(try fixture.allAuditEntries() == before)
        #expect(try fixture.store.verification(id: leased.verification.id)?.status == .pending)
        guard case .answered = try fixture.answer(leased, at: t0 + 2) else {
            Issue.record("the lease still answers")
            return
        }
    }

    @Test("records: created, then updated, read back, deleted once; every change audited", arguments: Engine.all)
    func records(_ engine: Engine) throws {
        let fixture = try StoreFixture(engine)
        let first = SharedRecord(
            certificateType: "marriage-status", subjectID: "11010519491231002X", owner: "dept-civil-affairs",
            claims: ["maritalStatus": .string("married")], updatedAt: t0)
        let second = SharedRecord(
            certificateType: "marriage-status", subjectID: "110105194912310021", owner: "dept-civil-affairs",
            claims: ["maritalStatus": .string("single")], updatedAt: t0)
        #expect(try wait { fixture.store.putRecords([first, second], actor: "dept-civil-affairs", now: t0, completion: $0) } == [.created, .created])
        var changed = first
        changed.claims = ["maritalStatus": .string("divorced")]
        #expect(try wait { fixture.store.putRecords([changed], actor: "dept-civil-affairs", now: t0 + 5, completion: $0) } == [.updated])
        changed.updatedAt = t0 + 5
        #expect(try fixture.store.record(certificateType: "marriage-status", subjectID: first.subjectID) == changed)
        #expect(try fixture.store.record(certificateType: "marriage-status", subjectID: "none") == nil)
        // The lookup a data-sharing verification makes reads the same (PostgreSQL: from its record reader).
        #expect(try wait(fixture.store.lookUpRecord(certificateType: "marriage-status", subjectID: first.subjectID)) == changed)
        #expect(try wait(fixture.store.lookUpRecord(certificateType: "marriage-status", subjectID: second.subjectID)) == second)
        #expect(try wait(fixture.store.lookUpRecord(certificateType: "marriage-status", subjectID: "none")) == nil)

        #expect(try wait { fixture.store.deleteRecord(certificateType: "marriage-status", subjectID: first.subjectID, actor: "dept-civil-affairs", now: t0 + 9, completion: $0) })
        #expect(!(try wait { fixture.store.deleteRecord(certificateType: "marriage-status", subjectID: first.subjectID, actor: "dept-civil-affairs", now: t0 + 9, completion: $0) }))
        #expect(try fixture.store.record(certificateType: "marriage-status", subjectID: first.subjectID) == nil)

        let entries = try fixture.allAuditEntries()
        #expect(entries.map(\.event.action) == [.recordPut, .recordPut, .recordPut, .recordDeleted])
        #expect(
            entries[3].event
                == AuditEvent(
                    action: .recordDeleted, actor: "dept-civil-affairs", owner: "dept-civil-affairs",
                    certificateType: "marriage-status", subjectID: first.subjectID))
        #expect(entries[3].time == t0 + 9)
    }

    @Test("10,000 records go in one job and one transaction")
    func manyRecords() throws {
        let records = (0..<10_000).map { index in
            SharedRecord(
                certificateType: "marriage-status", subjectID: "S\(index)", owner: "dept-civil-affairs",
                claims: ["maritalStatus": .string("married")], updatedAt: t0)
        }
        let commitsBefore = fixture.sqliteStore.statistics.commits
        let results = try wait { fixture.store.putRecords(records, actor: "dept-civil-affairs", now: t0, completion: $0) }
        #expect(results.count == 10_000 && results.allSatisfy { $0 == .created })
        #expect(fixture.sqliteStore.statistics.commits == commitsBefore + 1)
        #expect(try fixture.count("records") == 10_000)
        #expect(try fixture.count("audit_log") == 10_000)
    }

    @Test("revoke: notFound, revoked (audited, change), alreadyRevoked (nothing written)", arguments: Engine.all)
    func revoke(_ engine: Engine) throws {
        let fixture = try StoreFixture(engine)
        let changes = Mutex<[StoreChange]>([])
        fixture.store.observeChanges { change in changes.withLock { $0.append(change) } }
        #expect(try wait { fixture.store.revoke(attestationID: "att_none", actor: "dept-police", reason: "x", now: t0, completion: $0) } == .notFound)
        let new = fixture.answeredAtOnce()
        #expect(try fixture.submit(new) == .stored)
        let auditBefore = try fixture.allAuditEntries().count

        let result = try wait {
            fixture.store.revoke(attestationID: new.attestation!.id, actor: "dept-police", reason: "录入错误", now: t0 + 7, completion: $0)
        }
        var expected = new.attestation!
        expected.revokedAt = t0 + 7
        expected.revocationReason = "录入错误"
        expected.revokedBy = "dept-police"
        #expect(result == .revoked(expected))
        #expect(try fixture.store.attestation(id: expected.id) == expected)
        #expect(try fixture.store.attestation(id: expected.id)?.status(at: t0 + 8) == .revoked)
        let entries = try fixture.allAuditEntries()
        #expect(entries.count == auditBefore + 1)
        #expect(entries.last?.event.action == .attestationRevoked)
        #expect(entries.last?.event.detail == ["reason": "录入错误"])
        #expect(entries.last?.event.attestationID == expected.id)
        #expect(changes.withLock { $0.last } == .verification(id: new.verification.id))

        let again = try wait {
            fixture.store.revoke(attestationID: expected.id, actor: "dept-police", reason: "again", now: t0 + 9, completion: $0)
        }
        #expect(again == .alreadyRevoked(expected))
        #expect(try fixture.allAuditEntries().count == auditBefore + 1)
    }

    @Test("markOverdue marks unanswered items past due once each, audited as heyan", arguments: Engine.all)
    func overdue(_ engine: Engine) throws {
        let fixture = try StoreFixture(engine)
        let due = fixture.queued(dueAt: t0 + 1000)
        let notYet = fixture.queued(dueAt: t0 + 5000)
        let answered = fixture.queued(dueAt: t0 + 500)
        for new in [due, notYet, answered] { #expect(try fixture.submit(new) == .stored) }
        let leased = try fixture.lease(limit: 1, now: t0)  // the earliest due: `answered`
        #expect(leased.first?.item.id == answered.queueItem!.id)
        guard case .answered = try fixture.answer(leased[0], at: t0 + 100) else {
            Issue.record("answered")
            return
        }

        #expect(try wait { fixture.store.markOverdue(now: t0 + 1000, completion: $0) } == 1)
        #expect(try wait { fixture.store.markOverdue(now: t0 + 2000, completion: $0) } == 0)
        #expect(try wait { fixture.store.markOverdue(now: t0 + 5000, completion: $0) } == 1)
        let entries = try fixture.store.auditEntries(matching: AuditFilter(action: .queueOverdue), after: 0, limit: 10)
        #expect(entries.map(\.event.queueItemID) == [due.queueItem!.id, notYet.queueItem!.id])
        #expect(entries.map(\.time) == [t0 + 1000, t0 + 5000])
        #expect(entries[0].event.actor == "heyan")
        #expect(entries[0].event.owner == StoreFixture.owner)
        #expect(entries[0].event.requester == StoreFixture.requester)
        #expect(entries[0].event.verificationID == due.verification.id)
        #expect(try fixture.store.queueCounts() == [QueueCount(owner: StoreFixture.owner, pending: 2, leased: 0, overdue: 2, oldestCreatedAt: t0)])
    }

    @Test("checkpoint: size 0 on an empty log, reused while the log does not grow, new after it grows", arguments: Engine.all)
    func checkpoints(_ engine: Engine) throws {
        let fixture = try StoreFixture(engine)
        let signed = Mutex<[[UInt8]]>([])
        let sign: @Sendable ([UInt8]) throws -> String = { payload in
            signed.withLock { $0.append(payload) }
            return "jws-\(signed.withLock { $0.count })"
        }
        #expect(try fixture.store.latestCheckpoint() == nil)
        let empty = try wait { fixture.store.checkpoint(now: t0, sign: sign, completion: $0) }
        let emptyRoot = MerkleHash.emptyTree.bytes
        #expect(empty == AuditCheckpoint(size: 0, head: AuditEntry.genesisHash, time: t0, jws: "jws-1", treeRoot: emptyRoot))
        #expect(
            signed.withLock { $0 }
                == [AuditCheckpoint.payload(size: 0, head: AuditEntry.genesisHash, time: t0, treeRoot: emptyRoot)])

        #expect(try fixture.submit(fixture.queued(dueAt: t0 + 10)) == .stored)
        let grown = try wait { fixture.store.checkpoint(now: t0 + 1, sign: sign, completion: $0) }
        let entries = try fixture.allAuditEntries()
        let root = try fixture.auditLog.treeHead().root.bytes
        #expect(grown == AuditCheckpoint(size: 2, head: entries[1].hash, time: t0 + 1, jws: "jws-2", treeRoot: root))
        // The JWS names the tree too: {"head":…,"treeRoot":"<hex>","treeSize":2,"typ":…}.
        #expect(String(decoding: signed.withLock { $0[1] }, as: UTF8.self).contains(#""treeRoot":"\#(hex(root))","treeSize":2,"#))

        let reused = try wait { fixture.store.checkpoint(now: t0 + 2, sign: sign, completion: $0) }
        #expect(reused == grown)
        #expect(signed.withLock { $0.count } == 2)
        #expect(try fixture.store.latestCheckpoint() == grown)
    }

    @Test("auditEntries filters by subject, department (actor, requester or owner), type, action and time, and pages", arguments: Engine.all)
    func auditFilters(_ engine: Engine) throws {
        let fixture = try StoreFixture(engine)
        let a = fixture.queued(requester: "dept-a", subjectID: "S-1", createdAt: t0, dueAt: t0 + 10)
        let b = fixture.queued(owner: "dept-b", requester: "dept-c", subjectID: "S-2", createdAt: t0 + 100, dueAt: t0 + 10)
        for new in [a, b] { #expect(try fixture.submit(new) == .stored) }
        try wait {
            fixture.store.recordRefusal(AuditEvent(action: .requestRefused, actor: "dept-b"), at: t0 + 200, completion: $0)
        }
        func sequences(_ filter: AuditFilter, after: Int64 = 0, limit: Int = 100) throws -> [Int64] {
            try fixture.store.auditEntries(matching: filter, after: after, limit: limit).map(\.sequence)
        }
        #expect(try sequences(AuditFilter()) == [1, 2, 3, 4, 5])
        #expect(try sequences(AuditFilter(subjectID: "S-2")) == [3, 4])
        #expect(try sequences(AuditFilter(department: "dept-a")) == [1, 2])  // actor, then requester
        #expect(try sequences(AuditFilter(department: "dept-b")) == [3, 4, 5])  // owner, owner, actor
        #expect(try sequences(AuditFilter(department: "dept-police")) == [1, 2])
        #expect(try sequences(AuditFilter(certificateType: "marriage-status")) == [1, 2, 3, 4])
        #expect(try sequences(AuditFilter(action: .verificationQueued)) == [2, 4])
        #expect(try sequences(AuditFilter(from: t0 + 100, to: t0 + 200)) == [3, 4])
        #expect(try sequences(AuditFilter(department: "dept-b", action: .requestRefused)) == [5])
        #expect(try sequences(AuditFilter(), after: 2, limit: 2) == [3, 4])
        #expect(try sequences(AuditFilter(), limit: 0) == [])
        // A department that is actor and owner (or actor and requester) of an entry: found once, by
        // the actor (SQLite's requester and owner indexes leave such entries out, migration 13).
        try wait {
            fixture.store.recordRefusal(
                AuditEvent(action: .recordPut, actor: "dept-d", requester: "dept-d", owner: "dept-d"), at: t0 + 300,
                completion: $0)
        }
        try wait {
            fixture.store.recordRefusal(
                AuditEvent(action: .recordPut, actor: "dept-e", requester: "dept-d", owner: "dept-e"), at: t0 + 400,
                completion: $0)
        }
        #expect(try sequences(AuditFilter(department: "dept-d")) == [6, 7])
        #expect(try sequences(AuditFilter(department: "dept-e")) == [7])
        #expect(try sequences(AuditFilter(department: "dept-d"), limit: 1) == [6])
        #expect(try sequences(AuditFilter(department: "dept-d"), after: 6) == [7])
        #expect(try sequences(AuditFilter(department: "dept-a")) == [1, 2])
    }
}

@Suite("PostgreSQL store: group commit, two nodes on one database")
struct TwoNodeStoreTests {
    @Test(
        "concurrent writes share transactions; a failing job is rolled back alone and the chain has no gap",
        .enabled(if: Engine.all.contains(.postgresql)))
    func groupCommit() throws {
        let fixture = try StoreFixture(.postgresql)
        let store = try #require(fixture.store as? PostgresVerificationStore)
        let t0 = StoreFixture.t0
        let submissions = (0..<60).map { fixture.queued(dueAt: t0 + Millis($0)) }
        let duplicate = submissions[0]
        let results = Mutex<[Result<SubmitResult, any Error>]>([])
        let batchesBefore = store.committedBatches
        runOnThreads(6) { thread in
            for index in stride(from: thread, to: submissions.count, by: 6) {
                let outcome = Result { try wait { store.submit(submissions[index], completion: $0) } }
                results.withLock { $0.append(outcome) }
            }
            // The same verification id again: a primary-key violation, this job alone fails.
            let again = Result { try wait { store.submit(duplicate, completion: $0) } }
            results.withLock { $0.append(again) }
        }
        let outcomes = results.withLock { $0 }
        let stored = outcomes.filter { (try? $0.get()) == .stored }.count
        #expect(stored == 60)
        #expect(outcomes.count - stored == 6)
        let batches = store.committedBatches - batchesBefore
        #expect(batches < 66, "\(batches) batches for 66 jobs")
        let entries = try fixture.allAuditEntries()
        #expect(entries.map(\.sequence) == Array(1...Int64(120)))
        for (previous, entry) in zip(entries, entries.dropFirst()) { #expect(entry.previousHash == previous.hash) }
        #expect(try fixture.auditLog.treeHead().size == 120)
    }

    /// Not a timed assertion: prints the rate with and without pipelining (docs/postgresql.md,
    /// "Group commit and pipelining"), twice each, alternating.
    @Test(
        "data-sharing submissions commit with their rows pipelined or not; the rates are printed",
        .enabled(if: Engine.all.contains(.postgresql)))
    func pipeliningFigures() throws {
        let threads = 8
        let perThread = 150
        for pipelined in [false, true, false, true] {
            let fixture = try StoreFixture(.postgresql)
            let store = try PostgresVerificationStore(
                conninfo: fixture.conninfo, hash: Digest.sha256, clock: fixture.clock, pipelined: pipelined)
            defer { store.close() }
            let submissions = (0..<threads * perThread).map { _ in fixture.answeredAtOnce() }
            let stored = Atomic<Int>(0)
            let batchesBefore = store.committedBatches
            let started = monotonicNanoseconds()
            runOnThreads(threads) { thread in
                for index in stride(from: thread, to: submissions.count, by: threads) {
                    if (try? wait { store.submit(submissions[index], completion: $0) }) == .stored {
                        stored.add(1, ordering: .relaxed)
                    }
                }
            }
            let seconds = Double(monotonicNanoseconds() - started) / 1e9
            let batches = store.committedBatches - batchesBefore
            #expect(stored.load(ordering: .relaxed) == submissions.count)
            #expect(try fixture.count("attestations") == Int64(submissions.count))
            print(
                "pipelining figures: pipelined=\(pipelined) \(submissions.count) data-sharing submissions from \(threads) threads "
                    + "in \(String(format: "%.2f", seconds)) s = \(Int(Double(submissions.count) / seconds))/s, "
                    + "\(batches) batches (\(String(format: "%.1f", Double(submissions.count) / Double(max(batches, 1)))) jobs each)")
        }
    }

    @Test(
        "a queue item is leased by exactly one of two stores leasing at once; both audit into one chain",
        .enabled(if: Engine.all.contains(.postgresql)))
    func twoNodesLeaseOnce() throws {
        let fixture = try StoreFixture(.postgresql)
        let other = try PostgresVerificationStore(conninfo: fixture.conninfo, hash: Digest.sha256, clock: fixture.clock)
        defer { other.close() }
        let t0 = StoreFixture.t0
        var expected: Set<String> = []
        for index in 0..<30 {
            let new = fixture.queued(dueAt: t0 + Millis(index))
            expected.insert(new.queueItem!.id)
            #expect(try fixture.submit(new) == .stored)
        }
        let stores: [any HeyanStore] = [fixture.store, other]
        let taken = Mutex<[[String]]>([[], []])
        runOnThreads(2) { node in
            for round in 0..<25 {
                let items = try! wait {
                    stores[node].lease(
                        owner: StoreFixture.owner, limit: 2, duration: 600_000, now: t0 + Millis(round), completion: $0)
                }
                taken.withLock { $0[node] += items.map(\.item.id) }
            }
        }
        let all = taken.withLock { $0[0] + $0[1] }
        #expect(all.count == 30)
        #expect(Set(all) == expected)
        #expect(Set(taken.withLock { $0[0] }).isDisjoint(with: taken.withLock { $0[1] }))
        // One chain, no gap: 2 entries per submission and one per lease, from both nodes.
        let entries = try fixture.allAuditEntries()
        #expect(entries.map(\.sequence) == Array(1...Int64(90)))
        for (previous, entry) in zip(entries, entries.dropFirst()) { #expect(entry.previousHash == previous.hash) }
        #expect(try fixture.auditLog.treeHead().size == 90)
    }

    @Test(
        "a commit on one node wakes the other node's change observer (LISTEN/NOTIFY)",
        .enabled(if: Engine.all.contains(.postgresql)))
    func notifyAcrossNodes() throws {
        let fixture = try StoreFixture(.postgresql)
        let other = try PostgresVerificationStore(conninfo: fixture.conninfo, hash: Digest.sha256, clock: fixture.clock)
        defer { other.close() }
        let seen = Mutex<[StoreChange]>([])
        let arrived = DispatchSemaphore(value: 0)
        other.observeChanges { change in
            seen.withLock { $0.append(change) }
            arrived.signal()
        }
        let new = fixture.queued(dueAt: StoreFixture.t0 + 10)
        #expect(try fixture.submit(new) == .stored)
        #expect(arrived.wait(timeout: .now() + 5) == .success)
        #expect(arrived.wait(timeout: .now() + 5) == .success)
        #expect(Set(seen.withLock { $0 }) == [.verification(id: new.verification.id), .queue(owner: StoreFixture.owner)])
    }

    @Test(
        "the same idempotency key sent to two nodes at once stores one verification; the other replays it",
        .enabled(if: Engine.all.contains(.postgresql)))
    func idempotencyAcrossNodes() throws {
        let fixture = try StoreFixture(.postgresql)
        let other = try PostgresVerificationStore(conninfo: fixture.conninfo, hash: Digest.sha256, clock: fixture.clock)
        defer { other.close() }
        let stores: [any HeyanStore] = [fixture.store, other]
        for round in 0..<10 {
            let record = IdempotencyRecord(
                requester: StoreFixture.requester, key: "key-\(round)", requestHash: Array(repeating: 7, count: 32),
                status: 202, body: Array("response-\(round)".utf8), createdAt: StoreFixture.t0)
            // Two submissions of one request (each node made its own verification id).
            let attempts = (0..<2).map { _ in fixture.queued(dueAt: StoreFixture.t0 + 10, idempotency: record) }
            let results = Mutex<[SubmitResult]>([])
            runOnThreads(2) { node in
                let result = try! wait { stores[node].submit(attempts[node], completion: $0) }
                results.withLock { $0.append(result) }
            }
            #expect(
                results.withLock { $0 }.sorted { "\($0)" < "\($1)" }
                    == [.replayed(status: 202, body: record.body), .stored].sorted { "\($0)" < "\($1)" })
        }
        #expect(try fixture.count("verifications") == 10)
        #expect(try fixture.count("queue_items") == 10)
    }

    @Test(
        "heyan audit verify on PostgreSQL: intact after writes, then names an edited entry",
        .enabled(if: Engine.all.contains(.postgresql)))
    func auditVerifyFindsAnEdit() throws {
        let fixture = try StoreFixture(.postgresql)
        for index in 0..<3 { #expect(try fixture.submit(fixture.queued(dueAt: StoreFixture.t0 + Millis(index))) == .stored) }
        let configuration = StoreConfiguration.postgresql(try PostgresConnectionString(parsing: fixture.conninfo))
        let opened = try StoreFactory.open(configuration, for: .inspect, hash: Digest.sha256)
        defer { opened.store.close() }
        let intact = try opened.verifyAudit({ _ in }, { _ in })
        #expect(intact.isIntact)
        #expect(intact.entries == 6)
        #expect(intact.treeRoot == (try fixture.auditLog.treeHead().root))

        let tamper = try PostgresConnection(conninfo: fixture.conninfo)
        defer { tamper.close() }
        try tamper.execute(
            "ALTER TABLE audit_log DISABLE TRIGGER USER; UPDATE audit_log SET actor = 'someone-else' WHERE sequence = 4; "
                + "ALTER TABLE audit_log ENABLE TRIGGER USER")
        let broken = try opened.verifyAudit({ _ in }, { _ in })
        #expect(broken.firstBreak?.sequence == 4)
        #expect(broken.firstBreak?.kind == .hash)
        #expect(broken.entries == 3)
    }
}
