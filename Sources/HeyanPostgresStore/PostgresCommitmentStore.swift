import HeyanDomain
import HeyanPostgres

/// ``CommitmentStore`` on PostgreSQL: the same steps as the SQLite store's, decided by the same
/// domain procedures (``NewCommitment/decidedWithoutStoring(earlier:activeCreditEntry:)``,
/// ``SpotCheckRules``, ``CreditEntry/removed(reason:by:at:)``), in migration 3's tables.
///
/// Across nodes: spot checks are leased `FOR UPDATE SKIP LOCKED` like queue items, an answer
/// locks its spot check, and whatever reads or writes a subject's credit list takes a transaction
/// advisory lock on the subject first, so a false finding committed on one node is seen by a
/// commitment for the same subject decided on another (SQLite gets this from its one writer).
extension PostgresVerificationStore: CommitmentStore {
    public func submitCommitment(_ new: NewCommitment, completion: @escaping StoreCompletion<CommitmentSubmitResult>) {
        write(
            { tx in
                let db = tx.connection
                try Self.lockCreditList(of: new.commitment.subject.id, on: db)
                func earlier() throws -> IdempotencyRecord? {
                    try new.idempotency.flatMap { try PGIdempotencyRow.fetch(requester: $0.requester, key: $0.key, on: db) }
                }
                let credit = try PGCreditEntryRow.fetch(subjectID: new.commitment.subject.id, activeOnly: true, on: db).first
                if let decided = new.decidedWithoutStoring(earlier: try earlier(), activeCreditEntry: credit) {
                    return decided
                }
                if let idempotency = new.idempotency, !(try PGIdempotencyRow.insertIfNew(idempotency, on: db)) {
                    // Another node committed this key since it was read: decide by its record.
                    guard let decided = new.decidedWithoutStoring(earlier: try earlier(), activeCreditEntry: nil) else {
                        throw PostgresStoreError.corrupt(table: "idempotency_keys", key: idempotency.key, column: "key")
                    }
                    return decided
                }
                try PGCommitmentRow.insert(new.commitment, on: db)
                if let item = new.spotCheck { try PGSpotCheckRow.insert(item, on: db) }
                for event in new.audit { try tx.appendAudit(event, at: new.commitment.createdAt) }
                tx.changed(.commitment(id: new.commitment.id))
                if let item = new.spotCheck { tx.changed(.queue(owner: item.owner)) }
                return .stored
            }, completion: completion)
    }

    public func leaseSpotChecks(
        owner: String, limit: Int, duration: Millis, now: Millis, completion: @escaping StoreCompletion<[LeasedSpotCheck]>
    ) {
        write(
            { tx in
                try PGQueueTable.lease(
                    PGSpotCheckRow.columns, of: PGSpotCheckRow.table, owner: owner, limit: limit, now: now, in: tx,
                    decode: PGSpotCheckRow.decode, about: { try Self.commitment(of: $0, on: tx.connection) },
                    transition: { item, commitment, token in
                        SpotCheckRules.lease(item, of: commitment, token: token, now: now, duration: duration)
                    }
                ).map { LeasedSpotCheck(item: $0.work, commitment: $0.about) }
            }, completion: completion)
    }

    public func answerSpotCheck(_ answer: SpotCheckAnswer, completion: @escaping StoreCompletion<SpotCheckAnswerResult>) {
        write(
            { tx in
                let db = tx.connection
                // Locked: two nodes answering one spot check at once are decided one after the other.
                guard let item = try PGSpotCheckRow.fetch(id: answer.spotCheckID, on: db, lock: true) else { return .notFound }
                let commitment = try Self.commitment(of: item, on: db)
                switch SpotCheckRules.answer(answer, item: item, commitment: commitment) {
                case .notFound:
                    return .notFound
                case .staleLease:
                    return .staleLease
                case .repeated(let commitment):
                    return .repeated(commitment)
                case .record(let record):
                    if let entry = record.creditEntry {
                        try Self.lockCreditList(of: entry.subjectID, on: db)
                        try PGCreditEntryRow.insert(entry, on: db)
                    }
                    try PGCommitmentRow.updateFinding(record.commitment, on: db)
                    try PGQueueTable.persistState(of: record.spotCheck, table: PGSpotCheckRow.table, on: db)
                    for event in record.audit { try tx.appendAudit(event, at: answer.answeredAt) }
                    tx.changed(.commitment(id: record.commitment.id))
                    return .answered(record.commitment)
                }
            }, completion: completion)
    }

