import HeyanCrypto

/// C2SP `tlog-cosignature` (`cosignature/v1`, signature type 0x04): a witness's timestamped
/// Ed25519 statement "as of `time`, this is the largest consistent tree I have seen for this
/// origin". On the note it is an ordinary signature line whose bytes are
/// keyID[4] ‖ u64 big-endian time ‖ signature[64] (76 bytes).
public struct CosignatureKey: Hashable, Sendable {
    public static let type: UInt8 = 0x04

    public let name: String
    public let publicKey: [UInt8]

    public init(name: String, publicKey: [UInt8]) throws {
        try NoteKeyEncoding.validate(name: name, publicKey: publicKey)
        self.name = name
        self.publicKey = publicKey
    }

    /// Parses `name+hex8+base64(0x04 ‖ public key)`; refuses a key ID that does not match.
    public init(vkey: String) throws {
        (name, publicKey) = try NoteKeyEncoding.parse(vkey, type: Self.type, kind: "a cosignature/v1 verifier key")
    }

    /// SHA-256(name ‖ 0x0A ‖ 0x04 ‖ public key)[:4].
    public var keyID: [UInt8] { NoteKeyEncoding.keyID(name: name, type: Self.type, publicKey: publicKey) }

    public var vkey: String { NoteKeyEncoding.vkey(name: name, type: Self.type, publicKey: publicKey) }

    /// The bytes a cosignature signs: `cosignature/v1\ntime <T>\n` followed by the checkpoint body.
    public static func message(checkpointBody: String, time: UInt64) -> [UInt8] {
        Array("cosignature/v1\ntime \(time)\n".utf8) + Array(checkpointBody.utf8)
    }

    /// The time this key cosigned `note`'s checkpoint at, if one of its lines is a valid
    /// cosignature by this key; nil when none is; throws when one by this key fails to verify.
    public func verifiedTime(of note: SignedNote) throws -> UInt64? {
        for line in note.signatures where line.name == name && line.keyID == keyID {
            guard line.signature.count == 72 else { throw NoteError.unverified("a cosignature is 76 bytes") }
            let time = line.signature[..<8].reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
            let signature = Array(line.signature[8...])
            guard Ed25519.verify(signature, of: Self.message(checkpointBody: note.text, time: time), publicKey: publicKey)
            else { throw NoteError.unverified("the cosignature by \(name) does not verify") }
            return time
        }
        return nil
    }
}

/// Makes cosignatures with a witness's Ed25519 key.
public struct Cosigner: Sendable {
    public let key: CosignatureKey
    private let privateKey: PrivateKey

    public init(name: String, privateKey: PrivateKey) throws {
        key = try CosignatureKey(name: name, publicKey: try Ed25519.publicKey(of: privateKey))
        self.privateKey = privateKey
    }

    /// The signature line cosigning `checkpointBody` at `time` (unix seconds).
    public func cosign(checkpointBody: String, time: UInt64) throws -> NoteSignature {
        let signature = try Ed25519.sign(CosignatureKey.message(checkpointBody: checkpointBody, time: time), with: privateKey)
        let timeBytes = (0..<8).map { UInt8(truncatingIfNeeded: time >> (56 - 8 * UInt64($0))) }
        return NoteSignature(name: key.name, keyID: key.keyID, signature: timeBytes + signature)
    }
}
