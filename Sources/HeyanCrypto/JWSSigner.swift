import HeyanDomain
import COpenSSL
import Synchronization

/// Signs JWS compact serializations (RFC 7515) with one key and its certificate chain: heyan's
/// attestations and audit checkpoints.
///
/// The header is `{"alg","typ","kid","x5c"}` in that order, compact, `kid` left out when nil;
/// `x5c` is the chain as standard Base64 DER, leaf first. The algorithm follows the key:
/// ES256 for P-256, EdDSA for Ed25519, SM2 (heyan's extension, see ``JWSAlgorithm``) for SM2.
///
/// Thread-safe: many threads sign at once, each with a prepared context taken from a
/// `Mutex`-guarded pool, instead of running `EVP_DigestSignInit` per signature. ES256 contexts are
/// an `EVP_PKEY_CTX` initialised once and signing a SHA-256 computed per call (the fastest path,
/// as `openssl speed` signs); EdDSA and SM2 (which hash inside the signature: Ed25519 itself, SM2's
/// Z value) copy a prepared `EVP_MD_CTX` template with `EVP_MD_CTX_copy_ex`.
public final class JWSSigner: Sendable {
    /// The `alg` of every signature this signer makes.
    public let algorithm: JWSAlgorithm
    /// The `x5c` chain, leaf first.
    public let chain: [Certificate]
    /// The `kid` header, if any.
    public let keyID: String?
    /// The protected header as it starts every signature: base64url of the header JSON.
    public let encodedHeader: String
    /// The encoded header followed by `.`: the constant start of every signing input.
    private let headerPrefix: [UInt8]
    private let contexts: Mutex<ContextPool>

    private let key: PrivateKey
    private let sha256: SHA256Algorithm?
    /// Bytes of the largest raw JWS signature of these algorithms (R‖S over P-256/SM2, Ed25519: 64).
    private static let largestSignature = 64

    private enum SigningContext {
        case prehash(ECDSAPrehashSigningContext)
        case digestSign(DigestSignatureContext)
    }

    private struct ContextPool {
        let template: DigestSignatureContext
        var idle: [SigningContext] = []
        static let maximumIdle = 64
    }

    /// A signer for `key`, whose certificate must be `chain[0]`.
    ///
    /// - Parameters:
    ///   - chain: leaf first, then intermediates; goes into `x5c`. Must not be empty.
    ///   - kid: the `kid` header; heyan's service uses the key's RFC 7638 thumbprint
    ///     (``JSONWebKey/thumbprint``).
    ///   - type: the `typ` header.
    public init(key: PrivateKey, chain: [Certificate], kid: String?, type: String = "heyan-attestation+jwt") throws {
        guard let leaf = chain.first else {
            throw CryptoError(code: "jws.chain", message: "a JWS signer needs its certificate chain (x5c), leaf first")
        }
        guard leaf.matches(key) else {
            throw CryptoError(code: "jws.chain", message: "the signing key does not belong to \(leaf.subject)")
        }
        algorithm = JWSAlgorithm(keyAlgorithm: key.algorithm)
        self.chain = chain
        keyID = kid
        var header = "{\"alg\":\(JSONText.quoted(algorithm.rawValue)),\"typ\":\(JSONText.quoted(type))"
        if let kid { header += ",\"kid\":\(JSONText.quoted(kid))" }
        header += ",\"x5c\":[" + chain.map { "\"\(Base64.encode($0.derBytes))\"" }.joined(separator: ",") + "]}"
        encodedHeader = Base64URL.encode(header)
        headerPrefix = Array((encodedHeader + ".").utf8)
        self.key = key
        sha256 = algorithm == .es256 ? try SHA256Algorithm() : nil
        contexts = Mutex(ContextPool(template: try DigestSignatureContext.signing(with: key)))
    }

    /// The compact serialization `header.payload.signature` of `payload`.
    public func sign(payload: [UInt8]) throws -> String {
        var signingInput = headerPrefix
        // One allocation for the whole serialization: header, payload, `.`, an 86-character signature.
        signingInput.reserveCapacity(
            headerPrefix.count + Base64Alphabet.encodedLength(payload.count, padded: false) + 1
                + Base64Alphabet.encodedLength(Self.largestSignature, padded: false))
        payload.withUnsafeBytes { Base64Alphabet.url.append($0, padded: false, to: &signingInput) }
        let signature = try self.signature(over: signingInput)
        signingInput.append(UInt8(ascii: "."))
        signature.withUnsafeBytes { Base64Alphabet.url.append($0, padded: false, to: &signingInput) }
        return String(decoding: signingInput, as: UTF8.self)
    }

    /// The raw JWS signature bytes over `signingInput` (ES256 and SM2: 64-byte R‖S; EdDSA: 64 bytes).
    public func signature(over signingInput: [UInt8]) throws -> [UInt8] {
        let context = try takeContext()
        defer {
            contexts.withLock { pool in
                if pool.idle.count < ContextPool.maximumIdle { pool.idle.append(context) }
            }
        }
        // 80 bytes hold a DER ECDSA/SM2 signature over a 256-bit curve (at most 72) and Ed25519's 64.
        return try withUnsafeTemporaryAllocation(byteCount: 80, alignment: 1) { output in
            let length = try signingInput.withUnsafeBytes { input in
                switch context {
                case .prehash(let prehash): try prehash.sign(input, into: output)
                case .digestSign(let digestSign): try digestSign.sign(input, into: output)
                }
            }
            let signature = UnsafeRawBufferPointer(rebasing: output[0 ..< length])
            return algorithm.usesFixedWidthRS ? try ECDSASignatureEncoding.rawRS(fromDER: signature) : Array(signature)
        }
    }
}

extension JWSSigner {
    /// An idle context from the pool, or a new one (at most one per concurrently signing thread).
    private func takeContext() throws -> SigningContext {
        if let sha256 {
            let idle = contexts.withLock { $0.idle.popLast() }
            return try idle ?? .prehash(ECDSAPrehashSigningContext(key: key, digest: sha256, prefix: headerPrefix))
        }
        return try contexts.withLock { pool in
            let context: DigestSignatureContext
            if case .digestSign(let idle)? = pool.idle.popLast() {
                context = idle
            } else {
                context = try DigestSignatureContext()
            }
            try context.copy(from: pool.template)
            return .digestSign(context)
        }
    }
}

