/// Memory a statement's text and blob parameters are copied into, so SQLite can take them as
/// `SQLITE_STATIC` instead of copying each into an allocation of its own (`SQLITE_TRANSIENT`: a
/// `malloc` at the bind and a `free` at the next bind or `sqlite3_clear_bindings`, ~30 per
/// data-sharing verification on the writer; docs/storage.md, "Bound values").
///
/// Copies stay where they are until ``reset()``, which the statement calls only after
/// `sqlite3_clear_bindings` (SQLite then holds no pointer into it), or until the statement is
/// finalized. Blocks are kept for the next use. A value larger than a block, or one that would take
/// the arena past ``limit`` (a statement rebound many times without its bindings cleared), gets
/// `nil`: the statement binds it `SQLITE_TRANSIENT` as before.
struct SQLiteBindingArena {
    static let blockSize = 4096
    /// At most this many bytes per statement.
    static let limit = 4 * blockSize

    private var blocks: [UnsafeMutableRawPointer] = []
    /// The block being filled, and the bytes used in it.
    private var current = 0
    private var used = 0

    /// A copy of `bytes` that stays valid until ``reset()`` or ``deallocate()``, or `nil`.
    mutating func copy(_ bytes: UnsafeRawBufferPointer) -> UnsafeRawPointer? {
        let count = bytes.count
        guard count > 0, count <= Self.blockSize, let source = bytes.baseAddress else { return nil }
        if blocks.isEmpty || used + count > Self.blockSize {
            if !blocks.isEmpty {
                guard current + 1 < Self.limit / Self.blockSize else { return nil }
                current += 1
                used = 0
            }
            if current == blocks.count {
                blocks.append(UnsafeMutableRawPointer.allocate(byteCount: Self.blockSize, alignment: 16))
            }
        }
        let destination = blocks[current] + used
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
        for block in blocks { block.deallocate() }
        blocks = []
        reset()
    }
}
