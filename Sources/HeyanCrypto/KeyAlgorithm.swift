/// The key types heyan generates and accepts.
///
/// `ec-p256` (ECDSA P-256, the default, JWS `ES256`), `ed25519` (JWS `EdDSA`) and `sm2`
/// (GB/T 32918, JWS `SM2`, heyan's extension: see `docs/jws-sm2.md`).
public enum KeyAlgorithm: String, Sendable, CaseIterable {
    case ecP256 = "ec-p256"
    case ed25519 = "ed25519"
    case sm2 = "sm2"
}
