import HeyanDomain

/// ``CommitmentStore`` on the embedded SQLite store: the same group-commit writer and reader pool
/// as the verifications, migration 3's tables (docs/commitments.md).
extension SQLiteVerificationStore: CommitmentStore {
    public func submitCommitment(_ new: NewCommitment, completion: @escaping StoreCompletion<CommitmentSubmitResult>) {
        writer.submit(
            { session in
                let db = session.connection
                if let idempotency = new.idempotency,
                    let earlier = try IdempotencyRow.fetch(requester: idempotency.requester, key: idempotency.key, on: db)
                {
                    guard earlier.requestHash == idempotency.requestHash else { return .keyReused }
                    return .replayed(status: earlier.status, body: earlier.body)
                }
                // Decided inside the transaction: a false finding committed a moment ago counts.
                let subject = new.commitment.subject.id
                if let entry = try CreditEntryRow.fetch(subjectID: subject, activeOnly: true, on: db).first {
                    return .creditListed(entry)
                }
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
                guard limit > 0 else { return [] }
                let db = session.connection
                var candidates: [SpotCheck] = []
                for (sql, bindNow) in [
                    ("state = 'pending'", false), ("state = 'leased' AND lease_expires_at <= ?3", true),
                ] {
                    let s = try db.cachedStatement(
                        "SELECT \(SpotCheckRow.columns) FROM spot_checks WHERE owner = ?1 AND \(sql) "
                            + "ORDER BY due_at, created_at LIMIT ?2")
                    try s.bind(owner, at: 1)
                    try s.bind(Int64(limit), at: 2)
                    if bindNow { try s.bind(now, at: 3) }
                    while try s.step() { candidates.append(try SpotCheckRow.decode(s)) }
                }
                candidates.sort { ($0.dueAt, $0.createdAt, $0.id) < ($1.dueAt, $1.createdAt, $1.id) }
                var leased: [LeasedSpotCheck] = []
                for var item in candidates.prefix(limit) {
                    item.state = .leased
                    item.leaseToken = try session.random.token()
                    item.leaseExpiresAt = now + duration
                    item.leaseCount += 1
                    let s = try db.cachedStatement(
                        """
                        UPDATE spot_checks SET state = 'leased', lease_token = ?2, lease_expires_at = ?3,
                            lease_count = ?4
                        WHERE id = ?1
                        """)
                    try s.bind(item.id, at: 1)
                    try s.bindText(item.leaseToken, at: 2)
                    try s.bindInteger(item.leaseExpiresAt, at: 3)
                    try s.bind(Int64(item.leaseCount), at: 4)
                    try s.run()
                    guard let commitment = try CommitmentRow.fetch("id", item.commitmentID, on: db) else {
                        throw StoredRowError.invalid(table: "spot_checks", key: item.id, column: "commitment_id")
                    }
                    try session.appendAudit(
                        AuditEvent(
                            action: .queueLeased, actor: owner, requester: commitment.requester, owner: owner,
                            certificateType: commitment.certificateType, subjectID: commitment.subject.id,
                            queueItemID: item.id,
                            detail: [
                                "commitment": commitment.id,
                                "leaseExpiresAt": Timestamp.rfc3339(now + duration),
                                "leaseCount": String(item.leaseCount),
                            ]), at: now)
                    leased.append(LeasedSpotCheck(item: item, commitment: commitment))
                }
                return leased
            }, completion: completion)
    }

