import COpenSSL
import Synchronization

/// Signs JWS compact serializations (RFC 7515) with one key and its certificate chain: heyan's
/// attestations and audit checkpoints.
///
/// The header is `{"alg","typ","kid","x5c"}` in that order, compact, `kid` left out when nil;
/// `x5c` is the chain as standard Base64 DER, leaf first. The algorithm follows the key:
/// ES256 for P-256, EdDSA for Ed25519, SM2 (heyan's extension, see ``JWSAlgorithm``) for SM2.
///
/// Thread-safe: many threads sign at once. A prepared `EVP_MD_CTX` (the template, set up once by
/// `EVP_DigestSignInit`) is copied with `EVP_MD_CTX_copy_ex` for each signature into a context
/// taken from a `Mutex`-guarded pool, instead of initialising a context per signature.
public final class JWSSigner: Sendable {
    /// The `alg` of every signature this signer makes.
    public let algorithm: JWSAlgorithm
    /// The `x5c` chain, leaf first.
    public let chain: [Certificate]
    /// The `kid` header, if any.
    public let keyID: String?
    /// The encoded header followed by `.`: the constant start of every signing input.
    private let headerPrefix: [UInt8]
    private let contexts: Mutex<ContextPool>

    private struct ContextPool {
        let template: DigestSignatureContext
        var idle: [DigestSignatureContext] = []
        static let maximumIdle = 64
    }

    /// A signer for `key`, whose certificate must be `chain[0]`.
    ///
    /// - Parameters:
    ///   - chain: leaf first, then intermediates; goes into `x5c`. Must not be empty.
    ///   - kid: the `kid` header.
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
        var header = "{\"alg\":\(JSONText.string(algorithm.rawValue)),\"typ\":\(JSONText.string(type))"
        if let kid { header += ",\"kid\":\(JSONText.string(kid))" }
        header += ",\"x5c\":[" + chain.map { "\"\(Base64.encode($0.derBytes))\"" }.joined(separator: ",") + "]}"
        headerPrefix = Array((Base64URL.encode(header) + ".").utf8)
        contexts = Mutex(ContextPool(template: try DigestSignatureContext.signing(with: key)))
    }

    /// The compact serialization `header.payload.signature` of `payload`.
    public func sign(payload: [UInt8]) throws -> String {
        var signingInput = headerPrefix
        signingInput.append(contentsOf: Base64URL.encode(payload).utf8)
        let signature = try self.signature(over: signingInput)
        signingInput.append(UInt8(ascii: "."))
        signingInput.append(contentsOf: Base64URL.encode(signature).utf8)
        return String(decoding: signingInput, as: UTF8.self)
    }

    /// The raw JWS signature bytes over `signingInput` (ES256 and SM2: 64-byte R‖S; EdDSA: 64 bytes).
    public func signature(over signingInput: [UInt8]) throws -> [UInt8] {
        let context = try contexts.withLock { pool in
            let context = try pool.idle.popLast() ?? DigestSignatureContext()
            try context.copy(from: pool.template)
            return context
        }
        defer {
            contexts.withLock { pool in
                if pool.idle.count < ContextPool.maximumIdle { pool.idle.append(context) }
            }
        }
        // 80 bytes hold a DER ECDSA/SM2 signature over a 256-bit curve (at most 72) and Ed25519's 64.
        return try withUnsafeTemporaryAllocation(byteCount: 80, alignment: 1) { output in
            let length = try signingInput.withUnsafeBytes { try context.sign($0, into: output) }
            let signature = UnsafeRawBufferPointer(rebasing: output[0 ..< length])
            return algorithm.usesFixedWidthRS ? try ECDSASignatureEncoding.rawRS(fromDER: signature) : Array(signature)
        }
    }
}

/// JSON text for header values.
enum JSONText {
    /// `value` as a JSON string literal, escaping quotes, backslashes and control characters.
    static func string(_ value: String) -> String {
        var output = "\""
        for scalar in value.unicodeScalars {
            switch scalar {
            case "\"": output += "\\\""
            case "\\": output += "\\\\"
            case "\n": output += "\\n"
            case "\r": output += "\\r"
            case "\t": output += "\\t"
            case _ where scalar.value < 0x20:
                output += "\\u" + String(scalar.value, radix: 16).leftPadded(to: 4)
            default: output.unicodeScalars.append(scalar)
            }
        }
        return output + "\""
    }
}
