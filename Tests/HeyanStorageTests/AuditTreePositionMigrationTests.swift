import CSQLite
import HeyanCrypto
import HeyanTestSupport
import HeyanTransparencyLog
import Testing

@testable import HeyanStorage

@Suite("Migration 15: audit tree nodes keyed in creation order")
struct AuditTreePositionMigrationTests {
    let directory = TemporaryDirectory()

    /// The nodes of level ≥ 1 of a tree of `size` leaves with arbitrary leaf hashes, as appends
    /// complete them.
    private func nodes(size: Int) -> [MerkleNode] {
        var edge = MerkleRightEdge()
        var all: [MerkleNode] = []
        for leaf in 0..<size {
            all += edge.append(leafHash: .leaf(Digest.sha256(Array("leaf \(leaf)".utf8)))).filter { $0.address.level > 0 }
        }
        return all
    }

    @Test("positions grow in the order appends complete the nodes, one per node")
    func positionsFollowCreationOrder() {
        let positions = nodes(size: 1_000).compactMap { AuditTree.position(of: $0.address) }
        #expect(positions.count == 1_000 - 1_000.nonzeroBitCount)
        #expect(positions == positions.sorted())
        #expect(Set(positions).count == positions.count)
        #expect(AuditTree.position(of: MerkleNodeAddress(level: 1, index: 0)) == Int64((1 << 6) | 1))  // completed by leaf 1
        #expect(AuditTree.position(of: MerkleNodeAddress(level: 3, index: 2)) == Int64((23 << 6) | 3))  // by leaf 3·8 − 1
        // Past leaf 2^57 − 1 a key would wrap into another node's: no position, a missing node.
        #expect(AuditTree.position(of: MerkleNodeAddress(level: 1, index: (1 << 56) - 1)) == Int64(((1 << 57) - 1) << 6 | 1))
        #expect(AuditTree.position(of: MerkleNodeAddress(level: 1, index: 1 << 56)) == nil)
        #expect(AuditTree.position(of: MerkleNodeAddress(level: 50, index: 1 << 20)) == nil)
    }

    @Test("version 14's (level, idx) rows are re-keyed by the SQL exactly as position(of:) keys new ones")
    func migratesVersion14() throws {
        let path = directory.file("v14.sqlite")
        let tree = nodes(size: 777)
        do {
            let old = try SQLiteStore(path: path, migrator: Migrator(Array(HeyanSchema.migrations.prefix(14))))
            try old.write { db in
                for node in tree {
                    try db.execute(
                        "INSERT INTO audit_tree_nodes (level, idx, hash) VALUES (?1, ?2, ?3)",
                        arguments: [
                            .integer(Int64(node.address.level)), .integer(Int64(node.address.index)), .blob(node.hash.bytes),
                        ])
                }
            }
        }
        let store = try SQLiteStore(path: path)
        #expect(store.schemaVersion >= 15)
        let (count, stored, tile) = try store.read { db throws -> (SQLiteValue?, [MerkleHash], [MerkleHash]) in
            let reader = SQLiteMerkleNodeReader(connection: db)
            return (
                try db.fetchScalar("SELECT count(*) FROM audit_tree_nodes"),
                try tree.map { try reader.hash(at: $0.address) },
                // A tile of tree level 8 (tlog-tiles level 1) reads by key too: 777 leaves hold 3 such nodes.
                try reader.hashes(level: 8, first: 0, count: 3)
            )
        }
        #expect(count == .integer(Int64(tree.count)))
        #expect(stored == tree.map(\.hash))
        #expect(tile == tree.filter { $0.address.level == 8 }.map(\.hash))
        #expect(try store.integrityCheck())
    }
}

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
