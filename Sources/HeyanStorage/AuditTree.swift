import CSQLite
import HeyanCrypto
import HeyanDomain
import HeyanTransparencyLog

/// The audit log's Merkle tree as SQLite stores it (docs/transparency-log.md, "Storage").
///
/// - The tree index of entry `sequence` is `sequence − 1`: the group-commit writer integrates
///   every entry in the transaction that writes it, so the tree has exactly the log's entries.
/// - Level 0 is not stored twice: a leaf hash is `SHA-256(0x00 ‖ audit_log.leaf)`, read from the
///   entry's row. `audit_tree_nodes` holds the complete nodes of level ≥ 1 (about one per entry).
/// - `audit_tree` (one row) holds the size and root as of the last commit, and how many leading
///   leaves were migrated from the hash chain (their `leaf` hashes the chain hash, not the entry).
/// - `audit_checkpoint_notes` holds the signed C2SP checkpoints, one per size: the primary key is
///   what keeps the log from ever signing two roots for one size.
enum AuditTreeSchema {
    static let migrationName = "audit-merkle-tree"

    /// Migration 7: the columns and tables above, and every existing entry made a leaf with
    /// `d = SHA-256(salt ‖ chain hash)` and a fresh salt, in the migration's one transaction (a
    /// crash leaves version 6 and nothing of this).
    static var migration: Migration {
        Migration(version: 7, name: migrationName) { db in
            try db.execute(
                """
                ALTER TABLE audit_log ADD COLUMN salt BLOB;
                ALTER TABLE audit_log ADD COLUMN leaf BLOB;
                CREATE INDEX audit_log_by_attestation ON audit_log (attestation_id) WHERE attestation_id IS NOT NULL;
                CREATE TABLE audit_tree_nodes (
                    level INTEGER NOT NULL CHECK (level BETWEEN 1 AND 63),
                    idx   INTEGER NOT NULL CHECK (idx >= 0),
                    hash  BLOB NOT NULL CHECK (length(hash) = 32),
                    PRIMARY KEY (level, idx)
                ) STRICT, WITHOUT ROWID;
                CREATE TABLE audit_tree (
                    id           INTEGER PRIMARY KEY CHECK (id = 0),
                    size         INTEGER NOT NULL CHECK (size >= 0),
                    root         BLOB NOT NULL CHECK (length(root) = 32),
                    chain_leaves INTEGER NOT NULL CHECK (chain_leaves >= 0)
                ) STRICT;
                CREATE TABLE audit_checkpoint_notes (
                    size       INTEGER PRIMARY KEY CHECK (size > 0),
                    root       BLOB NOT NULL CHECK (length(root) = 32),
                    note       TEXT NOT NULL,
                    created_at INTEGER NOT NULL
                ) STRICT;
                ALTER TABLE audit_checkpoints ADD COLUMN tree_root BLOB;
                DROP TRIGGER audit_log_append_only_update;
                """)
            let random = try RandomSource()
            var edge = MerkleRightEdge()
            let select = try db.prepare("SELECT sequence, hash FROM audit_log ORDER BY sequence")
            let update = try db.prepare("UPDATE audit_log SET salt = ?1, leaf = ?2 WHERE sequence = ?3")
            while try select.step() {
                let sequence = select.int64(at: 0)
                guard sequence == Int64(edge.size) + 1, let chainHash = select.blob(at: 1) else {
                    throw StoredRowError.null(table: "audit_log", key: String(sequence), column: "hash")
                }
                let salt = try random.bytes(32)
                let d = Digest.sha256(salt + chainHash)
                try update.reset()
                try update.bind(salt, at: 1)
                try update.bind(d, at: 2)
                try update.bind(sequence, at: 3)
                try update.run()
                // This migration's table, keyed (level, idx); migration 15 re-keys it by position.
                for node in edge.append(leafHash: .leaf(d)) where node.address.level > 0 {
                    try db.execute(
                        "INSERT INTO audit_tree_nodes (level, idx, hash) VALUES (?1, ?2, ?3)",
                        arguments: [
                            .integer(Int64(node.address.level)), .integer(Int64(node.address.index)),
                            .blob(node.hash.bytes),
                        ])
                }
            }
            try db.execute(
                "INSERT INTO audit_tree (id, size, root, chain_leaves) VALUES (0, ?1, ?2, ?1)",
                arguments: [.integer(Int64(edge.size)), .blob(edge.root.bytes)])
            try db.execute(
                """
                CREATE TRIGGER audit_log_append_only_update BEFORE UPDATE ON audit_log
                    BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END;
                """)
        }
    }
}

