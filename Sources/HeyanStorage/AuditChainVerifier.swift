import CSQLite
import HeyanCrypto
import HeyanTransparencyLog
import HeyanDomain

/// What is wrong with the first broken place of an audit log.
public struct AuditChainBreak: Sendable, Equatable, CustomStringConvertible {
    /// A kind of break; a string-backed struct so that adding one breaks no caller.
    public struct Kind: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
        public let rawValue: String
        public init(rawValue: String) { self.rawValue = rawValue }
        public var description: String { rawValue }

        /// The entry with this sequence number is missing (deleted, or the log was cut short).
        public static let missingEntry = Kind(rawValue: "missing-entry")
        /// The entry's `previous_hash` is not the hash of the entry before it.
        public static let previousHash = Kind(rawValue: "previous-hash")
        /// The entry's stored fields do not hash to its stored `hash` (a field was edited).
        public static let hash = Kind(rawValue: "hash")
        /// The entry cannot be read back as an audit entry (e.g. `detail` is not a JSON object of strings).
        public static let unreadable = Kind(rawValue: "unreadable-entry")
        /// A checkpoint's head is not the chain's hash at the checkpoint's size.
        public static let checkpointHead = Kind(rawValue: "checkpoint-head")
        /// A checkpoint's signature, or its signed payload, does not check out.
        public static let checkpointSignature = Kind(rawValue: "checkpoint-signature")
        /// The entry's stored leaf data `d` is not `SHA-256(salt ‖ entry)` (or, for an entry from
        /// before the tree, `SHA-256(salt ‖ chain hash)`), or the salt is missing.
        public static let leaf = Kind(rawValue: "leaf")
        /// A JWS checkpoint's `treeRoot` is not the root rebuilt from the leaves at its size.
        public static let checkpointTreeRoot = Kind(rawValue: "checkpoint-tree-root")
        /// A signed C2SP checkpoint note does not verify, or its root is not the rebuilt root at its size.
        public static let checkpointNote = Kind(rawValue: "checkpoint-note")
        /// The stored tree state (`audit_tree`) is not the tree rebuilt from the leaves.
        public static let treeState = Kind(rawValue: "tree-state")
    }

    /// The sequence number of the first broken entry; for a checkpoint, its size.
    public var sequence: Int64
    public var kind: Kind
    public var message: String

    public init(sequence: Int64, kind: Kind, message: String) {
        self.sequence = sequence
        self.kind = kind
        self.message = message
    }

    public var description: String { "sequence \(sequence): \(kind): \(message)" }
}

/// The result of ``AuditChainVerifier/verify(databasePath:hash:verifyCheckpoint:)``.
public struct AuditVerificationReport: Sendable, Equatable {
    /// Entries that verified, in order from 1 (all of them when the log is intact).
    public var entries: Int64
    /// Checkpoints whose head and signature verified.
    public var checkpoints: Int
    /// The hash of the last verified entry (the genesis hash for an empty log).
    public var head: [UInt8]
    /// The first problem found; `nil` when the whole log and every checkpoint verified.
    public var firstBreak: AuditChainBreak?
    /// The Merkle root rebuilt from the verified leaves (size = `entries`).
    public var treeRoot: MerkleHash = .emptyTree
    /// Signed checkpoint notes whose signature and root verified.
    public var checkpointNotes: Int = 0
    /// Entries whose personal data was erased after retention (no salt): checked by their stored
    /// leaf (against the tree and every checkpoint) and their chain link, not their fields.
    public var erased: Int64 = 0

    public init(
        entries: Int64, checkpoints: Int, head: [UInt8], firstBreak: AuditChainBreak?,
        treeRoot: MerkleHash = .emptyTree, checkpointNotes: Int = 0
    ) {
        self.entries = entries
        self.checkpoints = checkpoints
        self.head = head
        self.firstBreak = firstBreak
        self.treeRoot = treeRoot
        self.checkpointNotes = checkpointNotes
    }

    public var isIntact: Bool { firstBreak == nil }
}