    public func answerSpotCheck(_ answer: SpotCheckAnswer, completion: @escaping StoreCompletion<SpotCheckAnswerResult>) {
        writer.submit(
            { session in
                let db = session.connection
                let s = try db.cachedStatement(
                    "SELECT \(SpotCheckRow.columns), answered_lease_token FROM spot_checks WHERE id = ?1")
                try s.bind(answer.spotCheckID, at: 1)
                guard try s.step() else { return .notFound }
                let item = try SpotCheckRow.decode(s)
                let answeredToken = s.text(at: 10)
                try s.reset()
                guard item.owner == answer.owner else { return .notFound }
                guard var commitment = try CommitmentRow.fetch("id", item.commitmentID, on: db) else {
                    throw StoredRowError.invalid(table: "spot_checks", key: item.id, column: "commitment_id")
                }
                if item.state == .done {
                    guard answeredToken == answer.leaseToken, let finding = commitment.finding,
                        finding.outcome == answer.outcome, finding.note == answer.note,
                        finding.evidence == answer.evidence
                    else { return .staleLease }
                    return .repeated(commitment)
                }
                guard item.state == .leased, item.leaseToken == answer.leaseToken,
                    let expires = item.leaseExpiresAt, expires > answer.answeredAt
                else { return .staleLease }

                let at = answer.answeredAt
                commitment.finding = SpotCheckFinding(
                    outcome: answer.outcome, note: answer.note, evidence: answer.evidence, checkedBy: answer.owner,
                    checkedAt: at)
                func event(_ action: AuditAction, attestation: String? = nil, _ detail: [String: String]) -> AuditEvent {
                    AuditEvent(
                        action: action, actor: answer.owner, requester: commitment.requester, owner: commitment.owner,
                        certificateType: commitment.certificateType, subjectID: commitment.subject.id,
                        attestationID: attestation, queueItemID: item.id,
                        detail: detail.merging(["commitment": commitment.id]) { a, _ in a })
                }
                var detail = ["outcome": answer.outcome.rawValue]
                if let note = answer.note { detail["note"] = note }
                if let evidence = answer.evidence { detail["evidence"] = evidence }
                var events = [event(.spotCheckAnswered, detail)]
                switch answer.outcome {
                case .consistent:
                    commitment.status = .consistent
                case .falseCommitment:
                    commitment.status = .falseCommitment
                    let reason = answer.note ?? "虚假承诺：事后核查与承诺内容不符"
                    commitment.receipt.revokedAt = at
                    commitment.receipt.revocationReason = "false-commitment: " + reason
                    commitment.receipt.revokedBy = answer.owner
                    commitment.creditEntryID = answer.creditEntryID
                    try CreditEntryRow.insert(
                        CreditEntry(
                            id: answer.creditEntryID, subjectIDType: commitment.subject.idType,
                            subjectID: commitment.subject.id, certificateType: commitment.certificateType,
                            commitmentID: commitment.id, reason: reason, evidence: answer.evidence,
                            recordedBy: answer.owner, recordedAt: at), on: db)
                    events.append(
                        event(.attestationRevoked, attestation: commitment.receipt.id,
                            ["reason": commitment.receipt.revocationReason ?? ""]))
                    var listed = ["entry": answer.creditEntryID, "reason": reason]
                    if let evidence = answer.evidence { listed["evidence"] = evidence }
                    events.append(event(.creditListed, listed))
                }
                try CommitmentRow.updateFinding(commitment, on: db)
                let done = try db.cachedStatement(
                    "UPDATE spot_checks SET state = 'done', answered_lease_token = ?2 WHERE id = ?1")
                try done.bind(item.id, at: 1)
                try done.bind(answer.leaseToken, at: 2)
                try done.run()
                for e in events { try session.appendAudit(e, at: at) }
                session.changed(.commitment(id: commitment.id))
                return .answered(commitment)
            }, completion: completion)
    }

    public func markSpotChecksOverdue(now: Millis, completion: @escaping StoreCompletion<Int>) {
        writer.submit(
            { session in
                try session.markOverdue(
                    table: "spot_checks",
                    selectSQL: """
                        SELECT s.id, s.owner, s.due_at, c.id, c.requester, c.certificate_type, c.subject_id
                        FROM spot_checks AS s JOIN commitments AS c ON c.id = s.commitment_id
                        WHERE s.overdue = 0 AND s.state <> 'done' AND s.due_at <= ?1
                        ORDER BY s.due_at
                        """, now: now
                ) { row, id in
                    AuditEvent(
                        action: .queueOverdue, actor: "heyan", requester: row.text(at: 4), owner: row.text(at: 1),
                        certificateType: row.text(at: 5), subjectID: row.text(at: 6), queueItemID: id,
                        detail: ["commitment": row.text(at: 3) ?? "", "dueAt": Timestamp.rfc3339(row.int64(at: 2))])
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
                guard var entry = try CreditEntryRow.fetch(subjectID: subjectID, activeOnly: false, on: db)
                    .first(where: { $0.id == entryID })
                else { return .notFound }
                guard entry.isActive else { return .alreadyRemoved(entry) }
                entry.removedAt = now
                entry.removedBy = actor
                entry.removalReason = reason
                let s = try db.cachedStatement(
                    "UPDATE credit_entries SET removed_at = ?2, removed_by = ?3, removal_reason = ?4 WHERE id = ?1")
                try s.bind(entry.id, at: 1)
                try s.bind(now, at: 2)
                try s.bind(actor, at: 3)
                try s.bind(reason, at: 4)
                try s.run()
                try session.appendAudit(
                    AuditEvent(
                        action: .creditRemoved, actor: actor, certificateType: entry.certificateType,
                        subjectID: entry.subjectID,
                        detail: ["entry": entry.id, "commitment": entry.commitmentID, "reason": reason]), at: now)
                return .removed(entry)
            }, completion: completion)
    }

    public func commitment(id: String) throws -> Commitment? {
        try database.read { try CommitmentRow.fetch("id", id, on: $0) }
    }

    public func commitment(receiptID: String) throws -> Commitment? {
        try database.read { try CommitmentRow.fetch("receipt_id", receiptID, on: $0) }
    }

    public func spotCheck(id: String) throws -> SpotCheck? {
        try database.read { db in
            let s = try db.cachedStatement("SELECT \(SpotCheckRow.columns) FROM spot_checks WHERE id = ?1")
            try s.bind(id, at: 1)
            guard try s.step() else { return nil }
            return try SpotCheckRow.decode(s)
        }
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
