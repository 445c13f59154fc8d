import Glibc
import HeyanDomain

/// The writer's side of `jws_headers` (migration 3): the id of each protected header, looked up
/// or inserted once and then remembered, so storing an attestation costs no header lookup.
///
/// Used only on the writer thread. An id learned inside a job that rolls back (or a batch that
/// fails) may name a row that no longer exists, so the writer forgets everything then
/// (``forget()``); the next attestation looks its header up again.
final class JWSHeaderTable {
    private var ids: [String: Int64] = [:]
    private var last: (header: String, id: Int64)?

    /// The id of `header`, inserting it if it is new.
    func id(of header: Substring, on connection: SQLiteConnection) throws -> Int64 {
        // Nearly every attestation carries the previous one's header: compare its bytes before
        // copying and hashing 2.5 KB into a dictionary key.
        if let last, Self.sameBytes(header, last.header) { return last.id }
        let key = String(header)
        if let id = ids[key] {
            last = (key, id)
            return id
        }
        let select = try connection.cachedStatement("SELECT id FROM jws_headers WHERE header = ?1")
        try select.bind(key, at: 1)
        let found = try select.step() ? select.int64(at: 0) : nil
        try select.reset()
        let id: Int64
        if let found {
            id = found
        } else {
            let insert = try connection.cachedStatement("INSERT INTO jws_headers (header) VALUES (?1)")
            try insert.bind(key, at: 1)
            try insert.run()
            id = connection.lastInsertRowID
        }
        // Bounded: one header per signing key (and per certificate renewal) in practice.
        if ids.count >= 64 { ids.removeAll() }
        ids[key] = id
        last = (key, id)
        return id
    }

    private static func sameBytes(_ a: Substring, _ b: String) -> Bool {
        guard a.utf8.count == b.utf8.count else { return false }
        let compared = a.utf8.withContiguousStorageIfAvailable { x in
            b.utf8.withContiguousStorageIfAvailable { y in x.count == 0 || memcmp(x.baseAddress!, y.baseAddress!, x.count) == 0 }
        }
        return compared.flatMap { $0 } ?? a.utf8.elementsEqual(b.utf8)
    }

    func forget() {
        ids.removeAll()
        last = nil
    }
}

@available(*, unavailable)
extension JWSHeaderTable: Sendable {}
