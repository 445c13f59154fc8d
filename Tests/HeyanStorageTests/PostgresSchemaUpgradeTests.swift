import HeyanCrypto
import HeyanDomain
import HeyanPostgres
import HeyanTestSupport
import Testing

@testable import HeyanPostgresStore

/// PostgreSQL migration 7 (`write-path-cpu`, docs/postgresql.md, "Schema") on a database written by
/// the code of migration 6: nothing is rewritten, every row reads back as written, and the values
/// the table CHECKs refused are still refused (now by domains, with the same SQLSTATE).
@Suite("PostgreSQL schema upgrade 6 → 7")
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
                [PGVerificationRow.insert(answered)] + Self.attestationRows(attestation)
                    + [PGVerificationRow.insert(pending), PGQueueItemRow.insert(item, dueBeyondCalendar: false)]
                    + events.map { AuditQueue.insertStatement($0, at: Self.t0) })
        }
        let tables = ["verifications", "attestations", "queue_items", "spot_checks", "audit_queue"]
        let files = try relationFiles(tables, on: db)

        // The store migrates on open, and integrates the queued entries.
        let store = try PostgresVerificationStore(conninfo: conninfo, hash: Digest.sha256)
        defer { store.close() }
        #expect(try PostgresMigrator.version(of: db) == 7)
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
            try tx.run([PGVerificationRow.insert(later)] + Self.attestationRows(laterAttestation))
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

    private func verification(_ id: String, method: VerificationMethod) -> Verification {
        Verification(
            id: id, certificateType: "marriage-status", method: method, requester: "dept-civil", owner: "dept-police",
            matterCode: "MC-001", purpose: "办理公租房资格审核",
            subject: Subject(idType: .residentID, id: "11010519491231002X", name: "张三"),
            claims: ["maritalStatus": .string("married")], state: .pending, createdAt: Self.t0, dueAt: nil,
            catalogVersion: 3)
    }

    /// A compact JWS of a real attestation's size (~2.7 KB, base64url segments).
    /// The attestation's row and its JWS header's registration, as the writer sends them.
    private static func attestationRows(_ a: Attestation) -> [PostgresStatement] {
        [PGAttestationRow.insert(a)] + (PGAttestationRow.header(of: a).map { [PGAttestationRow.registerHeader($0)] } ?? [])
    }

    private static func jws(seed: UInt8) -> String {
        func segment(_ count: Int) -> String {
            Base64URL.encode((0..<count).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ Int(seed)) })
        }
        return "\(segment(1400)).\(segment(560)).\(segment(64))"
    }

    private func relationFiles(_ tables: [String], on db: PostgresConnection) throws -> [String: Int64] {
        var files: [String: Int64] = [:]
        for table in tables {
            files[table] = try db.query("SELECT pg_relation_filenode($1::regclass)::bigint AS file", [.text(table)])
                .rows.first?.decode("file")
        }
        return files
    }
}