/// Recomputes the audit hash chain of a heyan database and checks every signed checkpoint against
/// it (docs/audit.md). Used by `heyan audit verify`.
public enum AuditChainVerifier {
    /// Reads `audit_log` read-only in sequence order, in one snapshot and one streaming statement,
    /// and checks that:
    /// - the sequences are 1…n without gaps;
    /// - each entry's `previous_hash` is the hash of the entry before (the genesis hash for the first);
    /// - each entry's `hash` recomputes from its stored fields (``AuditEntry/hashInput``);
    /// - each checkpoint's head is the chain's hash at its size (so a log cut short below a
    ///   checkpoint is caught), and `verifyCheckpoint` accepts it (signature and payload).
    ///
    /// - each entry's leaf data recomputes from its salt and its canonical bytes (the chain hash for
    ///   the entries migrated from the chain), and the Merkle root rebuilt from the leaves equals
    ///   every JWS checkpoint's `treeRoot`, every signed note's root (whose signature
    ///   `verifyNote` checks) and the stored tree state.
    ///
    /// Stops at the first break and names it. Throws only when the database cannot be read.
    public static func verify(
        databasePath: String, hash: ([UInt8]) -> [UInt8], verifyCheckpoint: (AuditCheckpoint) throws -> Void,
        verifyNote: (StoredCheckpointNote) throws -> Void = { _ in }
    ) throws -> AuditVerificationReport {
        let connection = try SQLiteConnection(path: databasePath, mode: .readOnly)
        try connection.withConnectionPointer { handle in
            try SQLiteError.check(sqlite3_busy_timeout(handle, 5000), connection: handle, sql: "sqlite3_busy_timeout")
        }
        return try connection.transaction(.deferred) {
            try verify(connection, hash: hash, verifyCheckpoint: verifyCheckpoint, verifyNote: verifyNote)
        }
    }

    /// The same checks on `store`'s database, in one read transaction (`heyan audit verify` through
    /// `StoreFactory`, module HeyanStores).
    public static func verify(
        _ store: SQLiteVerificationStore, hash: ([UInt8]) -> [UInt8],
        verifyCheckpoint: (AuditCheckpoint) throws -> Void, verifyNote: (StoredCheckpointNote) throws -> Void
    ) throws -> AuditVerificationReport {
        try store.database.read { try verify($0, hash: hash, verifyCheckpoint: verifyCheckpoint, verifyNote: verifyNote) }
    }

    /// The same checks on `connection`, inside the caller's read transaction.
    static func verify(
        _ connection: SQLiteConnection, hash: ([UInt8]) -> [UInt8], verifyCheckpoint: (AuditCheckpoint) throws -> Void,
        verifyNote: (StoredCheckpointNote) throws -> Void = { _ in }
    ) throws -> AuditVerificationReport {
        let treeState = try AuditTree.state(on: connection)
        let notes = try CheckpointNoteRow.all(on: connection)
        var checkpoints: [AuditCheckpoint] = []
        let checkpointStatement = try connection.prepare(CheckpointRow.selectAll)
        while try checkpointStatement.step() {
            checkpoints.append(try CheckpointRow.decode(checkpointStatement))
        }
        let statement = try connection.prepare("SELECT \(AuditRow.columns) FROM audit_log ORDER BY sequence")
        return try verify(
            AuditLogSnapshot(
                treeSize: treeState.size, treeRoot: treeState.root, chainLeaves: treeState.chainLeaves,
                checkpoints: checkpoints, notes: notes,
                nextEntry: {
                    guard try statement.step() else { return nil }
                    return AuditLogSnapshot.Row(
                        sequence: statement.int64(at: 0), entry: try? AuditRow.decode(statement),
                        salt: statement.blob(at: AuditRow.Column.salt.position),
                        leaf: statement.blob(at: AuditRow.Column.leaf.position))
                }),
            hash: hash, verifyCheckpoint: verifyCheckpoint, verifyNote: verifyNote)
    }

