import HeyanCrypto

/// A C2SP `tlog-proof@v1` bundle: everything needed to check offline, years later, that one audit
/// entry is in the log — the entry's salted bytes (`extra`), its index, the inclusion path and the
/// signed checkpoint it is proved against.
///
///     c2sp.org/tlog-proof@v1
///     extra <base64(salt ‖ canonical entry)>
///     index <i>
///     <base64 hash>            (one line per path hash)
///                              (blank line)
///     <signed checkpoint note, verbatim>
public struct ProofBundle: Sendable, Equatable {
    public static let header = "c2sp.org/tlog-proof@v1"

    public let extra: [UInt8]
    public let index: UInt64
    public let path: [MerkleHash]
    /// The signed checkpoint note, verbatim.
    public let checkpoint: String

    public init(extra: [UInt8], index: UInt64, path: [MerkleHash], checkpoint: String) {
        self.extra = extra
        self.index = index
        self.path = path
        self.checkpoint = checkpoint
    }

    public var serialized: String {
        var text = "\(Self.header)\nextra \(Base64.encode(extra))\nindex \(index)\n"
        for hash in path { text += hash.base64 + "\n" }
        return text + "\n" + checkpoint
    }

    public init(parsing text: String) throws {
        // The first blank line ends the proof; the checkpoint note (which has its own) follows.
        let all = text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        guard let blank = all.firstIndex(of: "") else {
            throw NoteError.malformed("a proof bundle has a blank line before its checkpoint")
        }
        let head = Array(all[..<blank])
        let checkpoint = all[(blank + 1)...].joined(separator: "\n")
        guard head.first == Self.header else { throw NoteError.malformed("the first line is not \(Self.header)") }
        var lines = head.dropFirst()
        var extra: [UInt8] = []
        if let line = lines.first, line.hasPrefix("extra ") {
            guard let bytes = Base64.decode(String(line.dropFirst(6))) else { throw NoteError.malformed("extra is not Base64") }
            extra = bytes
            lines = lines.dropFirst()
        }
        guard let line = lines.first, line.hasPrefix("index "), let index = UInt64(line.dropFirst(6)),
            String(index) == line.dropFirst(6)
        else { throw NoteError.malformed("no index line") }
        var path: [MerkleHash] = []
        for line in lines.dropFirst() {
            guard let hash = MerkleHash(base64: line) else { throw NoteError.malformed("a path line is not 32 bytes of Base64") }
            path.append(hash)
        }
        self.init(extra: extra, index: index, path: path, checkpoint: checkpoint)
    }

    /// What a verified bundle proves.
    public struct Verified: Sendable, Equatable {
        public let checkpoint: Checkpoint
        /// The canonical entry bytes recovered from `extra`.
        public let entry: [UInt8]
        public let index: UInt64
    }

    /// Checks the checkpoint's signature with `key` (its origin must be the key's name), then
    /// recomputes the leaf from `extra` (either leaf form of ``AuditLeaf/candidates(extra:)``)
    /// and verifies the inclusion path against the checkpoint's root (RFC 9162 §2.1.3.2).
    public func verify(with key: NoteVerifierKey) throws -> Verified {
        let body = try key.verify(try SignedNote(parsing: checkpoint))
        let parsed = try Checkpoint(body: body)
        guard parsed.origin == key.name else { throw NoteError.malformed("the checkpoint's origin is not the key's name") }
        for candidate in AuditLeaf.candidates(extra: extra)
        where Merkle.verifyInclusion(
            leafHash: .leaf(candidate.data), index: index, size: parsed.size, proof: path, root: parsed.root)
        {
            return Verified(checkpoint: parsed, entry: candidate.entry, index: index)
        }
        throw NoteError.malformed("the inclusion proof does not lead from the entry to the checkpoint's root")
    }
}
