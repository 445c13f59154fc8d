/// Completion of a store operation.
public typealias StoreCompletion<Value> = @Sendable (Result<Value, any Error>) -> Void

/// A read an engine answers either at once, on the calling thread, or later through a completion
/// on one of its own threads — so that an engine reading locally (SQLite) costs its caller no
/// thread hop, and one reading over the network (PostgreSQL) does not block its caller for a round
/// trip.
public enum StoreRead<Value: Sendable>: Sendable {
    /// Read already.
    case now(Result<Value, any Error>)
    /// Starts the read; the completion runs exactly once, on a store thread.
    case later(@Sendable (_ completion: @escaping StoreCompletion<Value>) -> Void)
}

/// A response remembered for a requester's `Idempotency-Key`: the same key and body get the
/// same response; the same key with another body is a conflict.
public struct IdempotencyRecord: Sendable, Equatable {
    public var requester: String
    public var key: String
    /// SHA-256 of the request body.
    public var requestHash: [UInt8]
    public var status: Int
    public var body: [UInt8]
    public var createdAt: Millis

    public init(requester: String, key: String, requestHash: [UInt8], status: Int, body: [UInt8], createdAt: Millis) {
        self.requester = requester
        self.key = key
        self.requestHash = requestHash
        self.status = status
        self.body = body
        self.createdAt = createdAt
    }
}

/// Everything one accepted `POST /v1/verifications` writes, in one transaction.
public struct NewVerification: Sendable, Equatable {
    public var verification: Verification
    /// Present when answered at once (data sharing).
    public var attestation: Attestation?
    /// Present when queued for the owner.
    public var queueItem: QueueItem?
    public var idempotency: IdempotencyRecord?
    public var audit: [AuditEvent]
    /// The queue item's `dueAt` was counted past the last day the working-day calendar covers
    /// (``DueDate/isBeyondCalendar(dueAt:calendar:)``); statistics count such items.
    public var dueBeyondCalendar = false

    public init(
        verification: Verification, attestation: Attestation?, queueItem: QueueItem?, idempotency: IdempotencyRecord?,
        audit: [AuditEvent]
    ) {
        self.verification = verification
        self.attestation = attestation
        self.queueItem = queueItem
        self.idempotency = idempotency
        self.audit = audit
    }
}

public enum SubmitResult: Sendable, Equatable {
    case stored
    /// The key was used before with the same body: answer what was answered then.
    case replayed(status: Int, body: [UInt8])
    /// The key was used before with another body.
    case keyReused
}

/// An owner's answer to a leased queue item.
public struct OwnerAnswer: Sendable, Equatable {
    public var queueItemID: String
    /// The department answering; must own the item.
    public var owner: String
    public var leaseToken: String
    public var outcome: Outcome
    public var note: String?
    /// Already checked against the requester's grant and the claim schema.
    public var disclosed: ClaimSet
    public var answeredAt: Millis
    /// The answering clerk (经办人), when known; named in the `verification.answered` entry.
    public var clerk: String?

    public init(
        queueItemID: String, owner: String, leaseToken: String, outcome: Outcome, note: String?, disclosed: ClaimSet,
        answeredAt: Millis, clerk: String? = nil
    ) {
        self.clerk = clerk
        self.queueItemID = queueItemID
        self.owner = owner
        self.leaseToken = leaseToken
        self.outcome = outcome
        self.note = note
        self.disclosed = disclosed
        self.answeredAt = answeredAt
    }
}

public enum AnswerResult: Sendable, Equatable {
    case answered(Verification, Attestation)
    /// The same answer with the same lease token was given before: nothing changed.
    case repeated(Verification, Attestation)
    /// The token is not the item's current lease, the lease expired, or the item was answered
    /// differently.
    case staleLease
    /// No such item in this owner's queue (another owner's item is "not found" too).
    case notFound
}

public enum RecordWriteResult: Sendable, Equatable { case created, updated }

public enum RevokeResult: Sendable, Equatable {
    case revoked(Attestation)
    case alreadyRevoked(Attestation)
    case notFound
}