    /// The same checks on an audit log read by any engine (``AuditLogSnapshot``), in one snapshot.
    public static func verify(
        _ log: AuditLogSnapshot, hash: ([UInt8]) -> [UInt8], verifyCheckpoint: (AuditCheckpoint) throws -> Void,
        verifyNote: (StoredCheckpointNote) throws -> Void = { _ in }
    ) throws -> AuditVerificationReport {
        let treeState = (size: log.treeSize, root: log.treeRoot, chainLeaves: log.chainLeaves)
        let notes = log.notes
        let checkpoints = log.checkpoints
        var nextNote = 0
        var tree = MerkleRightEdge()

        var report = AuditVerificationReport(entries: 0, checkpoints: 0, head: AuditEntry.genesisHash, firstBreak: nil)
        var nextCheckpoint = 0

        /// The report with the root of the leaves read so far: computed once at the end, not after
        /// every entry (it hashes up the tree's right edge: ~8 % of `heyan audit verify`'s time).
        func finished() -> AuditVerificationReport {
            var finished = report
            finished.treeRoot = tree.root
            return finished
        }

        /// Checks the checkpoints of the current size; false at a break.
        func checkCheckpoints() -> Bool {
            while nextNote < notes.count, notes[nextNote].size == tree.size {
                let note = notes[nextNote]
                guard note.root == tree.root else {
                    report.firstBreak = AuditChainBreak(
                        sequence: Int64(note.size), kind: .checkpointNote,
                        message: "the checkpoint note of size \(note.size) names root \(note.root), "
                            + "the leaves give \(tree.root)")
                    return false
                }
                do {
                    try verifyNote(note)
                } catch {
                    report.firstBreak = AuditChainBreak(
                        sequence: Int64(note.size), kind: .checkpointNote,
                        message: "the checkpoint note of size \(note.size) does not verify: \(error)")
                    return false
                }
                report.checkpointNotes += 1
                nextNote += 1
            }
            while nextCheckpoint < checkpoints.count, checkpoints[nextCheckpoint].size == report.entries {
                let checkpoint = checkpoints[nextCheckpoint]
                if let root = checkpoint.treeRoot, root != tree.root.bytes {
                    report.firstBreak = AuditChainBreak(
                        sequence: checkpoint.size, kind: .checkpointTreeRoot,
                        message: "the checkpoint of size \(checkpoint.size) signed tree root \(hex(root)), "
                            + "the leaves give \(tree.root)")
                    return false
                }
                guard checkpoint.head == report.head else {
                    report.firstBreak = AuditChainBreak(
                        sequence: checkpoint.size, kind: .checkpointHead,
                        message: "the checkpoint of size \(checkpoint.size) signed head \(hex(checkpoint.head)), "
                            + "the chain has \(hex(report.head))")
                    return false
                }
                do {
                    try verifyCheckpoint(checkpoint)
                } catch {
                    report.firstBreak = AuditChainBreak(
                        sequence: checkpoint.size, kind: .checkpointSignature,
                        message: "the checkpoint of size \(checkpoint.size) does not verify: \(error)")
                    return false
                }
                report.checkpoints += 1
                nextCheckpoint += 1
            }
            return true
        }

        guard checkCheckpoints() else { return finished() }
        // The engine reads and decodes the next block of rows on a second thread meanwhile.
        let rows = try PrefetchedAuditRows(log.nextEntry)
        defer { rows.finish() }
        while let row = try rows.next() {
            let expected = report.entries + 1
            let sequence = row.sequence
            guard sequence == expected else {
                report.firstBreak = AuditChainBreak(
                    sequence: expected, kind: .missingEntry,
                    message: "entry \(expected) is missing (the next stored entry is \(sequence))")
                return finished()
            }
            guard let entry = row.entry else {
                report.firstBreak = AuditChainBreak(
                    sequence: sequence, kind: .unreadable, message: "detail is not a JSON object of strings")
                return finished()
            }
            guard entry.previousHash == report.head else {
                report.firstBreak = AuditChainBreak(
                    sequence: sequence, kind: .previousHash,
                    message: "previous_hash is \(hex(entry.previousHash)), the entry before hashes to \(hex(report.head))")
                return finished()
            }
            let salt = row.salt
            let storedLeaf = row.leaf
            if salt == nil, let storedLeaf, storedLeaf.count == 32, entry.event.subjectID == nil {
                // Erased after retention (docs/audit.md, "Retention"): the fields that made the
                // hash and the leaf are gone with the salt. The stored leaf is what the tree and
                // every signed checkpoint bind; the stored hash is what the next entry links to.
                _ = tree.append(leafHash: .leaf(storedLeaf))
                report.erased += 1
                report.entries = sequence
                report.head = entry.hash
                guard checkCheckpoints() else { return finished() }
                continue
            }
            // The canonical bytes once, for the chain hash and the leaf (they were encoded twice,
            // which was a third of `heyan audit verify`'s time).
            let canonical = entry.canonicalBytes
            let computed = hash(entry.hashInput(canonical: canonical))
            guard computed == entry.hash else {
                report.firstBreak = AuditChainBreak(
                    sequence: sequence, kind: .hash,
                    message: "the stored fields hash to \(hex(computed)), the entry says \(hex(entry.hash))")
                return finished()
            }
            let fromChain = UInt64(sequence) <= treeState.chainLeaves
            let leafData = salt.map { salt in
                Digest.sha256(salt + (fromChain ? computed : canonical))
            }
            guard let leafData, leafData == storedLeaf else {
                report.firstBreak = AuditChainBreak(
                    sequence: sequence, kind: .leaf,
                    message: salt == nil
                        ? "the entry has no salt"
                        : "the salt and the \(fromChain ? "chain hash" : "entry") give leaf data \(hex(leafData ?? [])), "
                            + "the entry stores \(hex(storedLeaf ?? []))")
                return finished()
            }
            _ = tree.append(leafHash: .leaf(leafData))
            report.entries = sequence
            report.head = computed
            guard checkCheckpoints() else { return finished() }
        }
        if nextCheckpoint < checkpoints.count {
            let checkpoint = checkpoints[nextCheckpoint]
            report.firstBreak = AuditChainBreak(
                sequence: report.entries + 1, kind: .missingEntry,
                message: "a checkpoint covers \(checkpoint.size) entries, the log ends at \(report.entries)")
        } else if nextNote < notes.count {
            let note = notes[nextNote]
            report.firstBreak = AuditChainBreak(
                sequence: report.entries + 1, kind: .missingEntry,
                message: "a checkpoint note covers \(note.size) entries, the log ends at \(report.entries)")
        } else if treeState.size != tree.size || treeState.root != tree.root {
            report.firstBreak = AuditChainBreak(
                sequence: Int64(treeState.size), kind: .treeState,
                message: "the stored tree has size \(treeState.size) and root \(treeState.root), "
                    + "the leaves give size \(tree.size) and root \(tree.root)")
        }
        return finished()
    }
}

