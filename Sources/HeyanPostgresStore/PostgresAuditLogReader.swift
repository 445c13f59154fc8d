import HeyanDomain
import HeyanPostgres
import HeyanTransparencyLog

/// The audit log read in one REPEATABLE READ snapshot on a connection of its own, for
/// `heyan audit verify` (`AuditChainVerifier` in HeyanStorage checks it as it checks SQLite's).
public final class PostgresAuditLogReader {
    public struct Row {
        public let sequence: Int64
        /// Nil when the stored fields do not decode.
        public let entry: AuditEntry?
        public let salt: [UInt8]?
        public let leaf: [UInt8]?
    }

    public let treeSize: UInt64
    public let treeRoot: MerkleHash
    public let chainLeaves: UInt64
    public let checkpoints: [AuditCheckpoint]
    public let notes: [StoredCheckpointNote]
    private let connection: PostgresConnection
    private var page: [Row] = []
    private var after: Int64 = 0
    private var finished = false

    init(connection: PostgresConnection) throws {
        self.connection = connection
        guard let state = try connection.query("SELECT size, root, chain_leaves FROM audit_tree WHERE id = 0").rows.first,
            let root = MerkleHash(bytes: try state.decode("root"))
        else { throw PostgresStoreError.corrupt(table: "audit_tree", key: "0", column: "root") }
        treeSize = UInt64(try state.decode("size", as: Int64.self))
        treeRoot = root
        chainLeaves = UInt64(try state.decode("chain_leaves", as: Int64.self))
        checkpoints = try connection.query("SELECT size, head, time, jws, tree_root FROM audit_checkpoints ORDER BY size")
            .rows.map(PGCheckpointRow.decode)
        notes = try PGCheckpointNoteRow.all(on: connection)
    }

    /// The next entry in sequence order (read 1,000 at a time), nil after the last.
    public func next() throws -> Row? {
        if page.isEmpty, !finished {
            let rows = try connection.query(
                "SELECT \(PGAuditRow.columns), salt, leaf FROM audit_log WHERE sequence > $1 ORDER BY sequence LIMIT 1000",
                [.int64(after)]
            ).rows
            finished = rows.count < 1000
            page = try rows.reversed().map { row in
                Row(
                    sequence: try row.decode("sequence"), entry: try? PGAuditRow.decode(row),
                    salt: try row.decodeIfPresent("salt"), leaf: try row.decodeIfPresent("leaf"))
            }
            after = page.first?.sequence ?? after
        }
        return page.popLast()
    }
}

extension PostgresVerificationStore {
    /// Runs `body` with the audit log in one read snapshot (a connection of its own).
    public func withAuditLogSnapshot<T>(_ body: (PostgresAuditLogReader) throws -> T) throws -> T {
        let connection = try PostgresConnection(conninfo: conninfo, applicationName: "heyan-audit-verify")
        defer { connection.close() }
        return try connection.transaction(.repeatableRead) { try body(try PostgresAuditLogReader(connection: $0)) }
    }
}
