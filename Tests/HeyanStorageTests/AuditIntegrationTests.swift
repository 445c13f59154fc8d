import Dispatch
import Glibc
import HeyanCrypto
import HeyanDomain
import HeyanPostgres
import HeyanPostgresStore
import HeyanStores
import HeyanTestSupport
import HeyanTransparencyLog
import Synchronization
import Testing

@testable import HeyanStorage

/// Several nodes on one PostgreSQL database: audit entries queued unsequenced by every node and
/// integrated by one integrator at a time; the periodic work led by one elected node
/// (docs/postgresql.md, "Audit" and "Leader election"; docs/transparency-log.md, "Integration bound").
@Suite(.enabled(if: Engine.all.contains(.postgresql)))
struct AuditIntegrationTests {
    /// Opens `count - 1` more stores on the fixture's schema.
    static func nodes(_ fixture: StoreFixture, count: Int) throws -> [PostgresVerificationStore] {
        let first = try #require(fixture.store as? PostgresVerificationStore)
        return [first]
            + (try (1..<count).map { _ in
                try PostgresVerificationStore(conninfo: fixture.conninfo, hash: Digest.sha256, clock: fixture.clock)
            })
    }

    /// A refused-request entry naming `marker`: one audited write of one entry.
    static func event(_ marker: String) -> AuditEvent {
        AuditEvent(action: .requestRefused, actor: "dept-civil", detail: ["marker": marker])
    }

    /// `heyan audit verify` on the fixture's schema; the JWS checkpoints and notes are checked for
    /// their roots and heads (signatures are another suite's).
    static func verify(_ fixture: StoreFixture) throws -> AuditVerificationReport {
        let configuration = StoreConfiguration.postgresql(try PostgresConnectionString(parsing: fixture.conninfo))
        let opened = try StoreFactory.open(configuration, for: .inspect, hash: Digest.sha256)
        defer { opened.store.close() }
        return try opened.verifyAudit({ _ in }, { _ in })
    }

    static func percentile(_ values: [Double], _ p: Double) -> Double {
        let sorted = values.sorted()
        guard !sorted.isEmpty else { return 0 }
        return sorted[min(sorted.count - 1, Int((Double(sorted.count) * p).rounded(.up)) - 1)]
    }

