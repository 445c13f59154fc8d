/// A resource of C2SP `tlog-tiles` (v0.1): a tile of Merkle tree hashes or an entry bundle, named by
/// the path after `<prefix>/tile/` — `<L>/<N>[.p/<W>]` or `entries/<N>[.p/<W>]`
/// (docs/transparency-log.md, "Tiles").
///
/// Tile `N` at level `L` holds the hashes of the complete subtrees of 256^L leaves with indexes
/// `N·256 …`; `width` of them (256 for a full tile, 1…255 for a partial one). The entry bundle `N`
/// holds the leaf data whose leaf hashes form the level-0 tile `N`. Every resource, once it exists,
/// never changes: a tree only appends, and a partial tile of width `W` is the first `W` hashes of the
/// full tile.
public struct TileAddress: Hashable, Sendable, CustomStringConvertible {
    public enum Kind: Hashable, Sendable {
        /// Merkle tree hashes at tile level `L` (tree level 8·L).
        case hashes(level: Int)
        /// Entry bundle: the leaf data of the level-0 tile.
        case entries
    }

    public let kind: Kind
    /// `N`: the tile's index within its level.
    public let index: UInt64
    /// 256 for a full tile, 1…255 for a partial one.
    public let width: Int

    public static let fullWidth = 256

    public init(kind: Kind, index: UInt64, width: Int = TileAddress.fullWidth) {
        precondition(width >= 1 && width <= TileAddress.fullWidth)
        self.kind = kind
        self.index = index
        self.width = width
    }

    public var isFull: Bool { width == Self.fullWidth }