/// Where a newest-first list continues (keyset paging): after the row created at `createdAt` with
/// this `id`, i.e. rows with `(createdAt, id)` smaller. Written `<createdAt>_<id>` in a link.
public struct ListCursor: Sendable, Equatable {
    public var createdAt: Millis
    public var id: String

    public init(createdAt: Millis, id: String) {
        self.createdAt = createdAt
        self.id = id
    }

    /// `<createdAt>_<id>`.
    public var text: String { "\(createdAt)_\(id)" }

    /// Reads ``text``; nil for anything else.
    public init?(text: String) {
        guard let underscore = text.firstIndex(of: "_"), let time = Millis(text[..<underscore]) else { return nil }
        let id = String(text[text.index(after: underscore)...])
        guard !id.isEmpty, id.utf8.count <= 64 else { return nil }
        self.init(createdAt: time, id: id)
    }
}

/// Queue depth of one owner, for `/metrics`.
public struct QueueCount: Sendable, Equatable {
    public var owner: String
    public var pending: Int
    public var leased: Int
    public var overdue: Int
    /// Creation time of the owner's oldest unanswered (pending or leased) item.
    public var oldestCreatedAt: Millis?

    public init(owner: String, pending: Int, leased: Int, overdue: Int, oldestCreatedAt: Millis? = nil) {
        self.owner = owner
        self.pending = pending
        self.leased = leased
        self.overdue = overdue
        self.oldestCreatedAt = oldestCreatedAt
    }
}

/// What changed, for long-polls waiting on it.
public enum StoreChange: Sendable, Equatable, Hashable {
    /// A verification's status or answer changed.
    case verification(id: String)
    /// An owner's queue got an item (new, or a lease expired and returned it).
    case queue(owner: String)
    /// A commitment's spot check was answered (docs/commitments.md).
    case commitment(id: String)
}

/// Where heyan keeps verifications, queues, records, attestations and the audit log.
///
/// Writes are asynchronous and group-committed: the completion runs (on a store thread) only after
/// the transaction holding the change and its audit entries is durable, so the service sends no
/// response before that. Every write appends its audit entries in the same transaction. Reads come
/// from separate connections and never wait for the writer.
///
/// One face of ``HeyanStore``, which the service holds; the embedded implementation is
/// `SQLiteVerificationStore` (HeyanStorage), and a PostgreSQL one can follow behind the same protocols.
public protocol VerificationStore: AnyObject, Sendable {
    // MARK: writes

    /// Stores an accepted verification (with its attestation or queue item) unless the
    /// idempotency key was used before.
    func submit(_ new: NewVerification, completion: @escaping StoreCompletion<SubmitResult>)
    /// Appends the audit entry of a refused request.
    func recordRefusal(_ event: AuditEvent, at time: Millis, completion: @escaping StoreCompletion<Void>)
    /// Leases up to `limit` of `owner`'s items that are pending or whose lease expired, oldest due
    /// first, each with a new random lease token valid for `duration`.
    /// `clerk` (经办人), when known, is named in each `queue.leased` entry.
    func lease(
        owner: String, clerk: String?, limit: Int, duration: Millis, now: Millis,
        completion: @escaping StoreCompletion<[LeasedItem]>)
    /// Answers a leased item: marks the verification answered and stores the attestation that
    /// `issue` signs for it (called inside the transaction with the answered verification).
    func answer(
        _ answer: OwnerAnswer, issue: @escaping @Sendable (Verification) throws -> Attestation,
        completion: @escaping StoreCompletion<AnswerResult>)
    /// Creates or replaces records, all in one transaction.
    /// `clerk` (经办人) of `actor`, when known, is named in each audit entry of these writes.
    func putRecords(
        _ records: [SharedRecord], actor: String, clerk: String?, now: Millis,
        completion: @escaping StoreCompletion<[RecordWriteResult]>)
    /// Deletes one record; false when there was none.
    func deleteRecord(
        certificateType: String, subjectID: String, actor: String, clerk: String?, now: Millis,
        completion: @escaping StoreCompletion<Bool>)
    func revoke(
        attestationID: String, actor: String, clerk: String?, reason: String, now: Millis,
        completion: @escaping StoreCompletion<RevokeResult>)
    /// Marks unanswered items past their due time as overdue (audited once each); returns how many
    /// were newly marked.
    func markOverdue(now: Millis, completion: @escaping StoreCompletion<Int>)
    /// Signs a checkpoint of the current log (size, head hash, time) with `sign` (payload bytes →
    /// JWS) if the log grew since the last one; otherwise returns the last one.
    func checkpoint(now: Millis, sign: @escaping @Sendable ([UInt8]) throws -> String, completion: @escaping StoreCompletion<AuditCheckpoint>)

