import COpenSSL
import FoundationEssentials

/// A JWS whose signature (and, with a trust store, certificate chain) checked out.
public struct VerifiedJWS: Sendable {
    /// The protected header, as the JSON bytes that were signed.
    public let header: [UInt8]
    public let algorithm: JWSAlgorithm
    /// The payload bytes (for heyan's attestations, JSON).
    public let payload: [UInt8]
    /// The certificate chain the signature was checked against, leaf (the signer) first.
    public let chain: [Certificate]
    /// The `typ` header, if present.
    public let type: String?
    /// The `kid` header, if present.
    public let keyID: String?
}

/// Verifies JWS compact serializations made by ``JWSSigner`` or any JOSE library using ES256,
/// EdDSA (Ed25519) or heyan's SM2.
///
/// Errors are ``CryptoError``s with codes `jws.malformed` (not three base64url parts, header not
/// JSON, unknown `crit`), `jws.algorithm` (unknown `alg`, or one that does not fit the signer's
/// key), `jws.chain` (no `x5c`, unparsable or untrusted chain, signer without keyUsage
/// digitalSignature) and `jws.signature` (the signature does not verify).
public enum JWSVerifier {
    /// Parses compact JWS, requires an x5c chain, verifies the chain with `trust` (purpose .any;
    /// signer needs keyUsage digitalSignature) at `time` (unix seconds; nil = now), then the signature.
    public static func verify(_ compact: String, trust: TrustStore, at time: Int64?) throws -> VerifiedJWS {
        let parsed = try ParsedJWS(compact)
        guard let x5c = parsed.fields.x5c, !x5c.isEmpty else {
            throw CryptoError(code: "jws.chain", message: "the JWS header has no x5c certificate chain")
        }
        var chain: [Certificate] = []
        for (index, entry) in x5c.enumerated() {
            guard let der = Base64.decode(entry), let certificate = try? Certificate(der: der) else {
                _ = OpenSSLError.drainQueue()
                throw CryptoError(code: "jws.chain", message: "x5c[\(index)] is not a Base64 DER certificate")
            }
            chain.append(certificate)
        }
        do {
            try trust.verify(chain, purpose: .any, at: time)
        } catch let error as CryptoError {
            throw CryptoError(code: "jws.chain", message: "the x5c chain is not trusted: \(error.message) (\(error.code))")
        }
        guard chain[0].allowsDigitalSignature else {
            throw CryptoError(
                code: "jws.chain", message: "the signer \(chain[0].subject) has no keyUsage digitalSignature")
        }
        return try parsed.verifySignature(signer: chain[0], chain: chain)
    }

    /// Verifies the signature with `signer`'s public key only: no chain, validity or usage checks
    /// (for a signer the caller already trusts, e.g. heyan's own checkpoint certificate). The
    /// result's chain is `[signer]`, whatever `x5c` says.
    public static func verify(_ compact: String, signer: Certificate) throws -> VerifiedJWS {
        try ParsedJWS(compact).verifySignature(signer: signer, chain: [signer])
    }
}

/// The three parts of a compact JWS, decoded but not yet trusted.
private struct ParsedJWS {
    struct HeaderFields: Decodable {
        var alg: String
        var typ: String?
        var kid: String?
        var x5c: [String]?
        var crit: [String]?
    }

    let header: [UInt8]
    let fields: HeaderFields
    let algorithm: JWSAlgorithm
    let payload: [UInt8]
    let signature: [UInt8]
    let signingInput: [UInt8]

    init(_ compact: String) throws {
        let bytes = Array(compact.utf8)
        let parts = bytes.split(separator: UInt8(ascii: "."), omittingEmptySubsequences: false)
        guard parts.count == 3 else {
            throw CryptoError(code: "jws.malformed", message: "a compact JWS has 3 parts, this one has \(parts.count)")
        }
        guard let header = Base64URL.decode(parts[0]), let payload = Base64URL.decode(parts[1]),
            let signature = Base64URL.decode(parts[2])
        else { throw CryptoError(code: "jws.malformed", message: "a JWS part is not unpadded base64url") }
        let fields: HeaderFields
        do {
            fields = try JSONDecoder().decode(HeaderFields.self, from: Data(header))
        } catch {
            throw CryptoError(code: "jws.malformed", message: "the JWS header is not a JSON object with a string alg")
        }
        if let crit = fields.crit {
            // RFC 7515 §4.1.11: a recipient must refuse critical extensions it does not understand (all).
            throw CryptoError(code: "jws.malformed", message: "unsupported critical header parameters \(crit)")
        }
        guard let algorithm = JWSAlgorithm(rawValue: fields.alg) else {
            throw CryptoError(code: "jws.algorithm", message: "unsupported JWS alg '\(fields.alg)'")
        }
        self.header = header
        self.fields = fields
        self.algorithm = algorithm
        self.payload = payload
        self.signature = signature
        signingInput = Array(bytes[parts[0].startIndex ..< parts[1].endIndex])
    }

    func verifySignature(signer: Certificate, chain: [Certificate]) throws -> VerifiedJWS {
        guard let keyAlgorithm = signer.publicKeyAlgorithm else {
            throw CryptoError(code: "jws.algorithm", message: "the signer \(signer.subject) has an unsupported key type")
        }
        guard keyAlgorithm == algorithm.keyAlgorithm else {
            throw CryptoError(
                code: "jws.algorithm",
                message: "alg \(algorithm.rawValue) does not fit the signer's \(keyAlgorithm.rawValue) key")
        }
        let encoded: [UInt8]
        if algorithm.usesFixedWidthRS {
            encoded = try ECDSASignatureEncoding.der(fromRawRS: signature)
        } else {
            guard signature.count == 64 else {
                throw CryptoError(code: "jws.signature", message: "an Ed25519 signature is 64 bytes, got \(signature.count)")
            }
            encoded = signature
        }
        let verified = try signer.withUnsafePointer { x509 -> Bool in
            guard let publicKey = X509_get0_pubkey(x509) else {
                throw OpenSSLError.drain("X509_get0_pubkey", code: "openssl.key-load")
            }
            let context = try DigestSignatureContext.verifying(with: publicKey, algorithm: keyAlgorithm)
            return context.verify(encoded, over: signingInput)
        }
        guard verified else {
            throw CryptoError(code: "jws.signature", message: "the JWS signature does not verify with \(signer.subject)'s key")
        }
        return VerifiedJWS(
            header: header, algorithm: algorithm, payload: payload, chain: chain, type: fields.typ, keyID: fields.kid)
    }
}
