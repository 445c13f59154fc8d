import HeyanCrypto

/// One SHA-256 node of an RFC 6962 / RFC 9162 §2.1 Merkle tree: exactly 32 bytes.
///
/// Leaves and interior nodes are hashed with different one-byte prefixes (0x00 and 0x01), so a
/// leaf can never be passed off as a node (second-preimage resistance).
public struct MerkleHash: Hashable, Sendable, CustomStringConvertible {
    public let bytes: [UInt8]

    /// Nil unless `bytes` is exactly 32 bytes long.
    public init?(bytes: [UInt8]) {
        guard bytes.count == 32 else { return nil }
        self.bytes = bytes
    }

    private init(digest: [UInt8]) { bytes = digest }

    /// From standard padded Base64 (the checkpoint and proof encoding); nil unless 32 bytes.
    public init?(base64: String) {
        guard let bytes = Base64.decode(base64) else { return nil }
        self.init(bytes: bytes)
    }

    public var base64: String { Base64.encode(bytes) }
    public var hex: String { bytes.map { String($0, radix: 16).leftPadded(to: 2) }.joined() }
    public var description: String { hex }

    /// MTH({}) = SHA-256 of the empty string: the root of the empty tree.
    public static let emptyTree = MerkleHash(digest: Digest.sha256([]))

    /// MTH({d}) = SHA-256(0x00 ‖ d): the leaf hash of entry bytes `data`.
    public static func leaf(_ data: [UInt8]) -> MerkleHash {
        MerkleHash(digest: Digest.sha256([0x00] + data))
    }

    /// SHA-256(0x01 ‖ left ‖ right): an interior node.
    public static func node(_ left: MerkleHash, _ right: MerkleHash) -> MerkleHash {
        var input = [UInt8]()
        input.reserveCapacity(65)
        input.append(0x01)
        input += left.bytes
        input += right.bytes
        return MerkleHash(digest: Digest.sha256(input))
    }
}

extension String {
    fileprivate func leftPadded(to width: Int) -> String {
        count >= width ? self : String(repeating: "0", count: width - count) + self
    }
}
