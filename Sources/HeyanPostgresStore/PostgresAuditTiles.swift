import HeyanPostgres
import HeyanTransparencyLog

/// C2SP `tlog-tiles` reads on PostgreSQL (docs/transparency-log.md, "Tiles"): a tile is one range
/// query of `audit_tree_nodes` (level 0: of `audit_log.leaf`) in one snapshot with the tree size it
/// is checked against.
extension PostgresVerificationStore {
    public func tile(_ address: TileAddress) throws -> [UInt8]? {
        try read(snapshot: true) { db in
            guard let row = try db.query("SELECT size FROM audit_tree WHERE id = 0").rows.first else {
                throw PostgresStoreError.corrupt(table: "audit_tree", key: "0", column: "size")
            }
            guard address.exists(inTreeOf: UInt64(try row.decode("size", as: Int64.self))) else { return nil }
            return try address.content(from: PostgresMerkleNodeReader(connection: db))
        }
    }
}

extension PostgresMerkleNodeReader: TileReader {
    func hashes(level: Int, first: UInt64, count: Int) throws -> [MerkleHash] {
        if level == 0 { return try leafData(first: first, count: count).map(MerkleHash.leaf) }
        let rows = try connection.query(
            "SELECT idx, hash FROM audit_tree_nodes WHERE level = $1 AND idx >= $2 AND idx < $3 ORDER BY idx",
            [.int(level), .int64(Int64(first)), .int64(Int64(first) + Int64(count))]
        ).rows
        return try run(
            try rows.map { (UInt64(try $0.decode("idx", as: Int64.self)), MerkleHash(bytes: try $0.decode("hash"))) },
            level: level, first: first, count: count)
    }

    func leafData(first: UInt64, count: Int) throws -> [[UInt8]] {
        // Index = sequence − 1.
        let rows = try connection.query(
            "SELECT sequence - 1 AS idx, leaf FROM audit_log WHERE sequence > $1 AND sequence <= $2 ORDER BY sequence",
            [.int64(Int64(first)), .int64(Int64(first) + Int64(count))]
        ).rows
        return try run(
            try rows.map { (UInt64(try $0.decode("idx", as: Int64.self)), try $0.decodeIfPresent("leaf", as: [UInt8].self)) },
            level: 0, first: first, count: count)
    }
}