    @Test("three nodes writing from six threads: every committed entry integrated exactly once, within 1 s at p99")
    func concurrentNodes() throws {
        let fixture = try StoreFixture(.postgresql)
        let stores = try Self.nodes(fixture, count: 3)
        defer { for store in stores.dropFirst() { store.close() } }
        let signer = try NoteSigner(name: "heyan.test/audit/v1", key: try PrivateKey.generate(.ed25519))
        let perThread = 150
        let committed = Mutex<[String]>([])
        let refused = Atomic<Int>(0)
        let writing = Atomic<Bool>(true)
        /// What each checkpointer's note attempt gave, for the failure message.
        let checkpointing = Mutex<[String]>([])
        let start = monotonicNanoseconds()
        // Checkpoints from every node at once while they write: never two for one size, never behind.
        // Threads 0–2 sign (each started before any write: on 2 cores a queued block could start only
        // after the writes, which take well under a second), threads 3–8 write; the last writer to
        // finish ends the signing.
        let checkpointers = stores.count
        let started = Atomic<Int>(0)
        let writersLeft = Atomic<Int>(6)
        runOnThreads(checkpointers + 6) { slot in
            if slot < checkpointers {
                let store = stores[slot]
                started.add(1, ordering: .acquiringAndReleasing)
                while writing.load(ordering: .acquiring) {
                    do {
                        let note = try wait {
                            store.publishCheckpointNote(
                                signer: signer, origin: "heyan.test/audit/v1", now: StoreFixture.t0, completion: $0)
                        }
                        checkpointing.withLock { $0.append(note.map { "note \($0.size)" } ?? "no note") }
                    } catch {
                        checkpointing.withLock { $0.append("note failed: \(error)") }
                    }
                    _ = try? wait { store.checkpoint(now: StoreFixture.t0, sign: { _ in "jws" }, completion: $0) }
                    usleep(20_000)
                }
                return
            }
            while started.load(ordering: .acquiring) < checkpointers { usleep(1_000) }
            defer {
                if writersLeft.subtract(1, ordering: .acquiringAndReleasing).newValue == 0 {
                    writing.store(false, ordering: .releasing)
                }
            }
            let thread = slot - checkpointers
            let store = stores[thread % stores.count]
            for index in 0..<perThread {
                let marker = "t\(thread)-\(index)"
                do {
                    if index % 3 == 0 {
                        // Two entries in one transaction: they stay adjacent and in order.
                        let record = SharedRecord(
                            certificateType: "marriage-status", subjectID: "S\(thread)-\(index)", owner: StoreFixture.owner,
                            claims: ["maritalStatus": .string("married")], updatedAt: StoreFixture.t0)
                        _ = try wait {
                            store.putRecords([record, record], actor: marker, now: StoreFixture.t0, completion: $0)
                        }
                        committed.withLock { $0 += [marker + "/record", marker + "/record"] }
                    } else {
                        try wait { store.recordRefusal(Self.event(marker), at: StoreFixture.t0, completion: $0) }
                        committed.withLock { $0.append(marker) }
                    }
                } catch {
                    refused.add(1, ordering: .relaxed)
                }
            }
        }
        let wrote = Double(monotonicNanoseconds() - start) / 1e9
        #expect(refused.load(ordering: .relaxed) == 0)
        #expect(try stores[1].awaitAuditIntegration(timeout: 10))
        for store in stores { #expect(try store.auditIntegrationBacklog() == .empty) }

        // Exactly once: every committed entry in the log once, nothing else, sequences 1…n.
        let expected = committed.withLock { $0 }
        let entries = try fixture.allAuditEntries()
        #expect(entries.map(\.sequence) == Array(1...Int64(expected.count)))
        let logged = entries.map { $0.event.detail["marker"] ?? ($0.event.actor + "/record") }
        #expect(logged.sorted() == expected.sorted())
        // Stable order: a thread's writes, each committed before the next began, are in the log in
        // that order (entries of concurrent transactions may interleave: ids come from one sequence).
        var lastIndex: [String: Int] = [:]
        for entry in entries {
            let marker = entry.event.detail["marker"] ?? entry.event.actor
            let parts = marker.split(separator: "-")
            let index = Int(parts[1])!
            #expect(index >= lastIndex[String(parts[0]), default: -1], "\(marker) after \(lastIndex[String(parts[0]), default: -1])")
            lastIndex[String(parts[0])] = index
        }
        #expect(try fixture.count("audit_queue") == 0)

        // The chain, the leaves, the tree state and every checkpoint verify.
        let report = try Self.verify(fixture)
        #expect(report.isIntact, "\(String(describing: report.firstBreak))")
        #expect(report.entries == Int64(expected.count))
        let head = try fixture.auditLog.treeHead()
        #expect(head.size == UInt64(expected.count))
        #expect(report.treeRoot == head.root)
        let notes = try fixture.auditLog.checkpointNotes()
        #expect(!notes.isEmpty, "note attempts while writing (\(wrote) s): \(checkpointing.withLock { $0 })")
        #expect(report.checkpointNotes == notes.count)

        // Proofs: inclusion of entries spread over the log, consistency between every two notes.
        for index in stride(from: UInt64(0), to: head.size, by: 97) {
            let leaf = try #require(try fixture.auditLog.auditLeaf(index: index))
            let path = try fixture.auditLog.inclusionProof(index: index, size: head.size)
            #expect(Merkle.verifyInclusion(leafHash: .leaf(leaf.data), index: index, size: head.size, proof: path, root: head.root))
        }
        for (older, newer) in zip(notes, notes.dropFirst()) {
            #expect(older.size < newer.size)
            let proof = try fixture.auditLog.consistencyProof(first: older.size, second: newer.size)
            #expect(
                Merkle.verifyConsistency(
                    first: older.size, second: newer.size, firstRoot: older.root, secondRoot: newer.root, proof: proof))
        }

        // The bound: commit to integration, measured by the integrators, p99 ≤ 1 s.
        // Delays are recorded after each integrator's COMMIT, which the reads above already see.
        #expect(eventually(within: 5) { stores.flatMap(\.auditIntegrationDelays).count == expected.count })
        let delays = stores.flatMap(\.auditIntegrationDelays)
        let p50 = Self.percentile(delays, 0.5), p99 = Self.percentile(delays, 0.99)
        let batches = stores.map { $0.auditIntegrations.batches }
        print(
            "audit integration: \(expected.count) entries from 3 nodes in \(String(format: "%.2f", wrote)) s "
                + "(\(Int(Double(expected.count) / wrote)) entries/s); commit→integration p50 \(String(format: "%.1f", p50 * 1000)) ms, "
                + "p99 \(String(format: "%.1f", p99 * 1000)) ms, max \(String(format: "%.1f", (delays.max() ?? 0) * 1000)) ms; "
                + "batches per node \(batches)")
        #expect(p99 <= 1.0)
    }

