/// Memory a statement's text and blob parameters are copied into, so SQLite can take them as
/// `SQLITE_STATIC` instead of copying each into an allocation of its own (`SQLITE_TRANSIENT`: a
/// `malloc` at the bind and a `free` at the next bind or `sqlite3_clear_bindings`, ~30 per
/// data-sharing verification on the writer; docs/storage.md, "Bound values").
///
/// Copies stay where they are until ``reset()``, which the statement calls only after
/// `sqlite3_clear_bindings` (SQLite then holds no pointer into it), or until the statement is
/// finalized. Blocks are kept for the next use. A value larger than the largest block, or one that
/// would take the arena past ``limit`` (a statement rebound many times without its bindings
/// cleared), gets `nil`: the statement binds it `SQLITE_TRANSIENT` as before.
struct SQLiteBindingArena {
    /// The largest block, and so the largest value copied; blocks start at 256 bytes and double, so
    /// a statement that binds only identifiers keeps one small block.
    static let blockSize = 4096
    static let firstBlockSize = 256
    /// At most this many bytes of blocks per statement.
    static let limit = 4 * blockSize

    private var blocks: [(start: UnsafeMutableRawPointer, capacity: Int)] = []
    /// The block being filled, and the bytes used in it.
    private var current = 0
    private var used = 0

    /// A copy of `bytes` that stays valid until ``reset()`` or ``deallocate()``, or `nil`.
    mutating func copy(_ bytes: UnsafeRawBufferPointer) -> UnsafeRawPointer? {
        let count = bytes.count
        guard count > 0, count <= Self.blockSize, let source = bytes.baseAddress else { return nil }
        if blocks.isEmpty || used + count > blocks[current].capacity {
            let next = blocks.isEmpty ? 0 : current + 1
            if next == blocks.count || blocks[next].capacity < count {
                // Blocks after `current` hold no copies: one too small is replaced by a larger one.
                var capacity = next == 0 ? Self.firstBlockSize : min(Self.blockSize, 2 * blocks[next - 1].capacity)
                while capacity < count { capacity *= 2 }
                let kept = blocks.reduce(0) { $0 + $1.capacity } - (next < blocks.count ? blocks[next].capacity : 0)
                guard kept + capacity <= Self.limit else { return nil }
                let block = (UnsafeMutableRawPointer.allocate(byteCount: capacity, alignment: 16), capacity)
                if next < blocks.count {
                    blocks[next].start.deallocate()
                    blocks[next] = block
                } else {
                    blocks.append(block)
                }
            }
            current = next
            used = 0
        }
        let destination = blocks[current].start + used
        destination.copyMemory(from: source, byteCount: count)
        used += count
        return UnsafeRawPointer(destination)
    }

    /// Forgets every copy; only once SQLite holds no pointer into them.
    mutating func reset() {
        current = 0
        used = 0
    }

    /// Frees the blocks; only once SQLite holds no pointer into them (the statement is finalized).
    mutating func deallocate() {
        for block in blocks { block.start.deallocate() }
        blocks = []
        reset()
    }
}
