import FoundationEssentials
import HeyanCrypto
import HeyanDomain
import HeyanHTTP

#if canImport(Glibc)
    import Glibc
#endif

/// `heyan attestation verify`: checks an electronic attestation (电子证明) the way a relying party
/// does, offline, and with `--online` also asks the service whether it is still active.
///
///     heyan attestation verify FILE|- --trust CA.pem [--crl CRL.pem] [--at RFC3339]
///                              [--online https://HOST:PORT --cert CERT.pem --key KEY.pem]
///
/// The input is a compact JWS or a JSON object with a `jws` member (what
/// `GET /v1/attestations/{id}` returns). Checked, in this order: the x5c chain against `--trust`
/// (and `--crl`) at the verification time, the signature, `typ`, the payload's required members,
/// the validity window `nbf <= now < exp`, and online the status and that the signing key is in
/// the service's published key set (`GET /.well-known/jwks.json`, by `kid`). Exit status: 0 valid, 1 invalid
/// (the first failed check is printed to stderr as `invalid: <check>: <why>`, the check being
/// `malformed`, `algorithm`, `chain`, `signature`, `type`, `payload`, `not yet valid`, `expired`,
/// `revoked` or `online`), 2 usage errors and unreadable input or trust files.
enum AttestationCommand {
    static let usage = """
        usage: heyan attestation verify FILE|- --trust CA.pem [--crl CRL.pem] [--at RFC3339]
                                        [--online https://HOST:PORT --cert CERT.pem --key KEY.pem]
                                        [--proof BUNDLE --log-key VKEY]
               heyan attestation verify --proof BUNDLE --log-key VKEY
        """

    /// The JWS `typ` of every heyan attestation.
    static let attestationType = "heyan-attestation+jwt"
    /// The payload members design.md promises (schemas/attestation.schema.json).
    static let requiredMembers = [
        "iss", "jti", "iat", "nbf", "exp", "verification", "certificateType", "method", "issuer", "requester",
        "matterCode", "subject", "claims", "outcome", "disclosed", "legalBasis",
    ]
    /// Larger input is not an attestation (one with a three-certificate chain is about 3 KiB).
    static let maximumInputBytes = 1 << 20

