import FoundationEssentials

/// Where a compact JWS sits in what a person hands to `heyan attestation verify` (and the JWS
/// fuzz target feeds it the same way).
public enum JWSInput {
    /// The compact JWS in `input`: the text itself, the `jws` member of a JSON object (an
    /// attestation as `GET /v1/attestations/{id}` returns it), or `attestation.jws` (a verification
    /// as `GET /v1/verifications/{id}` returns it).
    public static func compactJWS(in input: [UInt8]) -> String? {
        let whitespace: Set<UInt8> = [0x20, 0x09, 0x0A, 0x0D]
        let start = input.firstIndex { !whitespace.contains($0) } ?? input.endIndex
        let end = input.lastIndex { !whitespace.contains($0) }.map { $0 + 1 } ?? start
        let text = String(decoding: input[start..<max(start, end)], as: UTF8.self)
        if text.hasPrefix("{") {
            struct Attestation: Decodable { var jws: String }
            struct Envelope: Decodable {
                var jws: String?
                var attestation: Attestation?
            }
            guard let envelope = try? JSONDecoder().decode(Envelope.self, from: Data(text.utf8)) else { return nil }
            return envelope.jws ?? envelope.attestation?.jws
        }
        return text.isEmpty ? nil : text
    }
}
