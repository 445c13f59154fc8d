import HeyanCrypto
import HeyanDomain
import HeyanPostgres
import HeyanTestSupport
import Testing

@testable import HeyanPostgresStore

/// PostgreSQL migration 7 (`write-path-cpu`, docs/postgresql.md, "Schema") on a database written by
/// the code of migration 6: nothing is rewritten, every row reads back as written, and the values
/// the table CHECKs refused are still refused (now by domains, with the same SQLSTATE). Migration 8
/// (attestations without their JWS protected header) on a database written by the code of migration 7:
/// nothing is rewritten, old rows read back whole, new ones are stored by reference and read back
/// byte for byte.
@Suite("PostgreSQL schema upgrades 6 → 7 → 8")
struct PostgresSchemaUpgradeTests {
    static let t0: Millis = 1_767_225_600_000

    @Test(
        "a version-6 database migrates in place and keeps its rows; the refusals stay",
        .enabled(if: PostgresCluster.unavailableReason == nil))
    func upgradeFromSix() throws {
        let conninfo = try PostgresCluster.shared().createSchema(prefix: "upgrade").conninfo
        let db = try PostgresConnection(conninfo: conninfo)
        defer { db.close() }
        _ = try PostgresMigrator(Array(PostgresStoreSchema.migrations.prefix(6))).migrate(db)
        #expect(try PostgresMigrator.version(of: db) == 6)

        // Rows as the version-6 code wrote them: an answered data-sharing verification with its
        // attestation (a JWS the size of a real one, past the 2 KB TOAST threshold), a queued one with
        // its queue item, and audit entries not yet integrated.
        let answered = verification("ver_01UPGRADE0000000000000001", method: .dataSharing)
            .answering(outcome: .confirmed, disclosed: [:], note: nil, at: Self.t0).attested(
                by: "att_01UPGRADE0000000000000001")
        let attestation = Attestation(
            id: "att_01UPGRADE0000000000000001", verificationID: answered.id, issuer: answered.owner,
            requester: answered.requester, certificateType: answered.certificateType, subjectID: answered.subject.id,
            outcome: .confirmed, jws: Self.jws(seed: 1), issuedAt: Self.t0, expiresAt: Self.t0 + 86_400_000)
        let pending = verification("ver_01UPGRADE0000000000000002", method: .departmentVerification)
        let item = QueueItem(
            id: "qi_01UPGRADE0000000000000002", kind: .verification, verificationID: pending.id, owner: pending.owner,
            createdAt: Self.t0, dueAt: Self.t0 + 3_600_000)
        let events = [answered, pending].map { v in
            AuditEvent(
                action: .verificationSubmitted, actor: v.requester, requester: v.requester, owner: v.owner,
                certificateType: v.certificateType, subjectID: v.subject.id, verificationID: v.id)
        }
        try db.transaction { tx in
            try tx.run(
                [PGVerificationRow.insert(answered)] + Self.rowsBeforeEight(attestation)
                    + [PGVerificationRow.insert(pending), PGQueueItemRow.insert(item, dueBeyondCalendar: false)]
                    + events.map { AuditQueue.insertStatement($0, at: Self.t0) })
        }
        let tables = ["verifications", "attestations", "queue_items", "spot_checks", "audit_queue"]
        let files = try relationFiles(tables, on: db)

        // The store migrates on open, and integrates the queued entries.
        let store = try PostgresVerificationStore(conninfo: conninfo, hash: Digest.sha256)
        defer { store.close() }
        #expect(try PostgresMigrator.version(of: db) == Self.latest)
        #expect(try relationFiles(tables, on: db) == files, "no table is rewritten")
        #expect(try store.verification(id: answered.id) == answered)
        #expect(try store.verification(id: pending.id) == pending)
        #expect(try store.attestation(id: attestation.id) == attestation)
        #expect(try store.queueItem(id: item.id) == item)
        #expect(try store.awaitAuditIntegration(timeout: 10))
        let entries = try store.auditEntries(matching: AuditFilter(), after: 0, limit: 10)
        #expect(entries.map(\.event.verificationID) == [answered.id, pending.id])

        // New attestations' JWS values go out of line without a compression attempt (STORAGE EXTERNAL),
        // and read back whole.
        let storage = try db.query(
            """
            SELECT attstorage::text AS storage FROM pg_attribute
            WHERE attrelid = 'attestations'::regclass AND attname = 'jws'
            """
        ).rows.first?.decode("storage", as: String.self)
        #expect(storage == "e")
        let later = verification("ver_01UPGRADE0000000000000003", method: .dataSharing)
            .answering(outcome: .denied, disclosed: [:], note: nil, at: Self.t0).attested(
                by: "att_01UPGRADE0000000000000003")
        let laterAttestation = Attestation(
            id: "att_01UPGRADE0000000000000003", verificationID: later.id, issuer: later.owner,
            requester: later.requester,
            certificateType: later.certificateType, subjectID: later.subject.id, outcome: .denied,
            jws: Self.jws(seed: 3),
            issuedAt: Self.t0, expiresAt: Self.t0 + 86_400_000)
        try db.transaction { tx in
            let header = String(try #require(laterAttestation.jwsSplitAtHeader).header)
            try tx.run([
                PGVerificationRow.insert(later), PGAttestationRow.registerHeader(header),
                PGAttestationRow.insert(laterAttestation, byReference: nil),
            ])
        }
        #expect(try store.attestation(id: laterAttestation.id) == laterAttestation)

        // Values the table CHECKs refused are refused by the domains, with the same SQLSTATE.
        let refused = [
            "UPDATE verifications SET status = 'lost' WHERE id = '\(pending.id)'",
            "UPDATE verifications SET outcome = 'maybe' WHERE id = '\(answered.id)'",
            "UPDATE attestations SET outcome = 'maybe' WHERE id = '\(attestation.id)'",
            "UPDATE queue_items SET state = 'gone' WHERE id = '\(item.id)'",
            "UPDATE queue_items SET kind = 'other' WHERE id = '\(item.id)'",
            "INSERT INTO audit_queue (time, action, actor, salt) VALUES (1, 'x', 'y', '\\x00')",
        ]
        for sql in refused {
            let error = #expect(throws: PostgresError.self, "\(sql)") { try db.query(sql) }
            #expect(error?.sqlState == "23514", "\(sql)")
        }
        #expect(try store.verification(id: pending.id)?.status == .pending)
    }

    @Test(
        "a version-7 database with attestations migrates to 8 in place; old and new rows read back the same JWS",
        .enabled(if: PostgresCluster.unavailableReason == nil))
    func upgradeFromSeven() throws {
        let conninfo = try PostgresCluster.shared().createSchema(prefix: "upgrade8").conninfo
        let db = try PostgresConnection(conninfo: conninfo)
        defer { db.close() }
        _ = try PostgresMigrator(Array(PostgresStoreSchema.migrations.prefix(7))).migrate(db)
        #expect(try PostgresMigrator.version(of: db) == 7)

        // As the version-7 writer stored them: the whole JWS in the row, its header in jws_headers.
        let old = (0..<3).map { n in
            attested("ver_01UPGRADE8000000000000000\(n)", "att_01UPGRADE8000000000000000\(n)", jws: Self.jws(seed: 1, n))
        }
        try db.transaction { tx in
            var statements: [PostgresStatement] = []
            for (verification, attestation) in old {
                statements += [PGVerificationRow.insert(verification)] + Self.rowsBeforeEight(attestation)
            }
            try tx.run(statements)
        }
        let files = try relationFiles(["attestations", "jws_headers"], on: db)

        let store = try PostgresVerificationStore(conninfo: conninfo, hash: Digest.sha256)
        defer { store.close() }
        #expect(try PostgresMigrator.version(of: db) == PostgresStoreSchema.migrations.count)  // 8 and those after it
        #expect(try relationFiles(["attestations", "jws_headers"], on: db) == files, "no table is rewritten")
        for (_, attestation) in old { #expect(try store.attestation(id: attestation.id) == attestation) }
        #expect(try db.query("SELECT count(*) AS n FROM attestations WHERE header_id IS NOT NULL").rows.first?
            .decode("n", as: Int64.self) == 0)

        // New attestations under the same header, through the store: the first (its header not yet known
        // committed on this node) whole, the later ones by reference, ~0.8 KB in the row.
        let new = (3..<6).map { n in
            attested("ver_01UPGRADE8000000000000000\(n)", "att_01UPGRADE8000000000000000\(n)", jws: Self.jws(seed: 1, n))
        }
        for (verification, attestation) in new {
            let submitted = NewVerification(
                verification: verification, attestation: attestation, queueItem: nil, idempotency: nil, audit: [])
            #expect(try wait { store.submit(submitted, completion: $0) } == .stored)
        }
        let stored = try db.query(
            "SELECT id, header_id, length(jws) AS length FROM attestations WHERE id = ANY($1::text[]) ORDER BY id",
            [.text("{\(new.map(\.1.id).joined(separator: ","))}")]
        ).rows.map { row in
            (try row.decode("id", as: String.self), try row.decodeIfPresent("header_id", as: Int64.self),
                try row.decode("length", as: Int64.self))
        }
        let rest = Int64(Self.jws(seed: 1, 0).split(separator: ".", maxSplits: 1)[1].utf8.count)
        #expect(stored.map(\.1) == [nil, 1, 1])
        #expect(stored.map(\.2) == [Int64(Self.jws(seed: 1, 3).utf8.count), rest, rest])
        #expect(try db.query("SELECT count(*) AS n FROM jws_headers").rows.first?.decode("n", as: Int64.self) == 1)
        for (_, attestation) in old + new { #expect(try store.attestation(id: attestation.id) == attestation) }

        // Read back under its row lock (revocation), and erased, a row stored by reference.
        let byReference = new[2].1
        let revoked = try wait {
            store.revoke(attestationID: byReference.id, actor: byReference.issuer, reason: "test", now: Self.t0 + 1, completion: $0)
        }
        guard case .revoked(let after) = revoked else { throw TestFailure("not revoked: \(revoked)") }
        #expect(after.jws == byReference.jws && after.revokedAt == Self.t0 + 1)
        let request = ErasureRequest(accessBefore: Self.t0 + 1, securityBefore: 0, now: Self.t0 + 2)
        let counts = try wait { store.erasePersonalData(request, completion: $0) }
        #expect(counts.attestations == 6)
        #expect(try store.attestation(id: byReference.id)?.jws == "")
        #expect(try store.attestation(id: old[0].1.id)?.jws == "")

        // A row naming a header that is not there is refused, never rebuilt without it.
        try db.query("UPDATE attestations SET jws = 'e30.c2ln', header_id = 99 WHERE id = $1", [.text(byReference.id)])
        #expect(throws: PostgresStoreError.self) { try store.attestation(id: byReference.id) }
    }

    /// An attestation as the code of migrations 1–7 wrote it: the row with the whole JWS (no
    /// `header_id`), then its JWS header's registration.
    private static func rowsBeforeEight(_ a: Attestation) -> [PostgresStatement] {
        let row = PostgresStatement(
            "INSERT INTO attestations (\(PGAttestationRow.columns)) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13)",
            [
                .text(a.id), .text(a.verificationID), .text(a.issuer), .text(a.requester), .text(a.certificateType),
                .text(a.subjectID), .text(a.outcome.rawValue), .text(a.jws), .int64(a.issuedAt), .int64(a.expiresAt),
                optional(a.revokedAt), .text(a.revocationReason), .text(a.revokedBy),
            ])
        return [row] + (a.jwsSplitAtHeader.map { [PGAttestationRow.registerHeader(String($0.header))] } ?? [])
    }

    private static var latest: Int { PostgresStoreSchema.migrations.map(\.version).max() ?? 0 }

    private func attested(_ id: String, _ attestationID: String, jws: String) -> (Verification, Attestation) {
        let answered = verification(id, method: .dataSharing)
            .answering(outcome: .confirmed, disclosed: [:], note: nil, at: Self.t0).attested(by: attestationID)
        let attestation = Attestation(
            id: attestationID, verificationID: answered.id, issuer: answered.owner, requester: answered.requester,
            certificateType: answered.certificateType, subjectID: answered.subject.id, outcome: .confirmed, jws: jws,
            issuedAt: Self.t0, expiresAt: Self.t0 + 86_400_000)
        return (answered, attestation)
    }

    private func verification(_ id: String, method: VerificationMethod) -> Verification {
        Verification(
            id: id, certificateType: "marriage-status", method: method, requester: "dept-civil", owner: "dept-police",
            matterCode: "MC-001", purpose: "办理公租房资格审核",
            subject: Subject(idType: .residentID, id: "11010519491231002X", name: "张三"),
            claims: ["maritalStatus": .string("married")], state: .pending, createdAt: Self.t0, dueAt: nil,
            catalogVersion: 3)
    }

    /// A compact JWS of a real attestation's size (~2.7 KB, base64url segments): the header from
    /// `seed`, payload and signature from `seed` and `n`.
    private static func jws(seed: UInt8, _ n: Int = 0) -> String {
        func segment(_ count: Int, _ seed: Int) -> String {
            Base64URL.encode((0..<count).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ seed) })
        }
        return "\(segment(1400, Int(seed))).\(segment(560, Int(seed) + 7 * n)).\(segment(64, Int(seed) + 11 * n))"
    }

    private func relationFiles(_ tables: [String], on db: PostgresConnection) throws -> [String: Int64] {
        var files: [String: Int64] = [:]
        for table in tables {
            // A missing row or a NULL file node fails here, so "no table is rewritten" cannot pass on nils.
            let row = try #require(
                try db.query("SELECT pg_relation_filenode($1::regclass)::bigint AS file", [.text(table)]).rows.first)
            files[table] = try row.decode("file", as: Int64.self)
        }
        return files
    }
}