    @Test("entries queued by a node whose integrator is stopped are integrated by another node's, within its tick")
    func anotherNodeIntegrates() throws {
        let fixture = try StoreFixture(.postgresql)
        let stores = try Self.nodes(fixture, count: 2)
        defer { stores[1].close() }
        stores[0].pauseAuditIntegration(true)
        for index in 0..<20 {
            try wait { stores[0].recordRefusal(Self.event("p\(index)"), at: StoreFixture.t0, completion: $0) }
        }
        #expect(try stores[0].awaitAuditIntegration(timeout: 5))
        // The integrator counts its entries after its COMMIT, which the wait above already sees.
        #expect(eventually(within: 5) { stores[1].auditIntegrations.entries == 20 })
        #expect(stores[0].auditIntegrations.entries == 0)
        #expect((stores[1].auditIntegrationDelays.max() ?? 9) <= 1)
        #expect(try fixture.allAuditEntries().compactMap { $0.event.detail["marker"] } == (0..<20).map { "p\($0)" })
    }

    @Test("the integrator's connection terminated inside its transaction: nothing lost, nothing integrated twice")
    func integratorKilledMidTransaction() throws {
        let fixture = try StoreFixture(.postgresql)
        let store = try #require(fixture.store as? PostgresVerificationStore)
        let killed = Mutex<[Int]>([])
        let conninfo = fixture.conninfo
        store.beforeIntegrationCommit { [store] batch in
            // The first two batches: terminate this integrator's own backend, waiting until it is gone.
            guard killed.withLock({ $0.count }) < 2 else { return }
            let pid = store.coordinationBackendPIDs.integrator
            guard let admin = try? PostgresConnection(conninfo: conninfo) else { return }
            defer { admin.close() }
            // Counted only once the backend is gone (pg_terminate_backend answers false, not an error, for
            // a pid it could not end): a termination that did not happen fails the count below.
            let terminated = try? admin.query(
                "SELECT pg_terminate_backend($1::integer, 5000) AS terminated", [.int(Int(pid))]
            )[0].decode("terminated", as: Bool.self)
            if terminated == true { killed.withLock { $0.append(batch) } }
        }
        runOnThreads(4) { thread in
            for index in 0..<50 {
                try! wait { store.recordRefusal(Self.event("k\(thread)-\(index)"), at: StoreFixture.t0, completion: $0) }
            }
        }
        #expect(try store.awaitAuditIntegration(timeout: 10))
        #expect(killed.withLock { $0.count } == 2)
        let entries = try fixture.allAuditEntries()
        #expect(entries.count == 200)
        #expect(Set(entries.compactMap { $0.event.detail["marker"] }).count == 200)
        #expect(entries.map(\.sequence) == Array(1...Int64(200)))
        let report = try Self.verify(fixture)
        #expect(report.isIntact, "\(String(describing: report.firstBreak))")
        #expect(report.entries == 200)
        // Counted after the integrator's COMMIT, which the wait above already sees.
        #expect(eventually(within: 5) { store.auditIntegrations.entries == 200 })
    }