    /// Parses `<L>/<N>[.p/<W>]` or `entries/<N>[.p/<W>]` as the specification writes them: `L`
    /// 0…63 and `W` 1…255 in decimal without leading zeros, `N` in 3-digit groups, all but the last
    /// prefixed `x`, with no leading all-zero group (one path per resource). Nil for anything else.
    public init?(path: String) {
        var elements = path.split(separator: "/", omittingEmptySubsequences: false).map(String.init)
        guard elements.count >= 2 else { return nil }
        let kind: Kind
        if elements[0] == "entries" {
            kind = .entries
        } else {
            guard let level = Self.decimal(elements[0], maximum: 63) else { return nil }
            kind = .hashes(level: level)
        }
        elements.removeFirst()
        var width = Self.fullWidth
        if elements.count >= 2, elements[elements.count - 2].hasSuffix(".p") {
            guard let partial = Self.decimal(elements.removeLast(), maximum: 255), partial >= 1 else { return nil }
            width = partial
            elements[elements.count - 1].removeLast(2)
        }
        // At most 7 groups: 2^64 has 20 decimal digits.
        guard elements.count <= 7 else { return nil }
        var index: UInt64 = 0
        for (position, element) in elements.enumerated() {
            var digits = Substring(element)
            let last = position == elements.count - 1
            if !last {
                guard digits.first == "x" else { return nil }
                digits = digits.dropFirst()
            }
            guard digits.utf8.count == 3, digits.utf8.allSatisfy({ $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") }),
                let group = UInt64(digits)
            else { return nil }
            if position == 0 && !last && group == 0 { return nil }  // x000/…: not the canonical path
            let (scaled, overflow) = index.multipliedReportingOverflow(by: 1000)
            let (sum, carry) = scaled.addingReportingOverflow(group)
            guard !overflow, !carry else { return nil }
            index = sum
        }
        self.init(kind: kind, index: index, width: width)
    }

    /// A decimal number without leading zeros, at most `maximum`.
    private static func decimal(_ text: String, maximum: Int) -> Int? {
        guard !text.isEmpty, text.utf8.count <= 3, text == "0" || !text.hasPrefix("0"),
            text.utf8.allSatisfy({ $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") }), let value = Int(text),
            value <= maximum
        else { return nil }
        return value
    }

    /// The path after `tile/`, as ``init(path:)`` reads it.
    public var path: String {
        var groups: [String] = []
        var rest = index
        repeat {
            let group = String(rest % 1000)
            groups.insert(String(repeating: "0", count: 3 - group.count) + group, at: 0)
            rest /= 1000
        } while rest > 0
        let encoded = groups.enumerated().map { $0.offset < groups.count - 1 ? "x" + $0.element : $0.element }
            .joined(separator: "/")
        let head: String
        switch kind {
        case .hashes(let level): head = String(level)
        case .entries: head = "entries"
        }
        return head + "/" + encoded + (isFull ? "" : ".p/\(width)")
    }

    public var description: String { "tile/" + path }

    /// The tree level of the hashes: 8·L (0 for an entry bundle).
    var treeLevel: Int {
        switch kind {
        case .hashes(let level): 8 * level
        case .entries: 0
        }
    }

    /// Whether a tree of `size` leaves has this resource: all `width` of its subtrees are complete.
    /// (A partial tile narrower than the tree's right edge is a prefix of a larger one and still
    /// true; the specification requires the partial tiles of checkpointed sizes, and allows more.)
    public func exists(inTreeOf size: UInt64) -> Bool {
        guard treeLevel < 64 else { return false }
        let complete = size >> UInt64(treeLevel)
        let (first, overflow) = index.multipliedReportingOverflow(by: UInt64(Self.fullWidth))
        guard !overflow else { return false }
        return first < complete && complete - first >= UInt64(width)
    }

    /// The resource's bytes from `reader`: `width` concatenated 32-byte hashes for a tile; for an
    /// entry bundle `width` entries, each a big-endian `uint16` length and the leaf data.
    /// The caller checks ``exists(inTreeOf:)`` first, in the same snapshot as `reader`.
    public func content(from reader: some TileReader) throws -> [UInt8] {
        let first = index * UInt64(Self.fullWidth)
        var bytes: [UInt8] = []
        switch kind {
        case .hashes:
            bytes.reserveCapacity(width * 32)
            for hash in try reader.hashes(level: treeLevel, first: first, count: width) { bytes += hash.bytes }
        case .entries:
            for data in try reader.leafData(first: first, count: width) {
                precondition(data.count <= Int(UInt16.max))
                bytes += [UInt8(data.count >> 8), UInt8(data.count & 0xFF)] + data
            }
        }
        return bytes
    }
}

/// Reads runs of stored nodes and leaf data for tiles, in one snapshot of a store.
public protocol TileReader: MerkleNodeReader {
    /// The hashes of the complete subtrees at `level` with indexes `first ..< first + count`.
    func hashes(level: Int, first: UInt64, count: Int) throws -> [MerkleHash]
    /// The leaf data `d` of leaves `first ..< first + count` (the leaf hash is `SHA-256(0x00 ‖ d)`).
    func leafData(first: UInt64, count: Int) throws -> [[UInt8]]
}

extension TileReader {
    /// The values of a range read, checked to be exactly the indexes `first ..< first + count` in
    /// order: a store's range query answers `(index, value)` rows, and a gap or a NULL is a missing
    /// node (``MerkleError/missingNode(_:)`` at the first one), never a shorter tile.
    public func run<Value>(_ rows: [(index: UInt64, value: Value?)], level: Int, first: UInt64, count: Int) throws -> [Value] {
        var values: [Value] = []
        values.reserveCapacity(count)
        for row in rows {
            let address = MerkleNodeAddress(level: level, index: first + UInt64(values.count))
            guard row.index == address.index, let value = row.value else { throw MerkleError.missingNode(address) }
            values.append(value)
        }
        guard values.count == count else {
            throw MerkleError.missingNode(MerkleNodeAddress(level: level, index: first + UInt64(values.count)))
        }
        return values
    }

    /// One ``MerkleNodeReader/hash(at:)`` per node; a store may read the run in one query instead.
    public func hashes(level: Int, first: UInt64, count: Int) throws -> [MerkleHash] {
        try (0..<UInt64(count)).map { try hash(at: MerkleNodeAddress(level: level, index: first + $0)) }
    }
}
