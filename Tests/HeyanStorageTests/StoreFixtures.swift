import CSQLite
import Dispatch
import Glibc
import HeyanDomain
import Synchronization
import HeyanTestSupport
import HeyanCrypto
import HeyanPostgres
import HeyanPostgresStore
import HeyanTransparencyLog
import Testing

@testable import HeyanStorage

/// What a store read an event loop makes gives, on either engine: SQLite's at once, PostgreSQL's once
/// its batched reader answers (tests only: blocks the calling thread).
func wait<T: Sendable>(_ read: StoreRead<T>) throws -> T {
    switch read {
    case .now(let value): try value.get()
    case .later(let start): try wait(start)
    }
}

/// Waits for a store completion (tests only: blocks the calling thread).
func wait<T: Sendable>(_ call: (@escaping StoreCompletion<T>) -> Void) throws -> T {
    let done = DispatchSemaphore(value: 0)
    let result = Mutex<Result<T, any Error>?>(nil)
    call { outcome in
        result.withLock { $0 = outcome }
        done.signal()
    }
    done.wait()
    return try result.withLock { $0! }.get()
}

/// Runs `body(index)` on `count` POSIX threads at once and waits for all of them.
func runOnThreads(_ count: Int, _ body: @escaping @Sendable (Int) -> Void) {
    final class Context: @unchecked Sendable {  // immutable after init
        let body: @Sendable (Int) -> Void
        let index: Int
        init(_ body: @escaping @Sendable (Int) -> Void, _ index: Int) {
            self.body = body
            self.index = index
        }
    }
    var threads: [pthread_t] = []
    for index in 0..<count {
        var thread = pthread_t()
        let context = Unmanaged.passRetained(Context(body, index)).toOpaque()
        let created = pthread_create(
            &thread, nil,
            { raw in
                let context = Unmanaged<Context>.fromOpaque(raw!).takeRetainedValue()
                context.body(context.index)
                return nil
            }, context)
        precondition(created == 0)
        threads.append(thread)
    }
    for thread in threads { pthread_join(thread, nil) }
}

func monotonicNanoseconds() -> UInt64 {
    var now = timespec()
    clock_gettime(CLOCK_MONOTONIC, &now)
    return UInt64(now.tv_sec) * 1_000_000_000 + UInt64(now.tv_nsec)
}

/// A store on a fresh file (or a fresh PostgreSQL schema), and builders for what the service would submit.
final class StoreFixture: @unchecked Sendable {  // used from one test at a time
    let directory = TemporaryDirectory()
    let path: String
    let engine: Engine
    /// The PostgreSQL connection string (a schema of this fixture's own), for `.postgresql`.
    private(set) var conninfo = ""
    private(set) var store: any HeyanStore
    /// The store as SQLite, for tests of the embedded engine's own machinery.
    var sqliteStore: SQLiteVerificationStore { store as! SQLiteVerificationStore }
    /// The same store's audit tree (both engines implement the proofs).
    var auditLog: any AuditLogProofs { store as! any AuditLogProofs }
    /// The tree once every committed entry is in it: on PostgreSQL entries are integrated after
    /// their COMMIT (docs/postgresql.md, "Audit: queue and integrator"); SQLite integrates in the batch.
    func integratedTreeHead() throws -> TreeHead {
        if let postgres = store as? PostgresVerificationStore {
            guard try postgres.awaitAuditIntegration(timeout: 10) else { throw TestFailure("audit integration stalled") }
        }
        return try auditLog.treeHead()
    }
    private let counter = Atomic<Int>(0)

    static let t0: Millis = 1_767_225_600_000  // 2026-01-01T00:00:00Z
    static let requester = "dept-civil"
    static let owner = "dept-police"

    /// The store's clock: t0 + 1 s until a test advances it.
    let clock = ManualClock(wall: StoreFixture.t0 + 1000)

