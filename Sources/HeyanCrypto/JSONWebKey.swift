import COpenSSL
import HeyanDomain

/// The public half of a signing key as a JSON Web Key (RFC 7517), and its RFC 7638 thumbprint,
/// which heyan uses as the JWS `kid`.
///
/// - ES256 (P-256): `{"crv":"P-256","kty":"EC","x","y"}` (RFC 7518 §6.2), coordinates 32 bytes each.
/// - EdDSA (Ed25519): `{"crv":"Ed25519","kty":"OKP","x"}` (RFC 8037 §2), the 32-byte public key.
/// - SM2 (heyan's extension, docs/jws-sm2.md): `{"crv":"SM2","kty":"EC","x","y"}`, shaped like
///   P-256; no JOSE registry knows this curve name.
public struct JSONWebKey: Sendable, Equatable {
    public let kty: String
    public let crv: String
    /// base64url, unpadded.
    public let x: String
    /// base64url, unpadded; nil for OKP keys.
    public let y: String?
    public let algorithm: JWSAlgorithm

    /// The JWK of `certificate`'s public key.
    public init(certificate: Certificate) throws {
        let key = try certificate.withUnsafePointer { x509 -> OpaquePointer in
            guard let key = X509_get0_pubkey(x509) else {
                throw OpenSSLError.drain("X509_get0_pubkey", code: "openssl.key-load")
            }
            return key
        }
        // The pointer is the certificate's own; keep the certificate alive while it is read.
        self = try withExtendedLifetime(certificate) { try JSONWebKey(publicKey: key) }
    }

    /// The JWK of `key`'s public half.
    public init(privateKey key: PrivateKey) throws {
        self = try key.withUnsafePointer { try JSONWebKey(publicKey: $0) }
    }

    private init(publicKey key: OpaquePointer) throws {
        guard let keyAlgorithm = KeyAlgorithm(publicKey: key) else {
            throw CryptoError(code: "key.unsupported", message: "unsupported key type (heyan uses ec-p256, ed25519, sm2)")
        }
        algorithm = JWSAlgorithm(keyAlgorithm: keyAlgorithm)
        switch keyAlgorithm {
        case .ed25519:
            var raw = [UInt8](repeating: 0, count: 32)
            var length = raw.count
            guard EVP_PKEY_get_raw_public_key(key, &raw, &length) == 1, length == 32 else {
                throw OpenSSLError.drain("EVP_PKEY_get_raw_public_key", code: "openssl.key-encode")
            }
            kty = "OKP"
            crv = "Ed25519"
            x = Base64URL.encode(raw)
            y = nil
        case .ecP256, .sm2:
            kty = "EC"
            crv = keyAlgorithm == .sm2 ? "SM2" : "P-256"
            x = Base64URL.encode(try Self.coordinate(key, "qx"))
            y = Base64URL.encode(try Self.coordinate(key, "qy"))
        }
    }

    /// An EC public key coordinate (`qx`, `qy`) as 32 big-endian bytes, left-padded with zeros.
    private static func coordinate(_ key: OpaquePointer, _ name: String) throws -> [UInt8] {
        var number: OpaquePointer?
        guard EVP_PKEY_get_bn_param(key, name, &number) == 1, let number else {
            throw OpenSSLError.drain("EVP_PKEY_get_bn_param(\(name))", code: "openssl.key-encode")
        }
        defer { BN_free(number) }
        var bytes = [UInt8](repeating: 0, count: 32)
        guard BN_bn2binpad(number, &bytes, 32) == 32 else {
            throw OpenSSLError.drain("BN_bn2binpad", code: "openssl.key-encode")
        }
        return bytes
    }

    /// The required members in lexicographic order without whitespace: the RFC 7638 §3.2 input.
    public var thumbprintInput: String {
        var text = "{\"crv\":\(JSONText.quoted(crv)),\"kty\":\(JSONText.quoted(kty)),\"x\":\(JSONText.quoted(x))"
        if let y { text += ",\"y\":\(JSONText.quoted(y))" }
        return text + "}"
    }

    /// The RFC 7638 JWK thumbprint with SHA-256, base64url: heyan's `kid`.
    public var thumbprint: String { Base64URL.encode(Digest.sha256(Array(thumbprintInput.utf8))) }

    /// The JWK Set entry: `kty`, `crv`, `x`, `y`, `kid`, `alg`, `use` `sig`, and `x5c` (standard
    /// Base64 DER, leaf first), compact JSON.
    public func setEntry(kid: String, chain: [Certificate]) -> String {
        var text = "{\"kty\":\(JSONText.quoted(kty)),\"crv\":\(JSONText.quoted(crv)),\"x\":\(JSONText.quoted(x))"
        if let y { text += ",\"y\":\(JSONText.quoted(y))" }
        text += ",\"kid\":\(JSONText.quoted(kid)),\"alg\":\(JSONText.quoted(algorithm.rawValue)),\"use\":\"sig\""
        text += ",\"x5c\":[" + chain.map { "\"\(Base64.encode($0.derBytes))\"" }.joined(separator: ",") + "]}"
        return text
    }
}
