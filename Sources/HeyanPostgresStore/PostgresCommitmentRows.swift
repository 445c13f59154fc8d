import HeyanDomain
import HeyanPostgres

// How commitments, spot checks and credit entries are laid out in migration 3's tables: the same
// columns as the SQLite store's CommitmentRows.swift (HeyanStorage), read back by column name.

enum PGCommitmentRow {
    /// Every column but the finding's, with the value of `c` it holds.
    private static func values(_ c: Commitment) -> KeyValuePairs<String, PostgresValue> {
        [
            "id": .text(c.id), "certificate_type": .text(c.certificateType), "requester": .text(c.requester),
            "owner": .text(c.owner), "matter_code": .text(c.matterCode), "purpose": .text(c.purpose),
            "subject_id_type": .text(c.subject.idType.rawValue), "subject_id": .text(c.subject.id),
            "subject_name": .text(c.subject.name), "claims": .text(c.claims.canonicalJSONText),
            "text_sha256": .bytes(c.textSHA256), "text": .text(c.text), "signed_at": .int64(c.signedAt),
            "signed_via": .text(c.signedVia.rawValue), "created_at": .int64(c.createdAt),
            "sample_rule": .text(c.sample.rule), "sample_seed": .text(c.sample.seed), "sample_value": .text(c.sample.value),
            "sample_rate": .double(c.sample.rate), "sampled": .bool(c.sample.sampled), "spot_check_id": .text(c.spotCheckID),
            "spot_check_due_at": optional(c.spotCheckDueAt), "receipt_id": .text(c.receipt.id),
            "receipt_jws": .text(c.receipt.jws), "receipt_issued_at": .int64(c.receipt.issuedAt),
            "receipt_expires_at": .int64(c.receipt.expiresAt), "catalog_version": .int(c.catalogVersion),
        ]
    }

    /// The columns a spot-check finding changes, with the value of `c` each holds.
    private static func findingValues(_ c: Commitment) -> KeyValuePairs<String, PostgresValue> {
        [
            "status": .text(c.status.rawValue), "check_outcome": .text(c.finding?.outcome.rawValue),
            "check_note": .text(c.finding?.note), "check_evidence": .text(c.finding?.evidence),
            "checked_by": .text(c.finding?.checkedBy), "checked_at": optional(c.finding?.checkedAt),
            "receipt_revoked_at": optional(c.receipt.revokedAt),
            "receipt_revocation_reason": .text(c.receipt.revocationReason),
            "receipt_revoked_by": .text(c.receipt.revokedBy), "credit_entry_id": .text(c.creditEntryID),
        ]
    }

    static func insert(_ c: Commitment, on db: PostgresConnection) throws {
        let columns = Array(values(c)) + Array(findingValues(c))
        try db.query(
            "INSERT INTO commitments (\(columns.map(\.key).joined(separator: ", "))) VALUES ("
                + (1...columns.count).map { "$\($0)" }.joined(separator: ",") + ")", columns.map(\.value))
    }

    /// Writes the outcome of a spot check (status, finding, revocation, credit entry).
    static func updateFinding(_ c: Commitment, on db: PostgresConnection) throws {
        let changed = findingValues(c)
        let assignments = changed.enumerated().map { "\($1.key) = $\($0 + 2)" }.joined(separator: ", ")
        try db.query("UPDATE commitments SET \(assignments) WHERE id = $1", [.text(c.id)] + changed.map(\.value))
    }

    /// The commitment whose `key` column (`id` or `receipt_id`) is `value`. Read as `*`: the
    /// decoder takes every column by name.
    static func fetch(_ key: String, _ value: String, on db: PostgresConnection) throws -> Commitment? {
        try db.query("SELECT * FROM commitments WHERE \(key) = $1", [.text(value)]).rows.first.map(decode)
    }

    static func decode(_ row: PostgresRow) throws -> Commitment {
        let id: String = try row.decode("id")
        func value<T: RawRepresentable>(_ column: String, as: T.Type = T.self) throws -> T where T.RawValue == String {
            guard let value = T(rawValue: try row.decode(column, as: String.self)) else {
                throw PostgresStoreError.corrupt(table: "commitments", key: id, column: column)
            }
            return value
        }
        guard let claims = ClaimSet.decode(canonicalText: try row.decode("claims")) else {
            throw PostgresStoreError.corrupt(table: "commitments", key: id, column: "claims")
        }
        var finding: SpotCheckFinding?
        if let outcome = try row.decodeIfPresent("check_outcome", as: String.self) {
            guard let outcome = SpotCheckOutcome(rawValue: outcome) else {
                throw PostgresStoreError.corrupt(table: "commitments", key: id, column: "check_outcome")
            }
            finding = SpotCheckFinding(
                outcome: outcome, note: try row.decodeIfPresent("check_note"),
                evidence: try row.decodeIfPresent("check_evidence"), checkedBy: try row.decode("checked_by"),
                checkedAt: try row.decode("checked_at"))
        }
        return Commitment(
            id: id, certificateType: try row.decode("certificate_type"), requester: try row.decode("requester"),
            owner: try row.decode("owner"), matterCode: try row.decode("matter_code"), purpose: try row.decode("purpose"),
            subject: Subject(
                idType: try value("subject_id_type"), id: try row.decode("subject_id"),
                name: try row.decode("subject_name")),
            claims: claims, textSHA256: try row.decode("text_sha256"), text: try row.decodeIfPresent("text"),
            signedAt: try row.decode("signed_at"), signedVia: try value("signed_via"),
            createdAt: try row.decode("created_at"), status: try value("status"),
            sample: SpotCheckSample(
                rule: try row.decode("sample_rule"), seed: try row.decode("sample_seed"),
                value: try row.decode("sample_value"), rate: try row.decode("sample_rate"),
                sampled: try row.decode("sampled")),
            spotCheckID: try row.decodeIfPresent("spot_check_id"), spotCheckDueAt: try row.decodeIfPresent("spot_check_due_at"),
            finding: finding,
            receipt: CommitmentReceipt(
                id: try row.decode("receipt_id"), jws: try row.decode("receipt_jws"),
                issuedAt: try row.decode("receipt_issued_at"), expiresAt: try row.decode("receipt_expires_at"),
                revokedAt: try row.decodeIfPresent("receipt_revoked_at"),
                revocationReason: try row.decodeIfPresent("receipt_revocation_reason"),
                revokedBy: try row.decodeIfPresent("receipt_revoked_by")),
            creditEntryID: try row.decodeIfPresent("credit_entry_id"), catalogVersion: try row.decode("catalog_version"))
    }
}