    init(_ engine: Engine = .sqlite) throws {
        self.engine = engine
        path = directory.file("heyan.sqlite")
        switch engine {
        case .sqlite:
            store = try SQLiteVerificationStore(path: path, hash: Digest.sha256, clock: clock)
        case .postgresql:
            conninfo = try PostgresCluster.shared().createSchema(prefix: "store").conninfo
            store = try PostgresVerificationStore(conninfo: conninfo, hash: Digest.sha256, clock: clock)
        }
    }

    deinit { store.close() }

    /// Closes the store and opens it again.
    func reopen() throws {
        store.close()
        switch engine {
        case .sqlite: store = try SQLiteVerificationStore(path: path, hash: Digest.sha256, clock: clock)
        case .postgresql: store = try PostgresVerificationStore(conninfo: conninfo, hash: Digest.sha256, clock: clock)
        }
    }

    func identifier(_ prefix: String) -> String {
        let n = counter.wrappingAdd(1, ordering: .relaxed).newValue
        var random = [UInt8](repeating: 0, count: 10)
        for index in 0..<8 { random[2 + index] = UInt8(truncatingIfNeeded: n >> (8 * (7 - index))) }
        return Identifiers.make(prefix: prefix, time: Self.t0, random: random)
    }

    func verification(
        id: String? = nil, owner: String = owner, requester: String = requester, subjectID: String = "11010519491231002X",
        createdAt: Millis = t0, dueAt: Millis? = nil, method: VerificationMethod = .departmentVerification
    ) -> Verification {
        Verification(
            id: id ?? identifier("ver_"), certificateType: "marriage-status", method: method, requester: requester,
            owner: owner, matterCode: "MC-001", purpose: "办理公租房资格审核",
            subject: Subject(idType: .residentID, id: subjectID, name: "张三"),
            claims: ["maritalStatus": .string("married"), "since": .integer(2001), "flag": .bool(true)],
            state: .pending, createdAt: createdAt, dueAt: dueAt, catalogVersion: 3)
    }

    /// A queued (department-verification) submission with its audit events.
    func queued(
        owner: String = owner, requester: String = requester, subjectID: String = "11010519491231002X",
        createdAt: Millis = t0, dueAt: Millis, idempotency: IdempotencyRecord? = nil, id: String? = nil
    ) -> NewVerification {
        let verification = verification(
            id: id, owner: owner, requester: requester, subjectID: subjectID, createdAt: createdAt, dueAt: dueAt)
        let item = QueueItem(
            id: identifier("qi_"), kind: .verification, verificationID: verification.id, owner: owner,
            createdAt: createdAt, dueAt: dueAt)
        return NewVerification(
            verification: verification, attestation: nil, queueItem: item, idempotency: idempotency,
            audit: submittedEvents(verification, queueItemID: item.id, dueAt: dueAt))
    }

    /// A data-sharing submission answered at once, with its attestation.
    func answeredAtOnce(createdAt: Millis = t0, idempotency: IdempotencyRecord? = nil) -> NewVerification {
        var verification = verification(createdAt: createdAt, method: .dataSharing)
        let attestation = attestation(for: verification, outcome: .confirmed, at: createdAt)
        verification = verification.answering(outcome: .confirmed, disclosed: [:], note: nil, at: createdAt)
            .attested(by: attestation.id)
        var events = submittedEvents(verification, queueItemID: nil, dueAt: nil)
        events.append(
            AuditEvent(
                action: .attestationIssued, actor: "heyan", requester: verification.requester, owner: verification.owner,
                certificateType: verification.certificateType, subjectID: verification.subject.id,
                verificationID: verification.id, attestationID: attestation.id,
                detail: ["expiresAt": Timestamp.rfc3339(attestation.expiresAt)]))
        return NewVerification(
            verification: verification, attestation: attestation, queueItem: nil, idempotency: idempotency, audit: events)
    }

