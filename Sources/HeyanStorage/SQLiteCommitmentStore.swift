import HeyanDomain

/// ``CommitmentStore`` on the embedded SQLite store: the same group-commit writer and reader pool
/// as the verifications, migration 3's tables (docs/commitments.md).
extension SQLiteVerificationStore: CommitmentStore {
    public func submitCommitment(_ new: NewCommitment, completion: @escaping StoreCompletion<CommitmentSubmitResult>) {
        writer.submit(
            { session in
                let db = session.connection
                let earlier = try new.idempotency.flatMap {
                    try IdempotencyRow.fetch(requester: $0.requester, key: $0.key, on: db)
                }
                let credit = try CreditEntryRow.fetch(subjectID: new.commitment.subject.id, activeOnly: true, on: db).first
                if let decided = new.decidedWithoutStoring(earlier: earlier, activeCreditEntry: credit) { return decided }
                try CommitmentRow.insert(new.commitment, on: db)
                if let item = new.spotCheck { try SpotCheckRow.insert(item, on: db) }
                if let idempotency = new.idempotency { try IdempotencyRow.insert(idempotency, on: db) }
                for event in new.audit { try session.appendAudit(event, at: new.commitment.createdAt) }
                session.changed(.commitment(id: new.commitment.id))
                if let item = new.spotCheck { session.changed(.queue(owner: item.owner)) }
                return .stored
            }, completion: completion)
    }

    public func leaseSpotChecks(
        owner: String, limit: Int, duration: Millis, now: Millis, completion: @escaping StoreCompletion<[LeasedSpotCheck]>
    ) {
        writer.submit(
            { session in
                try SpotCheckRow.queue.lease(
                    owner: owner, limit: limit, now: now, in: session, decode: { try SpotCheckRow.decode($0) },
                    about: { item in
                        guard let commitment = try CommitmentRow.fetch(.id, item.commitmentID, on: session.connection)
                        else { throw StoredRowError.invalid(table: "spot_checks", key: item.id, column: "commitment_id") }
                        return commitment
                    },
                    transition: { item, commitment, token in
                        SpotCheckRules.lease(item, of: commitment, token: token, now: now, duration: duration)
                    }
                ).map { LeasedSpotCheck(item: $0.work, commitment: $0.about) }
            }, completion: completion)
    }

    public func answerSpotCheck(_ answer: SpotCheckAnswer, completion: @escaping StoreCompletion<SpotCheckAnswerResult>) {
        writer.submit(
            { session in
                let db = session.connection
                guard let item = try SpotCheckRow.fetch(id: answer.spotCheckID, on: db) else { return .notFound }
                guard let commitment = try CommitmentRow.fetch(.id, item.commitmentID, on: db) else {
                    throw StoredRowError.invalid(table: "spot_checks", key: item.id, column: "commitment_id")
                }
                switch SpotCheckRules.answer(answer, item: item, commitment: commitment) {
                case .notFound:
                    return .notFound
                case .staleLease:
                    return .staleLease
                case .repeated(let commitment):
                    return .repeated(commitment)
                case .record(let record):
                    if let entry = record.creditEntry { try CreditEntryRow.insert(entry, on: db) }
                    try CommitmentRow.updateFinding(record.commitment, on: db)
                    try SpotCheckRow.queue.persistState(of: record.spotCheck, on: db)
                    for event in record.audit { try session.appendAudit(event, at: answer.answeredAt) }
                    session.changed(.commitment(id: record.commitment.id))
                    return .answered(record.commitment)
                }
            }, completion: completion)
    }

    public func markSpotChecksOverdue(now: Millis, completion: @escaping StoreCompletion<Int>) {
        writer.submit(
            { session in
                try SpotCheckRow.queue.markOverdue(now: now, selectSQL: SpotCheckRow.overdueSQL, in: session) { row in
                    let item = try SpotCheckRow.decode(row)
                    let commitment = try CommitmentRow.decode(row, offset: SpotCheckRow.Column.allCases.count)
                    return SpotCheckRules.overdue(item, of: commitment, now: now)
                }
            }, completion: completion)
    }

    public func removeCreditEntry(
        subjectID: String, entryID: String, actor: String, reason: String, now: Millis,
        completion: @escaping StoreCompletion<CreditRemovalResult>
    ) {
        writer.submit(
            { session in
                let db = session.connection
                guard let entry = try CreditEntryRow.fetch(subjectID: subjectID, activeOnly: false, on: db)
                    .first(where: { $0.id == entryID })
                else { return .notFound }
                guard entry.isActive else { return .alreadyRemoved(entry) }
                let (removed, event) = entry.removed(reason: reason, by: actor, at: now)
                try CreditEntryRow.updateRemoval(removed, on: db)
                try session.appendAudit(event, at: now)
                return .removed(removed)
            }, completion: completion)
    }

    public func commitment(id: String) throws -> Commitment? {
        try database.read { try CommitmentRow.fetch(.id, id, on: $0) }
    }

    public func commitment(receiptID: String) throws -> Commitment? {
        try database.read { try CommitmentRow.fetch(.receiptID, receiptID, on: $0) }
    }

    public func spotCheck(id: String) throws -> SpotCheck? {
        try database.read { try SpotCheckRow.fetch(id: id, on: $0) }
    }

    public func creditEntries(subjectID: String) throws -> [CreditEntry] {
        try database.read { try CreditEntryRow.fetch(subjectID: subjectID, activeOnly: false, on: $0) }
    }

    public func spotCheckSeed() throws -> [UInt8] {
        let text = try database.read { try SQLiteStore.meta(ServiceMetaKey.spotCheckSeed, in: $0) }
        guard let text, let seed = bytes(fromLowercaseHex: text), seed.count == 32 else {
            throw StoredRowError.invalid(table: "service_meta", key: ServiceMetaKey.spotCheckSeed, column: "value")
        }
        return seed
    }
}
