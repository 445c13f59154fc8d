import CSQLite
import HeyanCrypto
import HeyanDomain
import HeyanTransparencyLog

/// The head of the audit log as the writer keeps it in memory: the last entry's sequence and
/// chain hash (0 and ``AuditEntry/genesisHash`` for an empty log), and the right edge of the
/// Merkle tree over the same entries (tree size = `sequence`: entry `s` is leaf `s − 1`).
/// Snapshotting and restoring a head restores both, so a rolled-back job leaves no leaf.
struct AuditHead: Sendable, Equatable {
    var sequence: Int64
    var hash: [UInt8]
    var tree: MerkleRightEdge
}

/// Appends entries to `audit_log` on the writer connection, keeping the chain's head in memory so
/// an append costs one hash and one INSERT, never a read.
///
/// The head is loaded when the store opens. The ``GroupCommitWriter`` snapshots it before each
/// job and puts the snapshot back when the job's savepoint rolls back, and reloads it from the
/// database when a whole batch fails, so the in-memory head always equals the last committed (or
/// still-pending, same-transaction) entry. Used only by the writer thread.
final class AuditChain {
    /// The last appended entry; includes entries of the open transaction.
    var head: AuditHead
    private let hash: @Sendable ([UInt8]) -> [UInt8]

    /// The department, certificate-type and action lookups, written behind the head.
    private var facets: AuditFacetIndexer

    init(connection: SQLiteConnection, hash: @escaping @Sendable ([UInt8]) -> [UInt8], facetChunk: Int) throws {
        self.hash = hash
        self.head = try AuditChain.loadHead(connection)
        self.savedTreeSize = head.tree.size
        self.facets = try AuditFacetIndexer(chunk: facetChunk, connection: connection)
    }

    /// Reads the head from the database (after a failed COMMIT rolled back the entries the
    /// in-memory head already counted).
    func reload(_ connection: SQLiteConnection) throws {
        head = try AuditChain.loadHead(connection)
        savedTreeSize = head.tree.size
        try facets.reload(connection)
    }

    static func loadHead(_ connection: SQLiteConnection) throws -> AuditHead {
        let tree = try AuditTree.loadEdge(on: connection)
        let statement = try connection.cachedStatement(
            "SELECT sequence, hash FROM audit_log ORDER BY sequence DESC LIMIT 1")
        defer { try? statement.reset() }
        guard try statement.step() else {
            guard tree.size == 0 else { throw AuditTreeMismatch(sequence: 0, treeSize: tree.size) }
            return AuditHead(sequence: 0, hash: AuditEntry.genesisHash, tree: tree)
        }
        let sequence = statement.int64(at: 0)
        guard let hash = statement.blob(at: 1) else {
            throw StoredRowError.null(table: AuditRow.Column.table, key: String(sequence), column: "hash")
        }
        guard tree.size == UInt64(sequence) else { throw AuditTreeMismatch(sequence: sequence, treeSize: tree.size) }
        return AuditHead(sequence: sequence, hash: hash, tree: tree)
    }

    /// The tree size last written to `audit_tree` (in this transaction or committed).
    private var savedTreeSize: UInt64 = 0

    /// Writes the tree's size and root to `audit_tree` if they changed: once per batch, before
    /// COMMIT (the nodes themselves are written by each append).
    func saveTreeState(on connection: SQLiteConnection) throws {
        guard head.tree.size != savedTreeSize else { return }
        try AuditTree.saveState(size: head.tree.size, root: head.tree.root, on: connection)
        savedTreeSize = head.tree.size
    }

    /// Writes the facet rows of the entries behind the head once they make a chunk: once per
    /// batch, before COMMIT, so they commit or roll back with the entries.
    func indexFacets(on connection: SQLiteConnection) throws {
        try facets.catchUp(head: head.sequence, on: connection)
    }

    /// Appends `event` at `time` as entry `head.sequence + 1`, chained to the head, and
    /// integrates it into the tree as leaf `head.sequence` with `d = SHA-256(salt ‖ canonical
    /// bytes)` (docs/transparency-log.md, "Leaf").
    @discardableResult
    func append(
        _ event: AuditEvent, at time: Millis, salt: [UInt8], on connection: SQLiteConnection
    ) throws -> AuditEntry {
        try append(EncodedAuditEvent(event, at: time), salt: salt, on: connection)
    }