    static func run(arguments: [String]) throws -> Int32 {
        guard arguments.first == "verify" else {
            return usageError(arguments.isEmpty ? nil : "unknown subcommand '\(arguments[0])'")
        }
        let options: CommandLineOptions
        do {
            options = try CommandLineOptions(
                Array(arguments.dropFirst()),
                valued: ["--trust", "--crl", "--at", "--online", "--cert", "--key", "--proof", "--log-key"])
        } catch let error as CommandLineOptions.UsageError {
            return usageError(error.description)
        }
        // The audit log proof bundle (AttestationProofCheck.swift); alone, or after the attestation.
        var proof: (bundle: [UInt8], vkey: String)?
        if let file = options["--proof"] {
            guard let vkey = options["--log-key"] else { return usageError("--proof needs the log's --log-key VKEY") }
            do {
                // A bundle saved by a shell helper that adds a newline (README's `as`) ends in blank
                // lines; the note itself ends at its last signature line.
                var bundle = try readFile(file)
                while bundle.count >= 2, bundle[bundle.count - 1] == 0x0A, bundle[bundle.count - 2] == 0x0A { bundle.removeLast() }
                proof = (bundle, vkey)
            } catch {
                writeError("heyan attestation verify: \(error)")
                return 2
            }
            if options.positional.isEmpty {
                do {
                    print(try AttestationProofCheck.check(bundle: proof!.bundle, vkey: vkey, attestationID: nil))
                    return 0
                } catch {
                    writeError("invalid: proof: \(error)")
                    return 1
                }
            }
        }
        guard options.positional.count == 1 else { return usageError("give one FILE, or - for stdin") }
        guard let trustFile = options["--trust"] else { return usageError("--trust CA.pem is required") }
        var now = SystemClock().nowSeconds()
        if let at = options["--at"] {
            guard let millis = Timestamp.parse(at) else { return usageError("--at '\(at)' is not an RFC 3339 time") }
            now = millis >= 0 ? millis / 1000 : -((-millis + 999) / 1000)
        }
        var online: OnlineCheck?
        if let url = options["--online"] {
            guard let certificate = options["--cert"], let key = options["--key"] else {
                return usageError("--online needs the department's --cert and --key")
            }
            guard let endpoint = ServiceEndpoint(url) else {
                return usageError("--online '\(url)' is not https://HOST[:PORT]")
            }
            online = OnlineCheck(endpoint: endpoint, certificate: certificate, key: key, trust: trustFile)
        } else if options["--cert"] != nil || options["--key"] != nil {
            return usageError("--cert and --key are for --online")
        }

        let input: [UInt8]
        let trust: TrustStore
        do {
            let source = options.positional[0]
            input = try source == "-" ? readAll(fd: 0, name: "stdin") : readFile(source)
            trust = try TrustStore(caFile: trustFile, crlFile: options["--crl"])
        } catch {
            writeError("heyan attestation verify: \(error)")
            return 2
        }

        switch verify(input, trust: trust, now: now, online: online) {
        case .valid(let report):
            print(report)
            if let proof {
                do {
                    print(
                        try AttestationProofCheck.check(
                            bundle: proof.bundle, vkey: proof.vkey, attestationID: AttestationProofCheck.jti(of: input)))
                } catch {
                    writeError("invalid: proof: \(error)")
                    return 1
                }
            }
            return 0
        case .invalid(let check, let reason):
            writeError("invalid: \(check): \(reason)")
            return 1
        }
    }

    enum Verdict {
        /// The printable report.
        case valid(String)
        /// The first check that failed, and why.
        case invalid(String, String)
    }

