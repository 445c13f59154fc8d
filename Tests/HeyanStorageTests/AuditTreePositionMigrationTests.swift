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
