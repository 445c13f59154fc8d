import CSQLite
import HeyanCrypto
import HeyanDomain
import HeyanTransparencyLog

/// `heyan audit export`: the audit log for an outside reviewer (docs/audit.md, "Export"), as JSON
/// Lines from one read snapshot:
///
///     {"format":"heyan-audit-export/v1","treeSize":N,"subjects":"hmac-sha256"|"removed"}
///     {"index":0,"leaf":"<Base64 d>","time":"…","action":"…","actor":"…", …}     one per leaf
///     {"checkpoint":"<signed note with its cosignatures>"}                        one per note
///
/// No entry carries a subject ID: it is removed, or replaced by `HMAC-SHA-256(key, subject ID)` in
/// hex when a pseudonym key is given (the reviewer can count entries per subject, not name one);
/// of `detail` only ``AuditRetention/keptDetail`` is exported, and no salt. Each entry's leaf
/// data `d` is exported, so the reviewer rebuilds the tree (RFC 6962 leaf hash `SHA-256(0x00 ‖ d)`)
/// and checks its root against every signed checkpoint — without being able to recompute `d`
/// from the entry, which is the point.
public enum AuditExport {
    public static let format = "heyan-audit-export/v1"

    public struct Summary: Sendable, Equatable {
        public var entries: UInt64
        public var checkpoints: Int
    }

    /// Writes the export of the database at `databasePath` line by line through `write`.
    public static func export(
        databasePath: String, pseudonymKey: [UInt8]?, write: (String) throws -> Void
    ) throws -> Summary {
        let connection = try SQLiteConnection(path: databasePath, mode: .readOnly)
        try connection.withConnectionPointer { handle in
            try SQLiteError.check(sqlite3_busy_timeout(handle, 5000), connection: handle, sql: "sqlite3_busy_timeout")
        }
        return try connection.transaction(.deferred) {
            let state = try AuditTree.state(on: connection)
            let header = JSONValue.object([
                ("format", .string(format)), ("treeSize", .int(Int64(state.size))),
                ("subjects", .string(pseudonymKey == nil ? "removed" : "hmac-sha256")),
            ])
            try write(String(decoding: header.jsonBytes(), as: UTF8.self) + "\n")
            let statement = try connection.prepare(
                "SELECT \(AuditRow.columns) FROM audit_log WHERE sequence <= ?1 ORDER BY sequence")
            try statement.bind(Int64(state.size), at: 1)
            var count: UInt64 = 0
            while try statement.step() {
                let entry = try AuditRow.decode(statement)
                guard let leaf = statement.blob(at: AuditRow.Column.leaf.position), entry.sequence == Int64(count) + 1 else {
                    throw StoredRowError.null(table: "audit_log", key: String(entry.sequence), column: "leaf")
                }
                var members: [(String, JSONValue)] = [
                    ("index", .int(entry.sequence - 1)), ("leaf", .string(Base64.encode(leaf))),
                    ("time", .string(Timestamp.rfc3339(entry.time))), ("action", .string(entry.event.action.rawValue)),
                    ("actor", .string(entry.event.actor)),
                ]
                if let requester = entry.event.requester { members.append(("requester", .string(requester))) }
                if let owner = entry.event.owner { members.append(("owner", .string(owner))) }
                if let type = entry.event.certificateType { members.append(("certificateType", .string(type))) }
                if let key = pseudonymKey, let subject = entry.event.subjectID {
                    members.append(("subject", .string(hex(Digest.hmacSHA256(key: key, data: Array(subject.utf8))))))
                }
                let detail = AuditRetention.keptDetail(of: entry.event.detail)
                if !detail.isEmpty {
                    members.append(("detail", .object(detail.keys.sorted().map { ($0, .string(detail[$0]!)) })))
                }
                try write(String(decoding: JSONValue.object(members).jsonBytes(), as: UTF8.self) + "\n")
                count += 1
            }
            let notes = try CheckpointNoteRow.all(on: connection).filter { $0.size <= state.size }
            for note in notes {
                try write(String(decoding: JSONValue.object([("checkpoint", .string(note.cosignedNote))]).jsonBytes(), as: UTF8.self) + "\n")
            }
            return Summary(entries: count, checkpoints: notes.count)
        }
    }

    private static func hex(_ bytes: [UInt8]) -> String {
        bytes.map { $0 < 16 ? "0" + String($0, radix: 16) : String($0, radix: 16) }.joined()
    }
}