    /// All checks on `input` (compact JWS, or JSON with a `jws` member) at `now` (unix seconds).
    static func verify(_ input: [UInt8], trust: TrustStore, now: Int64, online: OnlineCheck?) -> Verdict {
        guard input.count <= maximumInputBytes else {
            return .invalid("malformed", "the input is larger than \(maximumInputBytes) bytes")
        }
        guard let compact = JWSInput.compactJWS(in: input) else {
            return .invalid(
                "malformed", "the input is neither a compact JWS nor a JSON object with a string 'jws' or 'attestation.jws'")
        }
        let verified: VerifiedJWS
        do {
            verified = try JWSVerifier.verify(compact, trust: trust, at: now)
        } catch let error as CryptoError {
            let check =
                switch error.code {
                case "jws.signature": "signature"
                case "jws.chain": "chain"
                case "jws.algorithm": "algorithm"
                default: "malformed"
                }
            return .invalid(check, error.message)
        } catch {
            return .invalid("malformed", "\(error)")
        }
        guard verified.type == attestationType else {
            return .invalid("type", "typ is \(verified.type.map { "'\($0)'" } ?? "absent"), not '\(attestationType)'")
        }
        guard let document = try? JSONDecoder().decode(JSONDocument.self, from: Data(verified.payload)),
            case .object(let members) = document
        else { return .invalid("payload", "the payload is not a JSON object") }
        let missing = requiredMembers.filter { members[$0] == nil }
        guard missing.isEmpty else {
            return .invalid("payload", "missing \(missing.joined(separator: ", "))")
        }
        guard case .integer(let notBefore)? = members["nbf"], case .integer(let expires)? = members["exp"] else {
            return .invalid("payload", "nbf and exp must be integer NumericDates")
        }
        guard case .string(let id)? = members["jti"], !id.isEmpty else {
            return .invalid("payload", "jti must be a non-empty string")
        }
        guard now >= notBefore else {
            return .invalid("not yet valid", "valid from \(rfc3339(notBefore)), checked at \(rfc3339(now))")
        }
        guard now < expires else {
            return .invalid("expired", "expired at \(rfc3339(expires)), checked at \(rfc3339(now))")
        }

        var statusLine: String?
        var keyLine: String?
        if let online {
            switch online.status(of: id) {
            case .success(let status):
                guard status.status == "active" else {
                    let check =
                        status.status == "revoked" ? "revoked" : status.status == "expired" ? "expired" : "online"
                    var reason = "the service reports \(id) as \(status.status)"
                    if let at = status.revokedAt { reason += " since \(at)" }
                    if let why = status.revocationReason { reason += ": \(why)" }
                    return .invalid(check, reason)
                }
                statusLine = "active (asked \(online.endpoint.description))"
            case .failure(let failure):
                return .invalid("online", failure.description)
            }
            switch online.publishedKey(signedBy: verified.chain[0], keyID: verified.keyID) {
            case .success(let kid): keyLine = "\(kid) is in \(online.endpoint.description)\(SigningKeySetPath.path)"
            case .failure(let failure): return .invalid("online", failure.description)
            }
        }

        let signer = verified.chain[0]
        var report = "valid attestation \(id)\n"
        report += "  alg:     \(verified.algorithm.rawValue)\n"
        report += "  kid:     \(verified.keyID ?? "-")\n"
        report += "  signer:  \(signer.subject)\n"
        report +=
            "  chain:   \(verified.chain.map(\.subject).joined(separator: " <- ")) <- \(verified.chain.last!.issuer)\n"
        report += "  valid:   \(rfc3339(notBefore)) to \(rfc3339(expires)) (checked at \(rfc3339(now)))\n"
        if let statusLine { report += "  status:  \(statusLine)\n" }
        if let keyLine { report += "  key:     \(keyLine)\n" }
        report += "payload:\n"
        var pretty: [UInt8] = []
        document.write(into: &pretty, indent: 0)
        report += String(decoding: pretty, as: UTF8.self)
        return .valid(report)
    }

    static func rfc3339(_ seconds: Int64) -> String {
        let (product, overflow) = seconds.multipliedReportingOverflow(by: 1000)
        return overflow ? String(seconds) : Timestamp.rfc3339(product)
    }

    private static func usageError(_ message: String?) -> Int32 {
        if let message { writeError("heyan attestation: \(message)") }
        writeError(usage)
        return 2
    }

    private static func writeError(_ text: String) {
        let line = text + "\n"
        _ = line.withCString { write(2, $0, strlen($0)) }
    }

    private static func readFile(_ path: String) throws -> [UInt8] {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw InputError(description: "cannot open \(path): \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        return try readAll(fd: fd, name: path)
    }

    private static func readAll(fd: Int32, name: String) throws -> [UInt8] {
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 16_384)
        while bytes.count <= maximumInputBytes {
            let count = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if count < 0 && errno == EINTR { continue }
            guard count >= 0 else {
                throw InputError(description: "cannot read \(name): \(String(cString: strerror(errno)))")
            }
            if count == 0 { break }
            bytes += chunk[0..<count]
        }
        return bytes
    }

    struct InputError: Error, CustomStringConvertible {
        let description: String
    }
}

// MARK: - The online status check

/// `https://HOST[:PORT]` of a heyan service.
struct ServiceEndpoint: CustomStringConvertible {
    var host: String
    var port: Int

    init?(_ url: String) {
        guard url.hasPrefix("https://") else { return nil }
        var authority = url.dropFirst("https://".count)
        if authority.hasSuffix("/") { authority = authority.dropLast() }
        guard !authority.isEmpty, !authority.contains("/"), !authority.contains("@") else { return nil }
        if let colon = authority.lastIndex(of: ":") {
            guard let port = Int(authority[authority.index(after: colon)...]), (1...65_535).contains(port) else {
                return nil
            }
            host = String(authority[..<colon])
            self.port = port
        } else {
            host = String(authority)
            port = 443
        }
        guard !host.isEmpty else { return nil }
    }

