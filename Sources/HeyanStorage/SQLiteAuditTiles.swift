import HeyanTransparencyLog

/// C2SP `tlog-tiles` reads on SQLite (docs/transparency-log.md, "Tiles"): a tile is one range read
/// of `audit_tree_nodes` (level 0: of `audit_log.leaf`) in the same read transaction as the tree
/// size it is checked against.
extension SQLiteVerificationStore {
    public func tile(_ address: TileAddress) throws -> [UInt8]? {
        try database.read { db in
            guard address.exists(inTreeOf: try AuditTree.state(on: db).size) else { return nil }
            return try address.content(from: SQLiteMerkleNodeReader(connection: db))
        }
    }
}

extension SQLiteMerkleNodeReader: TileReader {
    func hashes(level: Int, first: UInt64, count: Int) throws -> [MerkleHash] {
        if level == 0 { return try leafData(first: first, count: count).map(MerkleHash.leaf) }
        let statement = try connection.cachedStatement(
            "SELECT idx, hash FROM audit_tree_nodes WHERE level = ?1 AND idx >= ?2 AND idx < ?3 ORDER BY idx")
        defer { try? statement.reset() }
        try statement.bind(Int64(level), at: 1)
        try statement.bind(Int64(first), at: 2)
        try statement.bind(Int64(first) + Int64(count), at: 3)
        var hashes: [MerkleHash] = []
        while try statement.step() {
            let address = MerkleNodeAddress(level: level, index: first + UInt64(hashes.count))
            guard statement.int64(at: 0) == Int64(address.index), let bytes = statement.blob(at: 1),
                let hash = MerkleHash(bytes: bytes)
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
        let statement = try connection.cachedStatement(
            "SELECT sequence, leaf FROM audit_log WHERE sequence > ?1 AND sequence <= ?2 ORDER BY sequence")
        defer { try? statement.reset() }
        try statement.bind(Int64(first), at: 1)
        try statement.bind(Int64(first) + Int64(count), at: 2)
        var data: [[UInt8]] = []
        while try statement.step() {
            let address = MerkleNodeAddress(level: 0, index: first + UInt64(data.count))
            guard statement.int64(at: 0) == Int64(address.index) + 1, let d = statement.blob(at: 1) else {
                throw MerkleError.missingNode(address)
            }
            data.append(d)
        }
        guard data.count == count else { throw MerkleError.missingNode(MerkleNodeAddress(level: 0, index: first + UInt64(data.count))) }
        return data
    }
}