enum PGSpotCheckRow {
    static let table = "spot_checks"
    static let columns = """
        id, commitment_id, owner, created_at, due_at, state, lease_token, lease_expires_at, lease_count, overdue, \
        answered_lease_token
        """

    static func insert(_ item: SpotCheck, on db: PostgresConnection) throws {
        var answered: String?
        if case .done(let token) = item.state { answered = token }
        try db.query(
            "INSERT INTO spot_checks (\(columns)) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11)",
            [
                .text(item.id), .text(item.commitmentID), .text(item.owner), .int64(item.createdAt), .int64(item.dueAt),
                .text(item.state.name.rawValue), .text(item.leaseToken), optional(item.leaseExpiresAt),
                .int(item.leaseCount), .bool(item.overdue), .text(answered),
            ])
    }

    static func fetch(id: String, on db: PostgresConnection, lock: Bool = false) throws -> SpotCheck? {
        try db.query("SELECT \(columns) FROM spot_checks WHERE id = $1\(lock ? " FOR UPDATE" : "")", [.text(id)])
            .rows.first.map(decode)
    }

    static func decode(_ row: PostgresRow) throws -> SpotCheck {
        let id: String = try row.decode("id")
        return SpotCheck(
            id: id, commitmentID: try row.decode("commitment_id"), owner: try row.decode("owner"),
            createdAt: try row.decode("created_at"), dueAt: try row.decode("due_at"),
            state: try PGQueueTable.state(of: row, table: table, key: id), leaseCount: try row.decode("lease_count"),
            overdue: try row.decode("overdue"))
    }
}

enum PGCreditEntryRow {
    static let columns = """
        id, subject_id_type, subject_id, certificate_type, commitment_id, reason, evidence, recorded_by, recorded_at, \
        removed_at, removed_by, removal_reason
        """

    static func insert(_ e: CreditEntry, on db: PostgresConnection) throws {
        try db.query(
            "INSERT INTO credit_entries (\(columns)) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12)",
            [
                .text(e.id), .text(e.subjectIDType.rawValue), .text(e.subjectID), .text(e.certificateType),
                .text(e.commitmentID), .text(e.reason), .text(e.evidence), .text(e.recordedBy), .int64(e.recordedAt),
                optional(e.removedAt), .text(e.removedBy), .text(e.removalReason),
            ])
    }

    /// Records the removal of an entry (credit repair).
    static func updateRemoval(_ e: CreditEntry, on db: PostgresConnection) throws {
        try db.query(
            "UPDATE credit_entries SET removed_at = $2, removed_by = $3, removal_reason = $4 WHERE id = $1",
            [.text(e.id), optional(e.removedAt), .text(e.removedBy), .text(e.removalReason)])
    }

    /// Entries about `subjectID`, oldest first; only active ones when `activeOnly`.
    static func fetch(subjectID: String, activeOnly: Bool, on db: PostgresConnection) throws -> [CreditEntry] {
        try db.query(
            "SELECT \(columns) FROM credit_entries WHERE subject_id = $1"
                + (activeOnly ? " AND removed_at IS NULL" : "") + " ORDER BY recorded_at, id", [.text(subjectID)]
        ).rows.map(decode)
    }

    static func decode(_ row: PostgresRow) throws -> CreditEntry {
        let id: String = try row.decode("id")
        guard let idType = SubjectIDType(rawValue: try row.decode("subject_id_type")) else {
            throw PostgresStoreError.corrupt(table: "credit_entries", key: id, column: "subject_id_type")
        }
        return CreditEntry(
            id: id, subjectIDType: idType, subjectID: try row.decode("subject_id"),
            certificateType: try row.decode("certificate_type"), commitmentID: try row.decode("commitment_id"),
            reason: try row.decode("reason"), evidence: try row.decodeIfPresent("evidence"),
            recordedBy: try row.decode("recorded_by"), recordedAt: try row.decode("recorded_at"),
            removedAt: try row.decodeIfPresent("removed_at"), removedBy: try row.decodeIfPresent("removed_by"),
            removalReason: try row.decodeIfPresent("removal_reason"))
    }
}