    var description: String { "https://\(host):\(port)" }

    /// The host's IPv4 address (TLSClientConnection connects over IPv4).
    func resolveIPv4() -> String? {
        var hints = addrinfo()
        hints.ai_family = AF_INET
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        var result: UnsafeMutablePointer<addrinfo>?
        guard getaddrinfo(host, nil, &hints, &result) == 0, let first = result else { return nil }
        defer { freeaddrinfo(result) }
        guard let address = first.pointee.ai_addr else { return nil }
        return address.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { ipv4 in
            var inAddress = ipv4.pointee.sin_addr
            var text = [CChar](repeating: 0, count: Int(INET_ADDRSTRLEN))
            guard inet_ntop(AF_INET, &inAddress, &text, socklen_t(text.count)) != nil else { return nil }
            return String(decoding: text.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        }
    }
}

/// `GET /v1/attestations/{id}/status` over mTLS with a department certificate. The server must
/// chain to the same CA as the attestation (`--trust`).
struct OnlineCheck {
    let endpoint: ServiceEndpoint
    let certificate: String
    let key: String
    let trust: String

    struct Status: Decodable {
        var status: String
        var revokedAt: String?
        var revocationReason: String?
    }

    struct Failure: Error, CustomStringConvertible {
        let description: String
    }

    func status(of id: String) -> Result<Status, Failure> {
        guard
            id.utf8.allSatisfy({
                $0 < 0x80 && (isalnum(Int32($0)) != 0 || $0 == UInt8(ascii: "_") || $0 == UInt8(ascii: "-"))
            })
        else { return .failure(Failure(description: "jti '\(id)' is not an identifier heyan issues")) }
        let response: ClientResponse
        switch get("/v1/attestations/\(id)/status") {
        case .success(let answer): response = answer
        case .failure(let failure): return .failure(failure)
        }
        guard response.status == 200 else {
            let detail = (try? JSONDecoder().decode(ProblemSummary.self, from: Data(response.body)))?.detail
            return .failure(
                Failure(description: "\(endpoint) answered \(response.status)\(detail.map { ": \($0)" } ?? "")"))
        }
        guard let status = try? JSONDecoder().decode(Status.self, from: Data(response.body)) else {
            return .failure(Failure(description: "\(endpoint) answered 200 without a status object"))
        }
        return .success(status)
    }

    private struct ProblemSummary: Decodable { var detail: String? }

    private struct KeySet: Decodable {
        struct Key: Decodable {
            var kid: String?
            var kty: String?
            var crv: String?
            var x: String?
            var y: String?
        }
        var keys: [Key]
    }

    /// Whether the service publishes `signer`'s key under the attestation's `kid` (for an
    /// attestation without one, under the key's thumbprint). Success: the kid.
    func publishedKey(signedBy signer: Certificate, keyID: String?) -> Result<String, Failure> {
        let jwk: JSONWebKey
        do {
            jwk = try JSONWebKey(certificate: signer)
        } catch {
            return .failure(Failure(description: "the signer's key has no JWK form: \(error)"))
        }
        let kid = keyID ?? jwk.thumbprint
        let response: ClientResponse
        switch get(SigningKeySetPath.path) {
        case .success(let answer): response = answer
        case .failure(let failure): return .failure(failure)
        }
        guard response.status == 200,
            let set = try? JSONDecoder().decode(KeySet.self, from: Data(response.body))
        else {
            return .failure(Failure(description: "\(endpoint)\(SigningKeySetPath.path) answered \(response.status) without a JWK Set"))
        }
        guard let entry = set.keys.first(where: { $0.kid == kid }) else {
            return .failure(Failure(description: "the signing key \(kid) is not in \(endpoint)'s key set"))
        }
        guard entry.kty == jwk.kty, entry.crv == jwk.crv, entry.x == jwk.x, entry.y == jwk.y else {
            return .failure(Failure(description: "\(endpoint) publishes another key under kid \(kid)"))
        }
        return .success(kid)
    }

