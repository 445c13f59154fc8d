import HeyanCrypto
import HeyanTransparencyLog

/// A witness's memory on disk: per log origin, the body of the last checkpoint it cosigned, in a
/// file written atomically and fsynced (file and directory) before the cosignature leaves. A
/// witness that forgot would cosign a rollback.
public struct WitnessStateDirectory: Sendable {
    public let path: String

    public init(path: String) throws {
        self.path = path
        try ProtectedFile.makeDirectory(path)
    }

    /// `checkpoint-<first 16 hex digits of SHA-256(origin)>`: one file per origin, whatever its characters.
    func file(origin: String) -> String {
        let digest = Digest.sha256(Array(origin.utf8)).prefix(8)
        return path + "/checkpoint-" + digest.map { $0 < 16 ? "0" + String($0, radix: 16) : String($0, radix: 16) }.joined()
    }

    /// The last cosigned state of `origin`; nil when never seen.
    public func load(origin: String) throws -> WitnessedLog? {
        let file = file(origin: origin)
        guard ProtectedFile.exists(file) else { return nil }
        let checkpoint = try Checkpoint(body: String(decoding: try ProtectedFile.read(file), as: UTF8.self))
        guard checkpoint.origin == origin else {
            throw NoteError.malformed("\(file) holds the state of \(checkpoint.origin), not \(origin)")
        }
        return WitnessedLog(origin: origin, size: checkpoint.size, root: checkpoint.root.base64)
    }

    public func save(_ state: WitnessedLog) throws {
        guard let root = MerkleHash(base64: state.root) else { throw NoteError.malformed("a root is 32 bytes") }
        let body = Checkpoint(origin: state.origin, size: state.size, root: root).body
        try ProtectedFile.writeAtomically(Array(body.utf8), to: file(origin: state.origin), mode: 0o600)
    }
}
