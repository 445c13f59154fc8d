import HeyanTransparencyLog

/// C2SP `tlog-tiles` reads on SQLite (docs/transparency-log.md, "Tiles"): a tile is read from
/// `audit_tree_nodes` by primary key (level 0: one range read of `audit_log.leaf`) in the same read
/// transaction as the tree size it is checked against.
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
        // A level's nodes are not adjacent in creation order (AuditTree.position(of:)): one
        // primary-key lookup per hash, at most 256 per tile.
        return try (0..<UInt64(count)).map { try hash(at: MerkleNodeAddress(level: level, index: first + $0)) }
    }

    func leafData(first: UInt64, count: Int) throws -> [[UInt8]] {
        // Index = sequence − 1.
        let rows = try connection.fetchAll(
            "SELECT sequence - 1, leaf FROM audit_log WHERE sequence > ?1 AND sequence <= ?2 ORDER BY sequence",
            arguments: [.integer(Int64(first)), .integer(Int64(first) + Int64(count))])
        return try run(
            rows.map { (UInt64(truncatingIfNeeded: $0[0].integerValue ?? -1), Self.blob($0[1])) }, level: 0, first: first,
            count: count)
    }

    private static func blob(_ value: SQLiteValue) -> [UInt8]? {
        if case .blob(let bytes) = value { bytes } else { nil }
    }
}
