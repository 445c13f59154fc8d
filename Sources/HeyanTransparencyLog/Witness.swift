/// What a witness remembers about one log: the last checkpoint it cosigned.
public struct WitnessedLog: Hashable, Sendable, Codable {
    public var origin: String
    public var size: UInt64
    /// Base64 root of the checkpoint of `size` (the empty tree's root before the first one).
    public var root: String

    public init(origin: String, size: UInt64, root: String) {
        self.origin = origin
        self.size = size
        self.root = root
    }
}

/// The answer to a C2SP `tlog-witness` `add-checkpoint` request, as the protocol defines it.
public enum WitnessAnswer: Equatable, Sendable {
    /// 200: the cosignature line to attach; the caller must persist `state` before answering.
    case cosigned(NoteSignature, state: WitnessedLog)
    /// 400 malformed request, or old size larger than the checkpoint's.
    case badRequest(String)
    /// 403: the log's signature is absent or does not verify.
    case forbidden(String)
    /// 404: the witness does not know this origin.
    case unknownLog(String)
    /// 409 `text/x.tlog.size`: the request's old size is not the size the witness holds.
    case conflict(witnessSize: UInt64)
    /// 422: the consistency proof does not verify (a fork or a rollback).
    case unprocessable(String)

    public var status: Int {
        switch self {
        case .cosigned: 200
        case .badRequest: 400
        case .forbidden: 403
        case .unknownLog: 404
        case .conflict: 409
        case .unprocessable: 422
        }
    }
}

/// The decision of a witness for one `add-checkpoint` body, pure: which log keys it trusts, what it
/// last cosigned, the request, and the time. It never goes backwards (a smaller size) or sideways
/// (another root at the same size, or a tree that does not extend the last one).
public struct WitnessPolicy: Sendable {
    public let cosigner: Cosigner
    /// Trusted log keys by origin (the key name is the origin).
    public let logs: [String: NoteVerifierKey]

    public init(cosigner: Cosigner, logs: [NoteVerifierKey]) {
        self.cosigner = cosigner
        self.logs = Dictionary(logs.map { ($0.name, $0) }, uniquingKeysWith: { first, _ in first })
    }

    /// The request body: `old <size>\n`, at most 63 Base64 proof lines, a blank line, the signed
    /// checkpoint. `known` is the state for that origin (nil: never seen, as if size 0).
    public func addCheckpoint(body: String, known: (String) -> WitnessedLog?, now: UInt64) -> WitnessAnswer {
        let bytes = Array(body.utf8)
        guard let blank = bytes.indices.dropLast().first(where: { bytes[$0] == 0x0A && bytes[$0 + 1] == 0x0A }) else {
            return .badRequest("no blank line after the proof")
        }
        let head = String(decoding: bytes[..<blank], as: UTF8.self).split(separator: "\n", omittingEmptySubsequences: false)
        let noteText = String(decoding: bytes[(blank + 2)...], as: UTF8.self)
        guard let first = head.first, first.hasPrefix("old "), let oldSize = UInt64(first.dropFirst(4)),
            String(oldSize) == first.dropFirst(4)
        else { return .badRequest("the first line is old <size>") }
        let proofLines = head.dropFirst()
        guard proofLines.count <= 63 else { return .badRequest("at most 63 proof lines") }
        var proof: [MerkleHash] = []
        for line in proofLines {
            guard let hash = MerkleHash(base64: String(line)) else { return .badRequest("a proof line is 32 bytes of Base64") }
            proof.append(hash)
        }
        let note: SignedNote
        let checkpoint: Checkpoint
        do {
            note = try SignedNote(parsing: noteText)
            checkpoint = try Checkpoint(body: note.text)
        } catch {
            return .badRequest("not a signed checkpoint: \(error)")
        }
        guard let logKey = logs[checkpoint.origin] else { return .unknownLog("unknown origin \(checkpoint.origin)") }
        do { _ = try logKey.verify(note) } catch { return .forbidden("\(error)") }
        guard oldSize <= checkpoint.size else { return .badRequest("old size \(oldSize) > checkpoint size \(checkpoint.size)") }
        let state = known(checkpoint.origin) ?? WitnessedLog(origin: checkpoint.origin, size: 0, root: MerkleHash.emptyTree.base64)
        guard oldSize == state.size else { return .conflict(witnessSize: state.size) }
        guard let oldRoot = MerkleHash(base64: state.root) else { return .unprocessable("stored root unreadable") }
        if oldSize == 0 {
            // Nothing to be consistent with yet: the proof must be empty.
            guard proof.isEmpty else { return .unprocessable("a proof from size 0 must be empty") }
        } else if !Merkle.verifyConsistency(
            first: oldSize, second: checkpoint.size, firstRoot: oldRoot, secondRoot: checkpoint.root, proof: proof)
        {
            return .unprocessable("the checkpoint of size \(checkpoint.size) is not consistent with size \(oldSize)")
        }
        do {
            let line = try cosigner.cosign(checkpointBody: note.text, time: now)
            return .cosigned(line, state: WitnessedLog(origin: checkpoint.origin, size: checkpoint.size, root: checkpoint.root.base64))
        } catch {
            return .unprocessable("cannot cosign: \(error)")
        }
    }
}

/// The log's side of C2SP `tlog-witness`: the `add-checkpoint` request body and the check of a
/// witness's answer (docs/transparency-log.md, "Witnesses").
public enum AddCheckpointRequest {
    /// `old <size>\n`, the consistency proof from `oldSize` (one Base64 hash a line), a blank
    /// line, then the signed checkpoint note.
    public static func body(oldSize: UInt64, proof: [MerkleHash], note: String) -> String {
        "old \(oldSize)\n" + proof.map { $0.base64 + "\n" }.joined() + "\n" + note
    }

    /// The cosignature by `key` in a 200 answer's body (one or more signature lines), verified
    /// against the checkpoint `note` was signed over; throws when there is none or it does not verify.
    public static func cosignature(inAnswer body: String, note: SignedNote, key: CosignatureKey) throws -> NoteSignature {
        let lines = try SignedNote(parsing: note.text + "\n" + body).signatures
        guard let line = lines.first(where: { $0.name == key.name && $0.keyID == key.keyID }) else {
            throw NoteError.unverified("the answer holds no cosignature by \(key.name)")
        }
        guard try key.verifiedTime(of: SignedNote(text: note.text, signatures: [line])) != nil else {
            throw NoteError.unverified("the cosignature by \(key.name) does not verify")
        }
        return line
    }

    /// The size in a 409 `text/x.tlog.size` answer.
    public static func witnessSize(inConflict body: String) -> UInt64? {
        var text = Substring(body)
        while text.last == "\n" { text.removeLast() }
        guard let size = UInt64(text), String(size) == text else { return nil }
        return size
    }
}