    // MARK: reads

    func verification(id: String) throws -> Verification?
    func queueItem(id: String) throws -> QueueItem?
    func attestation(id: String) throws -> Attestation?
    func record(certificateType: String, subjectID: String) throws -> SharedRecord?
    /// The same read as ``record(certificateType:subjectID:)`` for a data-sharing verification on an
    /// event loop: SQLite reads it now; PostgreSQL hands it to its record reader, which answers every
    /// lookup waiting when it is free with one statement (docs/postgresql.md, "Record reader").
    /// A transient failure (the connection lost) fails the read as the synchronous one would.
    func lookUpRecord(certificateType: String, subjectID: String) -> StoreRead<SharedRecord?>
    /// Entries with sequence > `sequence` matching `filter`, in order, at most `limit`.
    func auditEntries(matching filter: AuditFilter, after sequence: Int64, limit: Int) throws -> [AuditEntry]
    func latestCheckpoint() throws -> AuditCheckpoint?
    func queueCounts() throws -> [QueueCount]
    /// A page of `requester`'s verifications, newest first (by creation time, then ID), those
    /// before `cursor` when given: keyset paging, so a page costs the same however deep it is.
    func verifications(requester: String, before cursor: ListCursor?, limit: Int) throws -> [Verification]
    /// A page of `owner`'s queue items with their verifications, newest first, as
    /// ``verifications(requester:before:limit:)``.
    func queueItems(owner: String, before cursor: ListCursor?, limit: Int) throws -> [LeasedItem]
    /// The stored response for an idempotency key, if any (a fast path before validation work).
    func idempotencyRecord(requester: String, key: String) throws -> IdempotencyRecord?
    /// The same read as ``idempotencyRecord(requester:key:)`` for a create request on an event loop:
    /// SQLite reads it now; PostgreSQL hands it to its idempotency reader, which answers every lookup
    /// waiting when it is free with one statement (docs/postgresql.md, "Reads and the record reader").
    func lookUpIdempotencyRecord(requester: String, key: String) -> StoreRead<IdempotencyRecord?>

    // MARK: changes

    /// Calls `observer` after each commit, once per change, on a store thread.
    func observeChanges(_ observer: @escaping @Sendable (StoreChange) -> Void)
}

extension VerificationStore {
    /// ``lease(owner:clerk:limit:duration:now:completion:)`` by no particular clerk.
    public func lease(
        owner: String, limit: Int, duration: Millis, now: Millis, completion: @escaping StoreCompletion<[LeasedItem]>
    ) {
        lease(owner: owner, clerk: nil, limit: limit, duration: duration, now: now, completion: completion)
    }

    /// ``putRecords(_:actor:clerk:now:completion:)`` by no particular clerk.
    public func putRecords(
        _ records: [SharedRecord], actor: String, now: Millis, completion: @escaping StoreCompletion<[RecordWriteResult]>
    ) {
        putRecords(records, actor: actor, clerk: nil, now: now, completion: completion)
    }

    /// ``deleteRecord(certificateType:subjectID:actor:clerk:now:completion:)`` by no particular clerk.
    public func deleteRecord(
        certificateType: String, subjectID: String, actor: String, now: Millis, completion: @escaping StoreCompletion<Bool>
    ) {
        deleteRecord(certificateType: certificateType, subjectID: subjectID, actor: actor, clerk: nil, now: now, completion: completion)
    }

    /// ``revoke(attestationID:actor:clerk:reason:now:completion:)`` by no particular clerk.
    public func revoke(
        attestationID: String, actor: String, reason: String, now: Millis, completion: @escaping StoreCompletion<RevokeResult>
    ) {
        revoke(attestationID: attestationID, actor: actor, clerk: nil, reason: reason, now: now, completion: completion)
    }
}