    func submittedEvents(_ verification: Verification, queueItemID: String?, dueAt: Millis?) -> [AuditEvent] {
        var events = [
            AuditEvent(
                action: .verificationSubmitted, actor: verification.requester, requester: verification.requester,
                owner: verification.owner, certificateType: verification.certificateType,
                subjectID: verification.subject.id, verificationID: verification.id,
                detail: ["matterCode": verification.matterCode, "purpose": verification.purpose, "method": verification.method.rawValue])
        ]
        if let queueItemID, let dueAt {
            events.append(
                AuditEvent(
                    action: .verificationQueued, actor: "heyan", requester: verification.requester,
                    owner: verification.owner, certificateType: verification.certificateType,
                    subjectID: verification.subject.id, verificationID: verification.id, queueItemID: queueItemID,
                    detail: ["dueAt": Timestamp.rfc3339(dueAt)]))
        }
        return events
    }

    func attestation(for verification: Verification, outcome: Outcome, at time: Millis) -> Attestation {
        Attestation(
            id: identifier("att_"), verificationID: verification.id, issuer: verification.owner,
            requester: verification.requester, certificateType: verification.certificateType,
            subjectID: verification.subject.id, outcome: outcome, jws: "eyJhbGciOiJFUzI1NiJ9.e30.sig-\(verification.id)",
            issuedAt: time, expiresAt: time + 86_400_000 * 30)
    }

    /// The `issue` closure the service passes to `answer`: signs (here: pretends to) the answer.
    var issue: @Sendable (Verification) throws -> Attestation {
        { [unowned self] verification in
            #expect(verification.attestationID == nil)
            #expect(verification.status == .answered)
            return self.attestation(for: verification, outcome: verification.outcome!, at: verification.answeredAt!)
        }
    }

    func submit(_ new: NewVerification) throws -> SubmitResult {
        try wait { store.submit(new, completion: $0) }
    }

    func lease(owner: String = owner, limit: Int = 10, duration: Millis = 60_000, now: Millis) throws -> [LeasedItem] {
        try wait { store.lease(owner: owner, limit: limit, duration: duration, now: now, completion: $0) }
    }

    func answer(
        _ item: LeasedItem, owner: String = owner, token: String? = nil, outcome: Outcome = .confirmed,
        note: String? = "核实无误", disclosed: ClaimSet = ["maritalStatus": .string("married")], at time: Millis
    ) throws -> AnswerResult {
        let answer = OwnerAnswer(
            queueItemID: item.item.id, owner: owner, leaseToken: token ?? item.item.leaseToken!, outcome: outcome,
            note: note, disclosed: disclosed, answeredAt: time)
        return try wait { store.answer(answer, issue: issue, completion: $0) }
    }

    /// Every audit entry, in order.
    func allAuditEntries() throws -> [AuditEntry] {
        try store.auditEntries(matching: AuditFilter(), after: 0, limit: 1_000_000)
    }

    func count(_ table: String) throws -> Int64 {
        switch engine {
        case .sqlite:
            return try sqliteStore.database.read { try $0.fetchScalar("SELECT count(*) FROM \(table)")?.integerValue ?? -1 }
        case .postgresql:
            let connection = try PostgresConnection(conninfo: conninfo)
            defer { connection.close() }
            return try connection.query("SELECT count(*) AS n FROM \(table)").rows.first?.decode("n") ?? -1
        }
    }

    /// Runs raw SQL on a separate read-write connection (tampering, inspection).
    func rawSQL(_ sql: String) throws {
        switch engine {
        case .sqlite:
            let connection = try SQLiteConnection(path: path)
            #expect(connection.withConnectionPointer { sqlite3_busy_timeout($0, 5000) } == SQLITE_OK)
            try connection.execute(sql)
        case .postgresql:
            let connection = try PostgresConnection(conninfo: conninfo)
            defer { connection.close() }
            _ = try connection.execute(sql)
        }
    }
}
