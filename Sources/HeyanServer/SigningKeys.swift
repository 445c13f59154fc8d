import FoundationEssentials
import HeyanCrypto
import HeyanDomain
import Synchronization

/// The attestation signing key loaded from `signing` in heyan.json, with its two signers.
///
/// The JWS `kid` is the key's RFC 7638 thumbprint (SHA-256, base64url), so every key has its own
/// `kid` and a verifier can find the key in the published key set by it.
struct SigningIdentity: Sendable {
    /// `typ` `heyan-attestation+jwt`: attestations and commitment receipts.
    let signer: JWSSigner
    /// The same key, `typ` `heyan-audit-checkpoint+jwt`.
    let checkpointSigner: JWSSigner
    let keyID: String
    /// Leaf first.
    let chain: [Certificate]

    /// Loads the key (refusing a key file readable by others) and the chain.
    init(files: SigningFiles) throws {
        let key = try PrivateKey.load(pemFile: files.privateKey)
        var chain = try Certificate.loadChain(pemFile: files.certificate)
        for path in files.chain { chain += try Certificate.loadChain(pemFile: path) }
        keyID = try JSONWebKey(privateKey: key).thumbprint
        signer = try JWSSigner(key: key, chain: chain, kid: keyID)
        checkpointSigner = try JWSSigner(key: key, chain: chain, kid: keyID, type: "heyan-audit-checkpoint+jwt")
        self.chain = chain
    }
}

/// One entry of `GET /.well-known/jwks.json`.
struct PublishedKey: Sendable, Equatable {
    let kid: String
    /// The JWK as compact JSON (``JSONWebKey/setEntry(kid:chain:)``).
    let entry: String
    /// The signing certificate's notAfter (unix seconds): no signature of this key verifies later.
    let notAfter: Int64
}

/// The JWK Set heyan publishes: the current key and every earlier one whose certificate has not
/// expired (docs/api.md, "Signing keys").
enum SigningKeySet {
    /// The keys of `headers` (base64url JWS protected headers, oldest first, as stored in
    /// `jws_headers`) and of `current`. One entry per `kid`; for a key whose certificate was
    /// renewed, the chain with the latest notAfter. A header that does not parse is skipped and
    /// reported in `skipped`.
    static func build(current: SigningIdentity, headers: [String]) -> (keys: [PublishedKey], skipped: Int) {
        struct Header: Decodable {
            var kid: String?
            var x5c: [String]?
        }
        var byID: [String: PublishedKey] = [:]
        var skipped = 0
        func add(kid: String?, chain: [Certificate]) throws {
            let leaf = chain[0]
            let jwk = try JSONWebKey(certificate: leaf)
            let kid = kid ?? jwk.thumbprint
            let key = PublishedKey(kid: kid, entry: jwk.setEntry(kid: kid, chain: chain), notAfter: leaf.notAfter)
            if let known = byID[kid], known.notAfter >= key.notAfter { return }
            byID[kid] = key
        }
        for encoded in headers {
            do {
                guard let json = Base64URL.decode(encoded),
                    let header = try? JSONDecoder().decode(Header.self, from: Data(json)),
                    let x5c = header.x5c, !x5c.isEmpty
                else { throw CryptoError(code: "jws.malformed", message: "not a header with x5c") }
                let chain = try x5c.map { entry -> Certificate in
                    guard let der = Base64.decode(entry) else {
                        throw CryptoError(code: "jws.chain", message: "x5c entry is not Base64")
                    }
                    return try Certificate(der: der)
                }
                try add(kid: header.kid, chain: chain)
            } catch {
                skipped += 1
            }
        }
        // The current key is published even if its header could not be recorded.
        try? add(kid: current.keyID, chain: current.chain)
        let keys = byID.values.sorted {
            if ($0.kid == current.keyID) != ($1.kid == current.keyID) { return $0.kid == current.keyID }
            return ($0.notAfter, $0.kid) > ($1.notAfter, $1.kid)
        }
        return (keys, skipped)
    }

    /// `{"keys":[…]}` with the keys whose certificate is still valid at `now` (unix seconds), and
    /// the current key whatever its certificate says.
    static func body(_ keys: [PublishedKey], currentKeyID: String, now: Int64) -> [UInt8] {
        let entries = keys.filter { $0.kid == currentKeyID || $0.notAfter > now }.map(\.entry)
        return Array(("{\"keys\":[" + entries.joined(separator: ",") + "]}").utf8)
    }
}

/// What SIGHUP may replace while heyan runs: the signing key and its key set, and the working-day
/// calendar. Routes read a consistent snapshot; a reload swaps it whole.
final class ReloadableSettings: Sendable {
    struct Snapshot: Sendable {
        var identity: SigningIdentity
        var keys: [PublishedKey]
        var calendar: WorkingCalendar
    }

    private let state: Mutex<Snapshot>

    init(_ snapshot: Snapshot) { state = Mutex(snapshot) }

    var snapshot: Snapshot { state.withLock { $0 } }

    /// One value of the current snapshot, without copying the rest.
    func read<Value: Sendable>(_ body: (borrowing Snapshot) -> Value) -> Value { state.withLock { body($0) } }

    func update(_ change: (inout Snapshot) -> Void) { state.withLock { change(&$0) } }
}