extension AuditTreeSchema {
    /// Migration 8: the witnesses' cosignatures of stored checkpoint notes, one line per witness
    /// and size (docs/transparency-log.md, "Witnesses").
    static var cosignatureMigration: Migration {
        Migration(version: 8, name: "audit-checkpoint-cosignatures") { db in
            try db.execute(
                """
                CREATE TABLE audit_checkpoint_cosignatures (
                    size        INTEGER NOT NULL REFERENCES audit_checkpoint_notes (size),
                    witness     TEXT NOT NULL,
                    line        TEXT NOT NULL,
                    received_at INTEGER NOT NULL,
                    PRIMARY KEY (size, witness)
                ) STRICT, WITHOUT ROWID;
                """)
        }
    }
}

extension AuditTreeSchema {
    /// Migration 9: the append-only trigger lets exactly one kind of UPDATE through — the erasure
    /// after retention (docs/audit.md, "Retention"): salt and subject ID set to NULL, detail
    /// reduced, every other column (sequence, time, action, actor, departments, ids, leaf, hashes)
    /// unchanged. Any other UPDATE still aborts.
    static var retentionMigration: Migration {
        Migration(version: 9, name: "audit-retention-erasure") { db in
            try db.execute(
                """
                DROP TRIGGER audit_log_append_only_update;
                CREATE TRIGGER audit_log_append_only_update BEFORE UPDATE ON audit_log
                    WHEN NOT (OLD.salt IS NOT NULL AND NEW.salt IS NULL AND NEW.subject_id IS NULL
                        AND NEW.sequence = OLD.sequence AND NEW.time = OLD.time AND NEW.action = OLD.action
                        AND NEW.actor = OLD.actor AND NEW.requester IS OLD.requester AND NEW.owner IS OLD.owner
                        AND NEW.certificate_type IS OLD.certificate_type AND NEW.verification_id IS OLD.verification_id
                        AND NEW.attestation_id IS OLD.attestation_id AND NEW.queue_item_id IS OLD.queue_item_id
                        AND NEW.leaf = OLD.leaf AND NEW.previous_hash = OLD.previous_hash AND NEW.hash = OLD.hash)
                    BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END;
                CREATE INDEX audit_log_unerased_by_time ON audit_log (time) WHERE salt IS NOT NULL;
                """)
        }
    }
}

extension AuditTreeSchema {
    /// Migration 10: the clerk (经办人) of the actor department, when known (docs/console.md,
    /// "Clerks"); NULL in every entry written before, which hash as they always did. The erasure
    /// after retention keeps it (it names the department's own officer, not the subject), and the
    /// append-only trigger now holds it unchanged too.
    static var clerkMigration: Migration {
        Migration(version: 10, name: "audit-clerk") { db in
            try db.execute(
                """
                ALTER TABLE audit_log ADD COLUMN clerk TEXT;
                DROP TRIGGER audit_log_append_only_update;
                CREATE TRIGGER audit_log_append_only_update BEFORE UPDATE ON audit_log
                    WHEN NOT (OLD.salt IS NOT NULL AND NEW.salt IS NULL AND NEW.subject_id IS NULL
                        AND NEW.sequence = OLD.sequence AND NEW.time = OLD.time AND NEW.action = OLD.action
                        AND NEW.actor = OLD.actor AND NEW.requester IS OLD.requester AND NEW.owner IS OLD.owner
                        AND NEW.certificate_type IS OLD.certificate_type AND NEW.verification_id IS OLD.verification_id
                        AND NEW.attestation_id IS OLD.attestation_id AND NEW.queue_item_id IS OLD.queue_item_id
                        AND NEW.clerk IS OLD.clerk
                        AND NEW.leaf = OLD.leaf AND NEW.previous_hash = OLD.previous_hash AND NEW.hash = OLD.hash)
                    BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END;
                """)
        }
    }
}

extension AuditTreeSchema {
    /// Migration 15: `audit_tree_nodes` keyed by ``AuditTree/position(of:)`` — the order in which
    /// appends complete the nodes — instead of `(level, idx)`. Keyed by level, every commit rewrote
    /// the last page of each level's run: ~8.9 of the ~48 WAL pages of a 22-verification commit
    /// (`make bench`), copied again by the checkpointer. In creation order a commit's nodes go to
    /// the table's last page (docs/storage.md, "Migration 15").
    static var nodesByPositionMigration: Migration {
        Migration(version: 15, name: "audit-tree-nodes-by-position") { db in
            try db.execute(
                """
                CREATE TABLE audit_tree_nodes_by_position (
                    position INTEGER PRIMARY KEY CHECK (position >= 64 AND (position & 63) BETWEEN 1 AND 63),
                    hash     BLOB NOT NULL CHECK (length(hash) = 32)
                ) STRICT;
                INSERT INTO audit_tree_nodes_by_position (position, hash)
                    SELECT ((((idx + 1) << level) - 1) << 6) | level, hash FROM audit_tree_nodes ORDER BY 1;
                DROP TABLE audit_tree_nodes;
                ALTER TABLE audit_tree_nodes_by_position RENAME TO audit_tree_nodes;
                """)
        }
    }
}

