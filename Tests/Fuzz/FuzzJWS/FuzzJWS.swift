import FoundationEssentials
import HeyanCrypto
import HeyanDomain

#if canImport(Glibc)
import Glibc
#endif

/// libFuzzer target for JWS parsing and verification (docs/fuzzing.md): ``JWSVerifier`` with real trust anchors
/// (two development PKIs made by `heyan pki init`, ES256 and EdDSA; their public certificates are in
/// `Tests/Fuzz/fixtures/jws/`), so inputs mutated from the real attestations in the seed corpus reach the chain and
/// signature checks.
///
/// Input: byte 0 picks the path; the rest is the text:
/// - 0, 1: `verify(_:trust:at:)` against the EC or Ed25519 CA (the `heyan attestation verify` path);
/// - 2, 3: `verify(_:signer:)` with the EC or Ed25519 signing certificate (no chain: reaches the signature check);
/// - 4: the text is a file given to `heyan attestation verify`: a compact JWS, or JSON with `jws` or
///   `attestation.jws`, then the payload must be a JSON object (the CLI's envelope and payload steps).
/// Checked: a verified JWS's parts are the canonical base64url of what was verified, its payload is what
/// was signed, and the chain starts with the signer.
///
/// `HEYAN_FUZZ_JWS_SEEDS=EC_PKI_DIR:ED_PKI_DIR:OUT_DIR` makes the seed corpus instead (signing with the private
/// keys of those PKIs, which are never committed) and exits.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzJWS(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    guard size >= 1 else { return 0 }
    let fixture = JWSFixture.shared
    let text = Array(UnsafeBufferPointer(start: data + 1, count: size - 1))
    let compact = String(decoding: text, as: UTF8.self)
    var verified: VerifiedJWS?
    var input = compact
    switch data[0] % 5 {
    case 0: verified = try? JWSVerifier.verify(compact, trust: fixture.ecTrust, at: fixture.time)
    case 1: verified = try? JWSVerifier.verify(compact, trust: fixture.edTrust, at: fixture.time)
    case 2: verified = try? JWSVerifier.verify(compact, signer: fixture.ecSigner)
    case 3: verified = try? JWSVerifier.verify(compact, signer: fixture.edSigner)
    default:
        guard let extracted = JWSInput.compactJWS(in: text) else { return 0 }
        input = extracted
        verified = try? JWSVerifier.verify(extracted, trust: fixture.ecTrust, at: fixture.time)
        if let verified {
            _ = try? JSONDecoder().decode([String: AnyJSON].self, from: Data(verified.payload))
        }
    }
    if JWSFixture.verbose { print("selector \(data[0] % 5): \(verified == nil ? "refused" : "verified")") }
    guard let verified else { return 0 }
    let parts = input.split(separator: ".", omittingEmptySubsequences: false)
    guard parts.count == 3,
        Base64URL.encode(verified.header) == String(parts[0]),
        Base64URL.encode(verified.payload) == String(parts[1]),
        let signature = Base64URL.decode(String(parts[2])), Base64URL.encode(signature) == String(parts[2])
    else { fatalError("a verified JWS whose parts are not the canonical encoding of what was verified: \(input)") }
    guard let leaf = verified.chain.first, leaf.derBytes == fixture.ecSigner.derBytes || leaf.derBytes == fixture.edSigner.derBytes
    else { fatalError("verified with a signer that is not a fixture signing certificate: \(input)") }
    return 0
}

@_cdecl("LLVMFuzzerInitialize")
public func fuzzJWSInitialize(
    _ argc: UnsafeMutablePointer<Int32>, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>
) -> Int32 {
    if let request = getenv("HEYAN_FUZZ_JWS_SEEDS") {
        do {
            try makeSeeds(String(cString: request))
            exit(0)
        } catch {
            fatalError("cannot make the JWS seeds: \(error)")
        }
    }
    _ = JWSFixture.shared
    return 0
}

private struct AnyJSON: Decodable {
    init(from decoder: any Decoder) throws {
        if let object = try? decoder.container(keyedBy: FieldKey.self) {
            for key in object.allKeys { _ = try object.decode(AnyJSON.self, forKey: key) }
        } else if var array = try? decoder.unkeyedContainer() {
            while !array.isAtEnd { _ = try array.decode(AnyJSON.self) }
        } else {
            _ = try decoder.singleValueContainer()
        }
    }
}

/// The committed public certificates and the verification time.
private struct JWSFixture: @unchecked Sendable {
    static let directory = getenv("HEYAN_FUZZ_JWS_FIXTURES").map { String(cString: $0) } ?? "Tests/Fuzz/fixtures/jws"
    static let shared = JWSFixture()
    /// `HEYAN_FUZZ_VERBOSE=1`: print whether each input verified (to check that the seeds reach the signature).
    static let verbose = getenv("HEYAN_FUZZ_VERBOSE") != nil