    public func markSpotChecksOverdue(now: Millis, completion: @escaping StoreCompletion<Int>) {
        write(
            { tx in
                let db = tx.connection
                var marked = 0
                for row in try PGQueueTable.overdueCandidates(PGSpotCheckRow.columns, of: PGSpotCheckRow.table, now: now, on: db) {
                    let item = try PGSpotCheckRow.decode(row)
                    guard let step = SpotCheckRules.overdue(item, of: try Self.commitment(of: item, on: db), now: now)
                    else { continue }
                    try PGQueueTable.markOverdue(step.work, table: PGSpotCheckRow.table, on: db)
                    try tx.appendAudit(step.audit, at: now)
                    marked += 1
                }
                return marked
            }, completion: completion)
    }

    public func removeCreditEntry(
        subjectID: String, entryID: String, actor: String, reason: String, now: Millis,
        completion: @escaping StoreCompletion<CreditRemovalResult>
    ) {
        write(
            { tx in
                let db = tx.connection
                try Self.lockCreditList(of: subjectID, on: db)
                guard
                    let entry = try PGCreditEntryRow.fetch(subjectID: subjectID, activeOnly: false, on: db)
                        .first(where: { $0.id == entryID })
                else { return .notFound }
                guard entry.isActive else { return .alreadyRemoved(entry) }
                let (removed, event) = entry.removed(reason: reason, by: actor, at: now)
                try PGCreditEntryRow.updateRemoval(removed, on: db)
                try tx.appendAudit(event, at: now)
                return .removed(removed)
            }, completion: completion)
    }

    public func commitment(id: String) throws -> Commitment? {
        try read { try PGCommitmentRow.fetch("id", id, on: $0) }
    }

    public func commitment(receiptID: String) throws -> Commitment? {
        try read { try PGCommitmentRow.fetch("receipt_id", receiptID, on: $0) }
    }

    public func spotCheck(id: String) throws -> SpotCheck? {
        try read { try PGSpotCheckRow.fetch(id: id, on: $0) }
    }

    public func creditEntries(subjectID: String) throws -> [CreditEntry] {
        try read { try PGCreditEntryRow.fetch(subjectID: subjectID, activeOnly: false, on: $0) }
    }

    public func spotCheckSeed() throws -> [UInt8] {
        let text: String? = try read { db in
            try db.query("SELECT value FROM service_meta WHERE key = 'spot_check_seed'").rows.first?.decode("value")
        }
        guard let text, let seed = bytes(fromLowercaseHex: text), seed.count == 32 else {
            throw PostgresStoreError.corrupt(table: "service_meta", key: "spot_check_seed", column: "value")
        }
        return seed
    }

    /// The commitment a spot check is about (it must exist: a foreign key).
    private static func commitment(of item: SpotCheck, on db: PostgresConnection) throws -> Commitment {
        guard let commitment = try PGCommitmentRow.fetch("id", item.commitmentID, on: db) else {
            throw PostgresStoreError.corrupt(table: "spot_checks", key: item.id, column: "commitment_id")
        }
        return commitment
    }

    /// Orders this transaction's use of `subjectID`'s credit list after every other node's, until
    /// COMMIT (a transaction advisory lock on the subject).
    private static func lockCreditList(of subjectID: String, on db: PostgresConnection) throws {
        try db.query("SELECT pg_advisory_xact_lock(hashtextextended($1, 0))", [.text("heyan-credit:" + subjectID)])
    }
}

extension PostgresVerificationStore: SpotCheckQueueCounting {
    public func spotCheckQueueCounts() throws -> [QueueCount] {
        let now = clock.now()
        return try read { try PGQueueTable.depths(of: PGSpotCheckRow.table, now: now, on: $0) }
    }
}
