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
        var hashes: [MerkleHash] = []
        for row in rows {
            let address = MerkleNodeAddress(level: level, index: first + UInt64(hashes.count))
            guard try row.decode("idx", as: Int64.self) == Int64(address.index), let hash = MerkleHash(bytes: try row.decode("hash"))
            else { throw MerkleError.missingNode(address) }
            hashes.append(hash)
        }
        guard hashes.count == count else {
            throw MerkleError.missingNode(MerkleNodeAddress(level: level, index: first + UInt64(hashes.count)))
        }
        return hashes
    }

    func leafData(first: UInt64, count: Int) throws -> [[UInt8]] {
        // Index = sequence − 1.
        let rows = try connection.query(
            "SELECT sequence, leaf FROM audit_log WHERE sequence > $1 AND sequence <= $2 ORDER BY sequence",
            [.int64(Int64(first)), .int64(Int64(first) + Int64(count))]
        ).rows
        var data: [[UInt8]] = []
        for row in rows {
            let address = MerkleNodeAddress(level: 0, index: first + UInt64(data.count))
            guard try row.decode("sequence", as: Int64.self) == Int64(address.index) + 1 else { throw MerkleError.missingNode(address) }
            data.append(try row.decode("leaf"))
        }
        guard data.count == count else { throw MerkleError.missingNode(MerkleNodeAddress(level: 0, index: first + UInt64(data.count))) }
        return data
    }
}