    let ecTrust: TrustStore
    let edTrust: TrustStore
    let ecSigner: Certificate
    let edSigner: Certificate
    let time: Int64

    init() {
        do {
            ecTrust = try TrustStore(caFile: "\(Self.directory)/ec/ca.pem", crlFile: "\(Self.directory)/ec/crl.pem")
            edTrust = try TrustStore(caFile: "\(Self.directory)/ed25519/ca.pem", crlFile: nil)
            ecSigner = try Certificate.loadChain(pemFile: "\(Self.directory)/ec/signing.pem")[0]
            edSigner = try Certificate.loadChain(pemFile: "\(Self.directory)/ed25519/signing.pem")[0]
            // One day after the certificates were made: inside every validity period, whatever the date today.
            time = try Int64(String(decoding: readAll("\(Self.directory)/time.txt").filter { $0 >= 0x30 && $0 <= 0x39 }, as: UTF8.self)) ?? 0
        } catch {
            fatalError("cannot load the JWS fixtures from \(Self.directory): \(error)")
        }
    }
}

/// Signs real attestations (and a few neighbours) with the two PKIs' signing keys; writes the seeds and the
/// public fixtures.
private func makeSeeds(_ request: String) throws {
    let parts = request.split(separator: ":").map(String.init)
    guard parts.count == 3 else { fatalError("HEYAN_FUZZ_JWS_SEEDS=EC_PKI_DIR:ED_PKI_DIR:OUT_DIR") }
    let out = parts[2]
    let payload = Array(
        #"{"certificateType":"CIV-MARRIAGE","claims":{"maritalStatus":"married"},"disclosed":{"maritalStatus":"married"},"exp":1893456000,"iat":1767225600,"iss":"urn:heyan:service","issuer":"civil-affairs","jti":"att_01JFUZZSEED0000000000000","legalBasis":"《婚姻登记条例》","matterCode":"HF-WITHDRAW-001","method":"department-verification","nbf":1767225600,"outcome":"confirmed","requester":"housing-fund","subject":{"id":"11010519491231002X","idType":"resident-id","name":"张三"},"verification":"ver_01JFUZZSEED000000000000"}"#
            .utf8)
    var seeds: [(String, [UInt8])] = []
    for (index, directory) in parts[0...1].enumerated() {
        let key = try PrivateKey.load(pemFile: "\(directory)/signing.key")
        let chain = try Certificate.loadChain(pemFile: "\(directory)/signing.pem")
        let ca = try Certificate.loadChain(pemFile: "\(directory)/ca.pem")
        let signer = try JWSSigner(key: key, chain: chain, kid: "heyan-signing-1")
        let name = index == 0 ? "es256" : "eddsa"
        let jws = try signer.sign(payload: payload)
        let selector: UInt8 = index == 0 ? 0 : 1
        seeds.append(("\(name)-attestation", [selector] + Array(jws.utf8)))
        seeds.append(("\(name)-signer-only", [selector + 2] + Array(jws.utf8)))
        let withCA = try JWSSigner(key: key, chain: chain + ca, kid: nil, type: "JWT")
        seeds.append(("\(name)-chain-with-ca", [selector] + Array(try withCA.sign(payload: Array("{}".utf8)).utf8)))
        if index == 0 {
            seeds.append(("es256-envelope", [4] + Array(#"{"id":"att_01","jws":"\#(jws)"}"#.utf8)))
            seeds.append(("es256-verification", [4] + Array(#"{"attestation":{"jws":"\#(jws)"}}"#.utf8)))
            seeds.append(("es256-wrong-anchor", [1] + Array(jws.utf8)))
        }
    }
    for (name, bytes) in seeds { try writeAll("\(out)/\(name)", bytes) }
}

private struct FileError: Error { let path: String }

private func readAll(_ path: String) throws -> [UInt8] {
    guard let file = fopen(path, "rb") else { throw FileError(path: path) }
    defer { fclose(file) }
    var bytes: [UInt8] = []
    var chunk = [UInt8](repeating: 0, count: 65536)
    while true {
        let count = fread(&chunk, 1, chunk.count, file)
        if count == 0 { break }
        bytes.append(contentsOf: chunk[0..<count])
    }
    return bytes
}

private func writeAll(_ path: String, _ bytes: [UInt8]) throws {
    guard let file = fopen(path, "wb") else { throw FileError(path: path) }
    defer { fclose(file) }
    guard fwrite(bytes, 1, bytes.count, file) == bytes.count else { throw FileError(path: path) }
}
