/// Where a complete subtree sits: `level` 0 is a leaf; the node at (`level`, `index`) covers the
/// leaves [index·2^level, (index+1)·2^level). Only complete subtrees get an address, so a node,
/// once written, never changes as the tree grows.
public struct MerkleNodeAddress: Hashable, Sendable, Comparable, CustomStringConvertible {
    public let level: Int
    public let index: UInt64

    public init(level: Int, index: UInt64) {
        precondition(level >= 0 && level < 64, "a tree of at most 2^63 leaves")
        self.level = level
        self.index = index
    }

    /// The first leaf this node covers.
    public var firstLeaf: UInt64 { index << UInt64(level) }
    /// One past the last leaf this node covers.
    public var endLeaf: UInt64 { (index + 1) << UInt64(level) }

    public static func < (a: MerkleNodeAddress, b: MerkleNodeAddress) -> Bool {
        (a.level, a.index) < (b.level, b.index)
    }

    public var description: String { "\(level)/\(index)" }
}

/// A complete subtree's address and hash.
public struct MerkleNode: Hashable, Sendable {
    public let address: MerkleNodeAddress
    public let hash: MerkleHash

    public init(_ address: MerkleNodeAddress, _ hash: MerkleHash) {
        self.address = address
        self.hash = hash
    }
}

/// Reads the hashes of complete subtrees of a tree (from a database, from memory). Proof
/// generation asks only for nodes inside the tree size it was given.
public protocol MerkleNodeReader {
    func hash(at address: MerkleNodeAddress) throws -> MerkleHash
}

/// Every complete node of a tree held in memory: for tests, `heyan audit verify` and exports.
public struct InMemoryMerkleTree: MerkleNodeReader, Sendable {
    private var nodes: [MerkleNodeAddress: MerkleHash] = [:]
    private var edge = MerkleRightEdge()

    public init() {}

    public init<Leaves: Sequence>(leafHashes: Leaves) where Leaves.Element == MerkleHash {
        for leaf in leafHashes { append(leafHash: leaf) }
    }

    public var size: UInt64 { edge.size }
    public var root: MerkleHash { edge.root }

    /// Appends a leaf; returns the nodes this completed (the leaf itself first).
    @discardableResult
    public mutating func append(leafHash: MerkleHash) -> [MerkleNode] {
        let completed = edge.append(leafHash: leafHash)
        for node in completed { nodes[node.address] = node.hash }
        return completed
    }

    public func hash(at address: MerkleNodeAddress) throws -> MerkleHash {
        guard let hash = nodes[address] else { throw MerkleError.missingNode(address) }
        return hash
    }
}

/// Failures of proof generation and of reading a stored tree.
public enum MerkleError: Error, Equatable, CustomStringConvertible {
    case missingNode(MerkleNodeAddress)
    case indexOutOfRange(index: UInt64, size: UInt64)
    case sizesOutOfOrder(first: UInt64, second: UInt64)

    public var code: String {
        switch self {
        case .missingNode: "merkle.missing-node"
        case .indexOutOfRange: "merkle.index-out-of-range"
        case .sizesOutOfOrder: "merkle.sizes-out-of-order"
        }
    }

    public var description: String {
        switch self {
        case .missingNode(let address): "the tree has no node \(address)"
        case .indexOutOfRange(let index, let size): "leaf index \(index) is not inside a tree of size \(size)"
        case .sizesOutOfOrder(let first, let second):
            "a consistency proof needs 0 < first ≤ second, got \(first) and \(second)"
        }
    }
}