/// An audit log as an engine reads it for ``AuditChainVerifier``, all in one read snapshot: the
/// stored tree state, the signed checkpoints and notes, and the entries in sequence order.
public struct AuditLogSnapshot {
    /// One `audit_log` row: `entry` nil when its fields do not decode (an unreadable entry).
    public struct Row {
        public var sequence: Int64
        public var entry: AuditEntry?
        public var salt: [UInt8]?
        public var leaf: [UInt8]?
        public init(sequence: Int64, entry: AuditEntry?, salt: [UInt8]?, leaf: [UInt8]?) {
            self.sequence = sequence
            self.entry = entry
            self.salt = salt
            self.leaf = leaf
        }
    }

    public var treeSize: UInt64
    public var treeRoot: MerkleHash
    /// Leading leaves migrated from the hash chain (their leaf hashes the chain hash).
    public var chainLeaves: UInt64
    public var checkpoints: [AuditCheckpoint]
    public var notes: [StoredCheckpointNote]
    /// The next entry in sequence order, nil after the last.
    public var nextEntry: () throws -> Row?

    public init(
        treeSize: UInt64, treeRoot: MerkleHash, chainLeaves: UInt64, checkpoints: [AuditCheckpoint],
        notes: [StoredCheckpointNote], nextEntry: @escaping () throws -> Row?
    ) {
        self.treeSize = treeSize
        self.treeRoot = treeRoot
        self.chainLeaves = chainLeaves
        self.checkpoints = checkpoints
        self.notes = notes
        self.nextEntry = nextEntry
    }
}
