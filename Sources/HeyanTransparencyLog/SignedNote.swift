import HeyanCrypto

/// Why a note, a key or a checkpoint was refused.
public enum NoteError: Error, Equatable, CustomStringConvertible {
    case malformed(String)
    case badKey(String)
    case unverified(String)

    public var code: String {
        switch self {
        case .malformed: "note.malformed"
        case .badKey: "note.bad-key"
        case .unverified: "note.unverified"
        }
    }

    public var description: String {
        switch self {
        case .malformed(let why), .badKey(let why), .unverified(let why): why
        }
    }
}

/// Key names of signed notes: non-empty, no whitespace, no `+`.
enum NoteKeyName {
    static func isValid(_ name: String) -> Bool {
        !name.isEmpty && !name.unicodeScalars.contains { $0 == "+" || $0.properties.isWhitespace || $0.value < 0x20 }
    }
}

/// One signature line of a note: `— <name> base64(keyID ‖ signature)`.
public struct NoteSignature: Hashable, Sendable {
    public let name: String
    public let keyID: [UInt8]
    public let signature: [UInt8]

    public init(name: String, keyID: [UInt8], signature: [UInt8]) {
        self.name = name
        self.keyID = keyID
        self.signature = signature
    }

    public var line: String { "— \(name) \(Base64.encode(keyID + signature))\n" }
}

/// A C2SP `signed-note`: text ending in a newline, a blank line, one or more signature lines.
public struct SignedNote: Hashable, Sendable {
    public let text: String
    public let signatures: [NoteSignature]

    public init(text: String, signatures: [NoteSignature]) {
        self.text = text
        self.signatures = signatures
    }

    /// The note as served: text, blank line, signature lines.
    public var serialized: String { text + "\n" + signatures.map(\.line).joined() }

    /// Parses a note; the text ends at the last blank line.
    public init(parsing note: String) throws {
        guard note.hasSuffix("\n") else { throw NoteError.malformed("a note ends with a newline") }
        guard !note.unicodeScalars.contains(where: { $0.value < 0x20 && $0 != "\n" }) else {
            throw NoteError.malformed("a note holds no control characters but newlines")
        }
        let scalars = Array(note.utf8)
        var split: Int?
        var i = scalars.count - 2
        while i >= 0 {
            if scalars[i] == 0x0A && scalars[i + 1] == 0x0A {
                split = i
                break
            }
            i -= 1
        }
        guard let split else { throw NoteError.malformed("a note has a blank line before its signatures") }
        let text = String(decoding: scalars[...split], as: UTF8.self)
        let lines = String(decoding: scalars[(split + 2)...], as: UTF8.self).dropLast().split(
            separator: "\n", omittingEmptySubsequences: false)
        guard !lines.isEmpty else { throw NoteError.malformed("a note has at least one signature") }
        var signatures: [NoteSignature] = []
        for line in lines {
            let parts = line.split(separator: " ", omittingEmptySubsequences: false)
            guard parts.count == 3, parts[0] == "—", NoteKeyName.isValid(String(parts[1])),
                let bytes = Base64.decode(String(parts[2])), bytes.count > 4
            else { throw NoteError.malformed("bad signature line: \(line)") }
            signatures.append(
                NoteSignature(name: String(parts[1]), keyID: Array(bytes[..<4]), signature: Array(bytes[4...])))
        }
        self.init(text: text, signatures: signatures)
    }
}

/// The text form shared by C2SP verifier keys of every signature type:
/// `name+hex(keyID)+base64(type ‖ public key)`, key ID = SHA-256(name ‖ 0x0A ‖ type ‖ public key)[:4].
enum NoteKeyEncoding {
    static func validate(name: String, publicKey: [UInt8]) throws {
        guard NoteKeyName.isValid(name) else { throw NoteError.badKey("bad key name \(name)") }
        guard publicKey.count == 32 else { throw NoteError.badKey("an Ed25519 public key is 32 bytes") }
    }

