import CSQLite
import HeyanTestSupport
import Testing

@testable import HeyanStorage

@Suite("Migration 16: an attestation's row names the audit entry that issued it")
struct AttestationIssuingSequenceMigrationTests {
    let directory = TemporaryDirectory()

    @Test("version 15 rows are backfilled from the audit log, and the attestation index is gone")
    func migratesVersion15() throws {
        let path = directory.file("v15.sqlite")
        do {
            let old = try SQLiteStore(path: path, migrator: Migrator(Array(HeyanSchema.migrations.prefix(15))))
            try old.write { db in
                try db.execute(
                    """
                    INSERT INTO verifications (id, certificate_type, method, requester, owner, matter_code, purpose,
                        subject_id_type, subject_id, subject_name, claims, status, outcome, disclosed, created_at, catalog_version)
                    VALUES ('ver_1', 'CIV-MARRIAGE', 'data-sharing', 'housing-fund', 'civil-affairs', 'HF-1', 'p',
                        'resident-id', '11010519491231002X', '张三', '{}', 'answered', 'confirmed', '{}', 1, 1);
                    INSERT INTO attestations (id, verification_id, issuer, requester, certificate_type, subject_id,
                        outcome, jws, issued_at, expires_at)
                    VALUES ('att_1', 'ver_1', 'civil-affairs', 'housing-fund', 'CIV-MARRIAGE', '11010519491231002X',
                        'confirmed', 'x.y.z', 1, 2);
                    """)
                // Entry 1 another attestation's, 2 the issuing one, 3 a later one naming it (a revocation).
                for (sequence, attestation) in [(1, "att_0"), (2, "att_1"), (3, "att_1")] {
                    try db.execute(
                        """
                        INSERT INTO audit_log (sequence, time, action, actor, attestation_id, previous_hash, hash)
                        VALUES (?1, 1, 'verification.submitted', 'housing-fund', ?2, x'00', x'00')
                        """, arguments: [.integer(Int64(sequence)), .text(attestation)])
                }
            }
        }
        let store = try SQLiteStore(path: path)
        #expect(store.schemaVersion >= 16)
        let (issuing, index) = try store.read { db in
            (
                try db.fetchScalar("SELECT issuing_sequence FROM attestations WHERE id = 'att_1'"),
                try db.fetchScalar("SELECT count(*) FROM sqlite_schema WHERE name = 'audit_log_by_attestation'")
            )
        }
        #expect(issuing == .integer(2))
        #expect(index == .integer(0))
        #expect(try store.integrityCheck())
    }
}
