/// RFC 6962 §2.1 / RFC 9162 §2.1 tree algorithms: the root of a list of leaves, proof generation
/// over stored complete nodes, and the RFC 9162 verification algorithms.
public enum Merkle {
    /// MTH(D[n]) of leaf hashes, by the definition (k = the largest power of two below n).
    public static func root(leafHashes: [MerkleHash]) -> MerkleHash {
        guard !leafHashes.isEmpty else { return .emptyTree }
        return subtreeRoot(leafHashes[...])
    }

    private static func subtreeRoot(_ leaves: ArraySlice<MerkleHash>) -> MerkleHash {
        if leaves.count == 1 { return leaves.first! }
        let k = largestPowerOfTwo(below: UInt64(leaves.count))
        let split = leaves.startIndex + Int(k)
        return MerkleHash.node(subtreeRoot(leaves[..<split]), subtreeRoot(leaves[split...]))
    }

    /// The largest power of two strictly below `n` (n ≥ 2).
    static func largestPowerOfTwo(below n: UInt64) -> UInt64 {
        precondition(n >= 2)
        var k: UInt64 = 1
        while k << 1 < n { k <<= 1 }
        return k
    }

    /// MTH(D[begin:end]) from complete nodes. `begin` is aligned to a power of two at least
    /// `end - begin` (true of every range the proof algorithms ask for), so the range decomposes
    /// into complete subtrees, largest first, folded from the right.
    static func rangeRoot(begin: UInt64, end: UInt64, reader: some MerkleNodeReader) throws -> MerkleHash {
        var hashes: [MerkleHash] = []
        var start = begin
        var remaining = end - begin
        var level = 63
        while remaining > 0 {
            let width: UInt64 = 1 << UInt64(level)
            if remaining & width != 0 {
                hashes.append(try reader.hash(at: MerkleNodeAddress(level: level, index: start >> UInt64(level))))
                start += width
                remaining -= width
            }
            level -= 1
        }
        var root = hashes.removeLast()
        for hash in hashes.reversed() { root = MerkleHash.node(hash, root) }
        return root
    }

    /// The audit path of leaf `index` in the tree of the first `size` leaves (RFC 6962 §2.1.1
    /// PATH), leaf-side first.
    public static func inclusionProof(index: UInt64, size: UInt64, reader: some MerkleNodeReader) throws
        -> [MerkleHash]
    {
        guard index < size else { throw MerkleError.indexOutOfRange(index: index, size: size) }
        var proof: [MerkleHash] = []
        try path(index: index, begin: 0, end: size, reader: reader, into: &proof)
        return proof
    }

    private static func path(
        index: UInt64, begin: UInt64, end: UInt64, reader: some MerkleNodeReader, into proof: inout [MerkleHash]
    ) throws {
        let n = end - begin
        if n == 1 { return }
        let k = largestPowerOfTwo(below: n)
        if index < k {
            try path(index: index, begin: begin, end: begin + k, reader: reader, into: &proof)
            proof.append(try rangeRoot(begin: begin + k, end: end, reader: reader))
        } else {
            try path(index: index - k, begin: begin + k, end: end, reader: reader, into: &proof)
            proof.append(try rangeRoot(begin: begin, end: begin + k, reader: reader))
        }
    }

    /// The consistency proof between the trees of the first `first` and `second` leaves
    /// (RFC 6962 §2.1.2 PROOF). Empty when the sizes are equal.
    public static func consistencyProof(first: UInt64, second: UInt64, reader: some MerkleNodeReader) throws
        -> [MerkleHash]
    {
        guard first > 0, first <= second else { throw MerkleError.sizesOutOfOrder(first: first, second: second) }
        var proof: [MerkleHash] = []
        if first < second {
            try subproof(m: first, begin: 0, end: second, complete: true, reader: reader, into: &proof)
        }
        return proof
    }

    private static func subproof(
        m: UInt64, begin: UInt64, end: UInt64, complete: Bool, reader: some MerkleNodeReader,
        into proof: inout [MerkleHash]
    ) throws {
        let n = end - begin
        if m == n {
            if !complete { proof.append(try rangeRoot(begin: begin, end: end, reader: reader)) }
            return
        }
        let k = largestPowerOfTwo(below: n)
        if m <= k {
            try subproof(m: m, begin: begin, end: begin + k, complete: complete, reader: reader, into: &proof)
            proof.append(try rangeRoot(begin: begin + k, end: end, reader: reader))
        } else {
            try subproof(m: m - k, begin: begin + k, end: end, complete: false, reader: reader, into: &proof)
            proof.append(try rangeRoot(begin: begin, end: begin + k, reader: reader))
        }
    }

    /// RFC 9162 §2.1.3.2: does `proof` show that `leafHash` is leaf `index` of the tree of `size`
    /// leaves whose root is `root`?
    public static func verifyInclusion(
        leafHash: MerkleHash, index: UInt64, size: UInt64, proof: [MerkleHash], root: MerkleHash
    ) -> Bool {
        guard index < size else { return false }
        var fn = index
        var sn = size - 1
        var r = leafHash
        for p in proof {
            if sn == 0 { return false }
            if fn & 1 == 1 || fn == sn {
                r = MerkleHash.node(p, r)
                if fn & 1 == 0 {
                    while fn & 1 == 0 && fn != 0 {
                        fn >>= 1
                        sn >>= 1
                    }
                }
            } else {
                r = MerkleHash.node(r, p)
            }
            fn >>= 1
            sn >>= 1
        }
        return sn == 0 && r == root
    }

    /// RFC 9162 §2.1.4.2: does `proof` show that the tree of `first` leaves with root `firstRoot`
    /// is a prefix of the tree of `second` leaves with root `secondRoot`? A proof from size 0 is
    /// refused (it proves nothing); equal sizes need an empty proof and equal roots.
    public static func verifyConsistency(
        first: UInt64, second: UInt64, firstRoot: MerkleHash, secondRoot: MerkleHash, proof: [MerkleHash]
    ) -> Bool {
        guard first > 0, first <= second else { return false }
        if first == second { return proof.isEmpty && firstRoot == secondRoot }
        guard !proof.isEmpty else { return false }
        var path = proof
        if first & (first - 1) == 0 { path.insert(firstRoot, at: 0) }
        var fn = first - 1
        var sn = second - 1
        while fn & 1 == 1 {
            fn >>= 1
            sn >>= 1
        }
        var fr = path[0]
        var sr = path[0]
        for c in path.dropFirst() {
            if sn == 0 { return false }
            if fn & 1 == 1 || fn == sn {
                fr = MerkleHash.node(c, fr)
                sr = MerkleHash.node(c, sr)
                if fn & 1 == 0 {
                    while fn & 1 == 0 && fn != 0 {
                        fn >>= 1
                        sn >>= 1
                    }
                }
            } else {
                sr = MerkleHash.node(sr, c)
            }
            fn >>= 1
            sn >>= 1
        }
        return fr == firstRoot && sr == secondRoot && sn == 0
    }
}