/// Reads and writes the stored tree on one connection.
enum AuditTree {
    static let insertNode = StatementKey("INSERT INTO audit_tree_nodes (position, hash) VALUES (?1, ?2)")
    static let updateState = StatementKey("UPDATE audit_tree SET size = ?1, root = ?2 WHERE id = 0")

    /// Where a complete node of level ≥ 1 is stored: the index of the leaf whose append completed
    /// it, times 64, plus its level. An append completes its nodes bottom-up, so positions grow in
    /// the order nodes are written and a batch's nodes share the table's last page. Node
    /// (level, idx) is completed by leaf `(idx + 1) · 2^level − 1`. `nil` for a node past leaf
    /// 2^57 − 1 (no stored tree reaches it), whose key would overflow into another node's.
    static func position(of address: MerkleNodeAddress) -> Int64? {
        guard address.level > 0, address.level < 57, address.index < UInt64(1) << UInt64(57 - address.level) else {
            return nil
        }
        return Int64((((address.index + 1) << UInt64(address.level)) - 1) << 6 | UInt64(address.level))
    }

    /// Writes the nodes of level ≥ 1 that an append completed (level 0 lives in `audit_log.leaf`).
    static func writeNodes(_ nodes: [MerkleNode], on connection: SQLiteConnection) throws {
        for node in nodes where node.address.level > 0 {
            guard let position = position(of: node.address) else { throw MerkleError.missingNode(node.address) }
            let statement = try connection.cachedStatement(insertNode)
            try statement.bind(position, at: 1)
            try statement.bind(node.hash.bytes, at: 2)
            try statement.run()
        }
    }

    /// The stored size, root and number of chain-migrated leaves (as of the last commit).
    static func state(on connection: SQLiteConnection) throws -> (size: UInt64, root: MerkleHash, chainLeaves: UInt64) {
        let statement = try connection.cachedStatement("SELECT size, root, chain_leaves FROM audit_tree WHERE id = 0")
        defer { try? statement.reset() }
        guard try statement.step() else {
            throw StoredRowError.null(table: "audit_tree", key: "0", column: "size")
        }
        guard let root = statement.blob(at: 1).flatMap(MerkleHash.init(bytes:)) else {
            throw StoredRowError.null(table: "audit_tree", key: "0", column: "root")
        }
        return (UInt64(statement.int64(at: 0)), root, UInt64(statement.int64(at: 2)))
    }

    static func saveState(size: UInt64, root: MerkleHash, on connection: SQLiteConnection) throws {
        let statement = try connection.cachedStatement(updateState)
        try statement.bind(Int64(size), at: 1)
        try statement.bind(root.bytes, at: 2)
        try statement.run()
    }

    /// The right edge of the stored tree, rebuilt from its peaks.
    static func loadEdge(on connection: SQLiteConnection) throws -> MerkleRightEdge {
        try MerkleRightEdge(size: try state(on: connection).size, reader: SQLiteMerkleNodeReader(connection: connection))
    }
}

/// Complete nodes of the stored tree, read on one connection (inside the caller's transaction):
/// level 0 from `audit_log.leaf`, the rest from `audit_tree_nodes`.
struct SQLiteMerkleNodeReader: MerkleNodeReader {
    let connection: SQLiteConnection

    /// Found by identity, not by hashing their text: a tile of level ≥ 1 is up to 256 node reads.
    private static let selectLeaf = StatementKey("SELECT leaf FROM audit_log WHERE sequence = ?1")
    private static let selectNode = StatementKey("SELECT hash FROM audit_tree_nodes WHERE position = ?1")

    func hash(at address: MerkleNodeAddress) throws -> MerkleHash {
        if address.level == 0 {
            let statement = try connection.cachedStatement(Self.selectLeaf)
            defer { try? statement.reset() }
            try statement.bind(Int64(address.index) + 1, at: 1)
            guard try statement.step(), let d = statement.blob(at: 0) else { throw MerkleError.missingNode(address) }
            return .leaf(d)
        }
        guard let position = AuditTree.position(of: address) else { throw MerkleError.missingNode(address) }
        let statement = try connection.cachedStatement(Self.selectNode)
        defer { try? statement.reset() }
        try statement.bind(position, at: 1)
        guard try statement.step(), let bytes = statement.blob(at: 0), let hash = MerkleHash(bytes: bytes) else {
            throw MerkleError.missingNode(address)
        }
        return hash
    }
}