    @Test("with integration paused, the 4,097th audited write is refused as transient (503) and stores nothing")
    func backlogLimit() throws {
        let fixture = try StoreFixture(.postgresql)
        let store = try #require(fixture.store as? PostgresVerificationStore)
        store.pauseAuditIntegration(true)
        runOnThreads(8) { thread in
            for index in stride(from: thread, to: 4096, by: 8) {
                try! wait { store.recordRefusal(Self.event("b\(index)"), at: StoreFixture.t0, completion: $0) }
            }
        }
        let backlog = try store.auditIntegrationBacklog()
        #expect(backlog.entries == 4096)
        #expect(backlog.oldestAgeSeconds >= 0)
        let record = SharedRecord(
            certificateType: "marriage-status", subjectID: "11010519491231002X", owner: StoreFixture.owner,
            claims: ["maritalStatus": .string("married")], updatedAt: StoreFixture.t0)
        let refusal = Result { try wait { store.putRecords([record], actor: StoreFixture.owner, now: StoreFixture.t0, completion: $0) } }
        guard case .failure(let error) = refusal else {
            Issue.record("the 4,097th audited write was accepted")
            return
        }
        #expect(error.isTransientStoreFailure)
        #expect((error as? PostgresStoreError)?.code == "postgres.audit-backlog")
        #expect(try store.record(certificateType: "marriage-status", subjectID: "11010519491231002X") == nil)
        #expect(try fixture.count("audit_queue") == 4096)
        #expect(try fixture.count("audit_log") == 0)
        // Unaudited reads and writes without entries still work; resumed, the queue drains.
        let header = "eyJiYWNrbG9nIjp0cnVlfQ"
        try wait { store.registerSigningHeader(header, completion: $0) }
        #expect(try store.signingHeaders().contains(header))
        let resumed = monotonicNanoseconds()
        store.pauseAuditIntegration(false)
        #expect(try store.awaitAuditIntegration(timeout: 10))
        let drained = Double(monotonicNanoseconds() - resumed) / 1e9
        print(
            "audit integration: 4096 queued entries integrated in \(String(format: "%.3f", drained)) s "
                + "(\(Int(4096 / drained)) entries/s, \(store.auditIntegrations.batches) batch(es))")
        #expect(try store.auditIntegrationBacklog() == .empty)
        #expect(try fixture.count("audit_log") == 4096)
        // 4,096 entries deleted: the integrator vacuums the queue, and the server counts that vacuum.
        #expect(eventually { store.auditQueueVacuums >= 1 })
        let admin = try PostgresConnection(conninfo: fixture.conninfo)
        defer { admin.close() }
        #expect(
            try eventually {
                let vacuums: Int64? = try admin.query(
                    "SELECT vacuum_count FROM pg_stat_user_tables WHERE relname = 'audit_queue' AND schemaname = current_schema()"
                ).rows.first?.decode("vacuum_count")
                return (vacuums ?? 0) >= 1
            })
        #expect(try wait { store.putRecords([record], actor: StoreFixture.owner, now: StoreFixture.t0, completion: $0) } == [.created])
    }

    @Test("one of two nodes leads; its election connection terminated, the other leads within seconds")
    func leaderTakeover() throws {
        let fixture = try StoreFixture(.postgresql)
        let stores = try Self.nodes(fixture, count: 2)
        defer { stores[1].close() }
        func leaders() -> [Bool] { stores.map(\.leadsPeriodicWork) }
        let deadline = monotonicNanoseconds() + 5_000_000_000
        while leaders().filter({ $0 }).count != 1, monotonicNanoseconds() < deadline { usleep(50_000) }
        #expect(leaders().filter { $0 }.count == 1)
        let leader = try #require(leaders().firstIndex(of: true))
        let follower = 1 - leader
        // Still exactly one a few checks later.
        usleep(1_500_000)
        #expect(leaders() == (0..<2).map { $0 == leader })

        let admin = try PostgresConnection(conninfo: fixture.conninfo)
        defer { admin.close() }
        let killedAt = monotonicNanoseconds()
        let pid = stores[leader].coordinationBackendPIDs.leader
        #expect(pid != 0)
        _ = try admin.query("SELECT pg_terminate_backend($1::integer, 5000)", [.int(Int(pid))])
        while !stores[follower].leadsPeriodicWork, monotonicNanoseconds() < killedAt + 10_000_000_000 { usleep(20_000) }
        let takeover = Double(monotonicNanoseconds() - killedAt) / 1e9
        print("leader takeover after pg_terminate_backend: \(String(format: "%.2f", takeover)) s")
        #expect(stores[follower].leadsPeriodicWork)
        #expect(takeover < 5)
        // The old leader noticed its lost session and does not lead beside the new one.
        usleep(1_500_000)
        #expect(!stores[leader].leadsPeriodicWork)
        #expect(stores[follower].leadsPeriodicWork)
    }
}
