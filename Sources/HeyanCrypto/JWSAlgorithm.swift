/// A JWS `alg` heyan signs and verifies, decided by the key type.
///
/// `ES256` (RFC 7518 §3.4) and `EdDSA` with Ed25519 (RFC 8037) are registered JOSE algorithms.
/// `SM2` is **heyan's extension**, not registered with IANA: an SM2 signature (GB/T 32918.2) over
/// the SM3 hash with signer ID `1234567812345678` (GB/T 35276), encoded like ES256 as the 64-byte
/// big-endian `R ‖ S`. See `docs/jws-sm2.md`.
public enum JWSAlgorithm: String, Sendable, CaseIterable {
    case es256 = "ES256"
    case edDSA = "EdDSA"
    case sm2 = "SM2"

    /// The JWS algorithm for a key type.
    public init(keyAlgorithm: KeyAlgorithm) {
        switch keyAlgorithm {
        case .ecP256: self = .es256
        case .ed25519: self = .edDSA
        case .sm2: self = .sm2
        }
    }

    /// The key type this algorithm signs with.
    public var keyAlgorithm: KeyAlgorithm {
        switch self {
        case .es256: .ecP256
        case .edDSA: .ed25519
        case .sm2: .sm2
        }
    }

    /// Whether the JWS signature is `R ‖ S` (ECDSA and SM2) rather than the signature as-is (Ed25519).
    var usesFixedWidthRS: Bool { self != .edDSA }
}
