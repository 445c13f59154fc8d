import FoundationEssentials
import HeyanCrypto
import HeyanDomain
import HeyanTransparencyLog

/// `heyan attestation verify --proof FILE --log-key VKEY`: checks a C2SP `tlog-proof` bundle
/// (`GET /v1/attestations/{id}/proof`) offline: the checkpoint's signature with the log's verifier
/// key, the leaf recomputed from the bundle's salted entry, the inclusion path to the checkpoint's
/// root (RFC 9162 §2.1.3.2), and that the entry names the attestation (`attestation` = the JWS's
/// `jti` when the attestation is checked too). docs/transparency-log.md.
enum AttestationProofCheck {
    struct Failure: Error, CustomStringConvertible {
        let description: String
    }

    /// The report line, or a ``Failure`` naming what did not verify.
    static func check(bundle text: [UInt8], vkey: String, attestationID: String?) throws -> String {
        let key: NoteVerifierKey
        do {
            key = try NoteVerifierKey(vkey: vkey)
        } catch {
            throw Failure(description: "--log-key is not a verifier key (name+id+base64): \(error)")
        }
        let bundle = try ProofBundle(parsing: String(decoding: text, as: UTF8.self))
        let verified = try bundle.verify(with: key)
        struct Entry: Decodable { var attestation: String?; var action: String; var seq: Int64 }
        guard let entry = try? JSONDecoder().decode(Entry.self, from: Data(verified.entry)) else {
            throw Failure(description: "the proven entry is not an audit entry")
        }
        guard let named = entry.attestation else { throw Failure(description: "the proven entry names no attestation") }
        if let attestationID, named != attestationID {
            throw Failure(description: "the proven entry is about attestation \(named), not \(attestationID)")
        }
        return "in the audit log: entry \(entry.seq) (\(entry.action), attestation \(named)) at index \(verified.index) "
            + "of the tree of \(verified.checkpoint.size) signed by \(key.name)"
    }

    /// The `jti` of a compact JWS's payload (already verified by the caller).
    static func jti(of input: [UInt8]) -> String? {
        guard let compact = JWSInput.compactJWS(in: input) else { return nil }
        let parts = compact.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 3, let payload = Base64URL.decode(parts[1].utf8) else { return nil }
        struct Claims: Decodable { var jti: String? }
        return (try? JSONDecoder().decode(Claims.self, from: Data(payload)))?.jti
    }
}
