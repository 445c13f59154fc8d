import HeyanCrypto
import HeyanDomain

/// The size and root of the audit log's Merkle tree as of the last commit.
public struct TreeHead: Sendable, Equatable {
    public let size: UInt64
    public let root: MerkleHash

    public init(size: UInt64, root: MerkleHash) {
        self.size = size
        self.root = root
    }
}

/// One leaf of the audit tree with what it takes to recompute it (docs/transparency-log.md, "Leaf").
public struct AuditLeaf: Sendable, Equatable {
    /// The leaf's index in the tree.
    public let index: UInt64
    /// The audit entry.
    public let entry: AuditEntry
    /// The 32 random bytes hashed before the entry.
    public let salt: [UInt8]
    /// `d`, the leaf data: the tree's leaf hash is `SHA-256(0x00 ‖ d)`.
    public let data: [UInt8]
    /// Whether the entry predates the tree: its `d` is `SHA-256(salt ‖ chain hash)`, the chain
    /// hash being `SHA-256(previous hash ‖ canonical bytes)`.
    public let fromChain: Bool

    public init(index: UInt64, entry: AuditEntry, salt: [UInt8], data: [UInt8], fromChain: Bool) {
        self.index = index
        self.entry = entry
        self.salt = salt
        self.data = data
        self.fromChain = fromChain
    }

    /// The bytes a holder needs to recompute `d` (the `extra` line of a proof bundle):
    /// `salt ‖ canonical entry`, or for an entry from the chain `salt ‖ previous hash ‖ canonical
    /// entry` (then `d = SHA-256(salt ‖ SHA-256(previous hash ‖ canonical entry))`).
    public var extra: [UInt8] {
        let canonical = entry.canonicalBytes
        return fromChain ? salt + entry.previousHash + canonical : salt + canonical
    }

    /// Recomputes `d` from an `extra` line: the canonical entry bytes and `d` for the two forms
    /// (`salt ‖ entry`, then `salt ‖ previous hash ‖ entry`). A verifier tries both against the proof.
    public static func candidates(extra: [UInt8]) -> [(entry: [UInt8], data: [UInt8])] {
        guard extra.count > 32 else { return [] }
        let salt = Array(extra.prefix(32))
        var out = [(Array(extra.dropFirst(32)), Digest.sha256(extra))]
        if extra.count > 64 {
            out.append((Array(extra.dropFirst(64)), Digest.sha256(salt + Digest.sha256(Array(extra.dropFirst(32))))))
        }
        return out
    }
}

/// A signed C2SP checkpoint as stored: at most one per size, never two roots for one size.
public struct StoredCheckpointNote: Sendable, Equatable {
    public let size: UInt64
    public let root: MerkleHash
    /// The signed note, verbatim (`text/plain`).
    public let note: String
    public let createdAt: Millis
    /// The witnesses' cosignature lines received for this checkpoint (`— name base64…\n` each,
    /// C2SP `tlog-cosignature`), one per witness, verified before they were stored.
    public let cosignatures: [String]

    public init(size: UInt64, root: MerkleHash, note: String, createdAt: Millis, cosignatures: [String] = []) {
        self.size = size
        self.root = root
        self.note = note
        self.createdAt = createdAt
        self.cosignatures = cosignatures
    }

    /// The note with the cosignature lines appended: what is served and put in proof bundles.
    public var cosignedNote: String { note + cosignatures.joined() }
}

/// One witness's cosignature of a stored checkpoint.
public struct WitnessCosignature: Sendable, Equatable {
    /// The witness's key name.
    public let witness: String
    /// The signature line, `— name base64(keyID ‖ time ‖ signature)\n`.
    public let line: String

    public init(witness: String, line: String) {
        self.witness = witness
        self.line = line
    }
}

/// Why a proof or read was refused: the range is not inside the tree.
public struct AuditTreeRangeError: Error, Equatable, CustomStringConvertible {
    public let message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}

/// Reads of the audit log as a Merkle tree: what the proof routes and the checkpoint publisher
/// need. A store implements it over its stored complete nodes (``MerkleNodeReader``).
///
/// Proofs follow RFC 6962 §2.1.1/§2.1.2 and verify with RFC 9162 §2.1.3.2/§2.1.4.2
/// (``Merkle/verifyInclusion(leafHash:index:size:proof:root:)`` and the consistency check). A range
/// outside the current tree throws ``AuditTreeRangeError``.
public protocol AuditLogProofs: Sendable {
    /// The tree's size and root as of the last commit.
    func treeHead() throws -> TreeHead
    /// The audit path of leaf `index` in the tree of `size` leaves (`index < size ≤ treeHead().size`).
    func inclusionProof(index: UInt64, size: UInt64) throws -> [MerkleHash]
    /// The consistency proof between sizes `first` and `second` (`0 < first ≤ second ≤ treeHead().size`).
    func consistencyProof(first: UInt64, second: UInt64) throws -> [MerkleHash]
    /// The bytes of a C2SP `tlog-tiles` tile or entry bundle (``TileAddress``), read in one snapshot
    /// with the tree size; nil when the tree does not have it (yet).
    func tile(_ address: TileAddress) throws -> [UInt8]?
    /// Leaf `index`, or nil beyond the tree.
    func auditLeaf(index: UInt64) throws -> AuditLeaf?
    /// The first entry naming attestation `id` (the one that issued it), or nil.
    func issuingLeaf(attestationID: String) throws -> AuditLeaf?
    /// The newest signed checkpoint, or nil before the first one.
    func latestCheckpointNote() throws -> StoredCheckpointNote?
    /// Every stored checkpoint note, by size (for `heyan audit verify`).
    func checkpointNotes() throws -> [StoredCheckpointNote]
    /// The newest checkpoint cosigned by at least `minimum` witnesses (any stored one when 0), with
    /// its cosignatures: what attestation proofs are issued against (`audit.witnessQuorum`).
    /// A default implementation scans ``checkpointNotes()``; a store may answer from an index.
    func latestCheckpointNote(cosignedBy minimum: Int) throws -> StoredCheckpointNote?
    /// Stores cosignatures of the checkpoint of `size` (one per witness; a witness's later line
    /// for the same size replaces its earlier one). Answers the checkpoint with all its cosignatures.
    func attachCosignatures(
        _ cosignatures: [WitnessCosignature], size: UInt64, now: Millis,
        completion: @escaping StoreCompletion<StoredCheckpointNote?>)
    /// Erases the personal data of entries, verifications and attestations older than the
    /// request's cut-offs — subject IDs, names, claims, attestation payloads, the detail fields
    /// not in ``AuditRetention/keptDetail``, and each entry's salt — keeping every entry's leaf
    /// data, so every checkpoint and every proof stays valid; appends one `audit.erased` entry in
    /// the same transaction when anything was erased (docs/audit.md, "Retention").
    func erasePersonalData(_ request: ErasureRequest, completion: @escaping StoreCompletion<ErasureCounts>)
    /// Signs and stores a checkpoint of the current tree with `signer` if the tree grew since the
    /// newest one; answers the newest checkpoint (nil while the tree is empty).
    func publishCheckpointNote(
        signer: NoteSigner, origin: String, now: Millis, completion: @escaping StoreCompletion<StoredCheckpointNote?>)
}

extension AuditLogProofs {
    public func latestCheckpointNote(cosignedBy minimum: Int) throws -> StoredCheckpointNote? {
        if minimum <= 0 { return try latestCheckpointNote() }
        return try checkpointNotes().last { $0.cosignatures.count >= minimum }
    }
}