    /// Name and public key of a `vkey` of signature type `type`; refuses a key ID that does not match.
    static func parse(_ vkey: String, type: UInt8, kind: String) throws -> (name: String, publicKey: [UInt8]) {
        // The Base64 key may itself hold '+': split at the first two only (names have none).
        let parts = vkey.split(separator: "+", maxSplits: 2, omittingEmptySubsequences: false)
        guard parts.count == 3, parts[1].count == 8, let keyData = Base64.decode(String(parts[2])), keyData.first == type
        else { throw NoteError.badKey("not \(kind)") }
        let name = String(parts[0])
        let publicKey = Array(keyData.dropFirst())
        try validate(name: name, publicKey: publicKey)
        guard hex(keyID(name: name, type: type, publicKey: publicKey)) == parts[1] else {
            throw NoteError.badKey("the key ID does not match the key")
        }
        return (name, publicKey)
    }

    static func keyID(name: String, type: UInt8, publicKey: [UInt8]) -> [UInt8] {
        Array(Digest.sha256(Array(name.utf8) + [0x0A, type] + publicKey).prefix(4))
    }

    static func vkey(name: String, type: UInt8, publicKey: [UInt8]) -> String {
        "\(name)+\(hex(keyID(name: name, type: type, publicKey: publicKey)))+\(Base64.encode([type] + publicKey))"
    }

    static func hex(_ bytes: [UInt8]) -> String {
        bytes.map { let s = String($0, radix: 16); return s.count == 1 ? "0" + s : s }.joined()
    }
}

/// An Ed25519 note key (signature type 0x01): name, key ID, and the verifier key text
/// `name+hex(keyID)+base64(0x01 ‖ public key)` that verifiers are configured with.
public struct NoteVerifierKey: Hashable, Sendable {
    public static let ed25519Type: UInt8 = 0x01

    public let name: String
    public let publicKey: [UInt8]

    public init(name: String, publicKey: [UInt8]) throws {
        try NoteKeyEncoding.validate(name: name, publicKey: publicKey)
        self.name = name
        self.publicKey = publicKey
    }

    /// Parses `name+hex8+base64(0x01 ‖ key)`; refuses a key ID that does not match.
    public init(vkey: String) throws {
        (name, publicKey) = try NoteKeyEncoding.parse(vkey, type: Self.ed25519Type, kind: "an Ed25519 verifier key")
    }

    /// SHA-256(name ‖ 0x0A ‖ 0x01 ‖ public key)[:4].
    public var keyID: [UInt8] { NoteKeyEncoding.keyID(name: name, type: Self.ed25519Type, publicKey: publicKey) }

    public var vkey: String { NoteKeyEncoding.vkey(name: name, type: Self.ed25519Type, publicKey: publicKey) }

    /// Verifies `note` under C2SP rules: signatures by other keys are ignored; a signature by
    /// this key (same name and key ID) must verify; at least one must. Returns the text.
    public func verify(_ note: SignedNote) throws -> String {
        let mine = note.signatures.filter { $0.name == name && $0.keyID == keyID }
        guard !mine.isEmpty else { throw NoteError.unverified("no signature by \(name)") }
        for signature in mine where !Ed25519.verify(signature.signature, of: Array(note.text.utf8), publicKey: publicKey) {
            throw NoteError.unverified("the signature by \(name) does not verify")
        }
        return note.text
    }

}

/// Signs notes with an Ed25519 key.
public struct NoteSigner: Sendable {
    public let verifierKey: NoteVerifierKey
    private let key: PrivateKey

    public init(name: String, key: PrivateKey) throws {
        verifierKey = try NoteVerifierKey(name: name, publicKey: try Ed25519.publicKey(of: key))
        self.key = key
    }

    public func sign(text: String) throws -> NoteSignature {
        guard text.hasSuffix("\n") else { throw NoteError.malformed("note text ends with a newline") }
        return NoteSignature(
            name: verifierKey.name, keyID: verifierKey.keyID, signature: try Ed25519.sign(Array(text.utf8), with: key))
    }

    /// A checkpoint signed by this key.
    public func sign(_ checkpoint: Checkpoint) throws -> SignedNote {
        SignedNote(text: checkpoint.body, signatures: [try sign(text: checkpoint.body)])
    }
}
