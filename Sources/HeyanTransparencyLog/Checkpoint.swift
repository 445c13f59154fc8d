/// A C2SP `tlog-checkpoint` body: the log's origin, its size and its root, one per line. No time
/// and no extension lines (monitors cannot audit extensions).
public struct Checkpoint: Hashable, Sendable {
    public let origin: String
    public let size: UInt64
    public let root: MerkleHash

    public init(origin: String, size: UInt64, root: MerkleHash) {
        self.origin = origin
        self.size = size
        self.root = root
    }

    /// `origin\nsize\nbase64(root)\n`: the text a signed note signs.
    public var body: String { "\(origin)\n\(size)\n\(root.base64)\n" }

    /// Parses a checkpoint body. Refuses extension lines, a size with a leading zero or sign, a
    /// root that is not 32 bytes of standard Base64, and an origin with spaces or `+`.
    public init(body: String) throws {
        guard body.hasSuffix("\n") else { throw NoteError.malformed("a checkpoint ends with a newline") }
        let lines = body.dropLast().split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        guard lines.count == 3 else {
            throw NoteError.malformed("a checkpoint has exactly three lines (origin, size, root), got \(lines.count)")
        }
        guard NoteKeyName.isValid(lines[0]) else { throw NoteError.malformed("bad origin line") }
        guard let size = UInt64(lines[1]), String(size) == lines[1] else {
            throw NoteError.malformed("the size is a decimal number without leading zeros")
        }
        guard let root = MerkleHash(base64: lines[2]) else { throw NoteError.malformed("the root is 32 bytes of Base64") }
        self.init(origin: lines[0], size: size, root: root)
    }
}