    /// `GET path` over mTLS with the department certificate.
    private func get(_ path: String) -> Result<ClientResponse, Failure> {
        guard let address = endpoint.resolveIPv4() else {
            return .failure(Failure(description: "cannot resolve \(endpoint.host)"))
        }
        do {
            let context = try TLSClientContext(certificate: certificate, key: key, trust: trust)
            let connection = try TLSClientConnection(
                host: address, port: endpoint.port, context: context, serverName: endpoint.host)
            return .success(try connection.request("GET", path, headers: [("Accept", "application/json")]))
        } catch {
            return .failure(Failure(description: "cannot ask \(endpoint): \(error)"))
        }
    }
}

/// Where heyan publishes its signing keys (`SigningKeyRoutes` in HeyanServer).
enum SigningKeySetPath {
    static let path = "/.well-known/jwks.json"
}

// MARK: - Printing the payload

/// Any JSON value, decoded with `JSONDecoder` and printed with two-space indentation and sorted
/// keys (the payload's own order is not kept; heyan signs claims with sorted keys anyway).
enum JSONDocument: Decodable {
    case null
    case bool(Bool)
    case integer(Int64)
    case number(Double)
    case string(String)
    case array([JSONDocument])
    case object([String: JSONDocument])

    init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        if container.decodeNil() {
            self = .null
        } else if let value = try? container.decode(Bool.self) {
            self = .bool(value)
        } else if let value = try? container.decode(Int64.self) {
            self = .integer(value)
        } else if let value = try? container.decode(Double.self) {
            self = .number(value)
        } else if let value = try? container.decode(String.self) {
            self = .string(value)
        } else if let value = try? container.decode([JSONDocument].self) {
            self = .array(value)
        } else {
            self = .object(try container.decode([String: JSONDocument].self))
        }
    }

    func write(into buffer: inout [UInt8], indent: Int) {
        func newline(_ level: Int) {
            buffer.append(UInt8(ascii: "\n"))
            buffer.append(contentsOf: repeatElement(UInt8(ascii: " "), count: 2 * level))
        }
        switch self {
        case .null: buffer.append(contentsOf: "null".utf8)
        case .bool(let value): buffer.append(contentsOf: (value ? "true" : "false").utf8)
        case .integer(let value): JSONText.appendInt(value, to: &buffer)
        case .number(let value): JSONText.appendDouble(value, to: &buffer)
        case .string(let value): JSONText.appendString(value, to: &buffer)
        case .array(let elements):
            guard !elements.isEmpty else { return buffer.append(contentsOf: "[]".utf8) }
            buffer.append(UInt8(ascii: "["))
            for (index, element) in elements.enumerated() {
                if index > 0 { buffer.append(UInt8(ascii: ",")) }
                newline(indent + 1)
                element.write(into: &buffer, indent: indent + 1)
            }
            newline(indent)
            buffer.append(UInt8(ascii: "]"))
        case .object(let members):
            guard !members.isEmpty else { return buffer.append(contentsOf: "{}".utf8) }
            buffer.append(UInt8(ascii: "{"))
            for (index, key) in members.keys.sorted(by: { $0.utf8.lexicographicallyPrecedes($1.utf8) }).enumerated() {
                if index > 0 { buffer.append(UInt8(ascii: ",")) }
                newline(indent + 1)
                JSONText.appendString(key, to: &buffer)
                buffer.append(contentsOf: ": ".utf8)
                members[key]!.write(into: &buffer, indent: indent + 1)
            }
            newline(indent)
            buffer.append(UInt8(ascii: "}"))
        }
    }
}