    /// ``append(_:at:salt:on:)`` of an event already encoded (on the request's thread): what is
    /// left here is what depends on the entry's place — its sequence, chain hash, leaf and nodes.
    @discardableResult
    func append(_ encoded: EncodedAuditEvent, salt: [UInt8], on connection: SQLiteConnection) throws -> AuditEntry {
        let sequence = head.sequence + 1
        let previous = head.hash
        let event = encoded.event
        let time = encoded.time
        // previous hash ‖ canonical bytes, and salt ‖ the same canonical bytes.
        let canonicalCapacity = encoded.beforeSequence.count + 20 + encoded.afterSequence.count
        var input: [UInt8] = []
        input.reserveCapacity(previous.count + canonicalCapacity)
        input.append(contentsOf: previous)
        encoded.appendCanonicalBytes(sequence: sequence, to: &input)
        let digest = hash(input)
        var leafInput: [UInt8] = []
        leafInput.reserveCapacity(salt.count + canonicalCapacity)
        leafInput.append(contentsOf: salt)
        leafInput.append(contentsOf: input[previous.count...])
        let leafData = Digest.sha256(leafInput)

        typealias C = AuditRow.Column
        let statement = try connection.cachedStatement(AuditRow.insert)
        try statement.bind(sequence, at: C.sequence.parameter)
        try statement.bind(time, at: C.time.parameter)
        try statement.bind(event.action.rawValue, at: C.action.parameter)
        try statement.bind(event.actor, at: C.actor.parameter)
        try statement.bindText(event.requester, at: C.requester.parameter)
        try statement.bindText(event.owner, at: C.owner.parameter)
        try statement.bindText(event.certificateType, at: C.certificateType.parameter)
        try statement.bindText(event.subjectID, at: C.subjectID.parameter)
        try statement.bindText(event.verificationID, at: C.verificationID.parameter)
        try statement.bindText(event.attestationID, at: C.attestationID.parameter)
        try statement.bindText(event.queueItemID, at: C.queueItemID.parameter)
        try statement.bindText(encoded.detailText, at: C.detail.parameter)
        try statement.bind(previous, at: C.previousHash.parameter)
        try statement.bind(digest, at: C.hash.parameter)
        try statement.bind(salt, at: C.salt.parameter)
        try statement.bind(leafData, at: C.leaf.parameter)
        try statement.bindText(event.clerk, at: C.clerk.parameter)
        try statement.run()

        var tree = head.tree
        try AuditTree.writeNodes(tree.append(leafHash: .leaf(leafData)), on: connection)
        head = AuditHead(sequence: sequence, hash: digest, tree: tree)
        return AuditEntry(sequence: sequence, time: time, event: event, previousHash: previous, hash: digest)
    }
}

@available(*, unavailable)
extension AuditChain: Sendable {}

/// The stored tree does not have one leaf per entry: the database was changed outside heyan.
struct AuditTreeMismatch: Error, CustomStringConvertible {
    let sequence: Int64
    let treeSize: UInt64
    var description: String {
        "the audit log has \(sequence) entries but its Merkle tree \(treeSize) leaves; run `heyan audit verify`"
    }
}

/// How an ``AuditEntry`` is laid out in `audit_log`.
enum AuditRow {
    enum Column: String, TableColumns {
        case sequence, time, action, actor, requester, owner, certificateType = "certificate_type"
        case subjectID = "subject_id", verificationID = "verification_id", attestationID = "attestation_id"
        case queueItemID = "queue_item_id", detail, previousHash = "previous_hash", hash
        /// The leaf's 32 random bytes and its data `d` (docs/transparency-log.md); migration 7.
        case salt, leaf
        /// The clerk (经办人) of the actor department, when known; migration 10.
        case clerk
        static let table = "audit_log"
    }

    /// The columns ``decode(_:)`` reads, in its order.
    static let columns = Column.selectList()
    static let insertSQL = "INSERT INTO audit_log (\(columns)) VALUES (\(Column.parameterList))"
    static let insert = StatementKey(insertSQL)


    /// The entry in the current row of a statement selecting ``columns``.
    static func decode(_ statement: SQLiteStatement) throws -> AuditEntry {
        let sequence = statement.int64(at: Column.sequence.position)
        let row = StoredRow<Column>(statement, key: String(sequence))
        guard let detail = AuditDetailText.decode(row.optionalText(.detail)) else { throw row.invalid(.detail) }
        let event = AuditEvent(
            action: AuditAction(rawValue: try row.text(.action)), actor: try row.text(.actor),
            requester: row.optionalText(.requester), owner: row.optionalText(.owner),
            certificateType: row.optionalText(.certificateType), subjectID: row.optionalText(.subjectID),
            verificationID: row.optionalText(.verificationID), attestationID: row.optionalText(.attestationID),
            queueItemID: row.optionalText(.queueItemID), clerk: row.optionalText(.clerk), detail: detail)
        return AuditEntry(
            sequence: try row.integer(.sequence), time: try row.integer(.time), event: event,
            previousHash: try row.blob(.previousHash), hash: try row.blob(.hash))
    }
}
