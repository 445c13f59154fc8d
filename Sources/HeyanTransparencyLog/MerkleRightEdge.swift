/// The right edge of a growing tree (a "compact range" from 0): the roots of the complete
/// subtrees that make up a tree of `size` leaves, at most one per set bit of `size`. Enough to
/// append leaves and compute the root without reading anything else.
public struct MerkleRightEdge: Sendable, Equatable {
    public private(set) var size: UInt64 = 0
    /// Roots of the complete subtrees, left (largest) to right (smallest).
    private var peaks: [MerkleHash] = []

    public init() {}

    /// Rebuilds the edge of a stored tree of `size` leaves from its complete nodes.
    public init(size: UInt64, reader: some MerkleNodeReader) throws {
        self.size = size
        for address in Self.peakAddresses(size: size) { peaks.append(try reader.hash(at: address)) }
    }

    /// The addresses of the complete subtrees a tree of `size` leaves decomposes into, left to right.
    public static func peakAddresses(size: UInt64) -> [MerkleNodeAddress] {
        var addresses: [MerkleNodeAddress] = []
        var start: UInt64 = 0
        var level = 63
        while level >= 0 {
            if size & (1 << UInt64(level)) != 0 {
                addresses.append(MerkleNodeAddress(level: level, index: start >> UInt64(level)))
                start += 1 << UInt64(level)
            }
            level -= 1
        }
        return addresses
    }

    /// Appends one leaf hash; returns the complete nodes this made: the leaf at level 0, then each
    /// subtree it closed, bottom up. A store writes exactly these.
    public mutating func append(leafHash: MerkleHash) -> [MerkleNode] {
        var address = MerkleNodeAddress(level: 0, index: size)
        var hash = leafHash
        var made = [MerkleNode(address, hash)]
        var position = size
        while position & 1 == 1 {
            hash = MerkleHash.node(peaks.removeLast(), hash)
            address = MerkleNodeAddress(level: address.level + 1, index: address.index >> 1)
            made.append(MerkleNode(address, hash))
            position >>= 1
        }
        peaks.append(hash)
        size += 1
        return made
    }

    /// MTH of the whole tree: the peaks folded from the right.
    public var root: MerkleHash {
        guard var root = peaks.last else { return .emptyTree }
        for peak in peaks.dropLast().reversed() { root = MerkleHash.node(peak, root) }
        return root
    }
}
