/// Where the service listens: `127.0.0.1:8443`, `[::1]:8443`, `gateway.example:443`.
public struct ListenAddress: Codable, Hashable, Sendable, CustomStringConvertible {
    /// Without brackets for IPv6 (`::1`).
    public let host: String
    public let port: Int

    /// Parses `host:port`; IPv6 hosts in brackets. Port 0–65535 (0: any free port, for tests and tools).
    public init(parsing text: String) throws(ValidationIssue) {
        func refuse(_ why: String) -> ValidationIssue {
            ValidationIssue(path: "", message: "'\(text)' is not host:port: \(why)")
        }
        let host: Substring
        let portText: Substring
        if text.hasPrefix("[") {
            guard let close = text.firstIndex(of: "]") else { throw refuse("missing ']' after an IPv6 address") }
            host = text[text.index(after: text.startIndex)..<close]
            let rest = text[text.index(after: close)...]
            guard rest.hasPrefix(":") else { throw refuse("expected ':' and a port after ']'") }
            portText = rest.dropFirst()
            guard !host.isEmpty,
                host.unicodeScalars.allSatisfy({ $0.properties.isASCIIHexDigit || $0 == ":" || $0 == "." })
            else { throw refuse("not an IPv6 address inside the brackets") }
        } else {
            guard let colon = text.lastIndex(of: ":") else { throw refuse("missing ':port'") }
            host = text[..<colon]
            portText = text[text.index(after: colon)...]
            guard !host.isEmpty else { throw refuse("missing host") }
            guard
                host.unicodeScalars.allSatisfy({
                    ("a"..."z").contains($0) || ("A"..."Z").contains($0) || ("0"..."9").contains($0) || $0 == "."
                        || $0 == "-"
                })
            else { throw refuse("a host is a name or an IPv4 address; write an IPv6 address in brackets") }
        }
        guard !portText.isEmpty, portText.count <= 5, portText.unicodeScalars.allSatisfy({ ("0"..."9").contains($0) }),
            portText == "0" || portText.first != "0", let port = Int(portText), (0...65535).contains(port)
        else { throw refuse("the port must be a number from 0 to 65535") }
        self.host = String(host)
        self.port = port
    }

    public var description: String { host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)" }

    public init(from decoder: any Decoder) throws {
        let text = try decoder.singleValueContainer().decode(String.self)
        do {
            self = try ListenAddress(parsing: text)
        } catch {
            throw ValidationIssue(path: JSONPath.render(decoder.codingPath), message: error.message)
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(description)
    }
}

/// The server's TLS files. Every connection needs a client certificate chaining to `clientCA`
/// and not revoked by `crl`.
public struct TLSFiles: Codable, Hashable, Sendable {
    public var certificate: String
    public var privateKey: String
    public var clientCA: String
    public var crl: String

    public init(certificate: String, privateKey: String, clientCA: String, crl: String) {
        self.certificate = certificate
        self.privateKey = privateKey
        self.clientCA = clientCA
        self.crl = crl
    }

    enum CodingKeys: String, CodingKey, CaseIterable { case certificate, privateKey, clientCA, crl }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.strictContainer(keyedBy: CodingKeys.self)
        certificate = try container.decode(String.self, forKey: .certificate)
        privateKey = try container.decode(String.self, forKey: .privateKey)
        clientCA = try container.decode(String.self, forKey: .clientCA)
        crl = try container.decode(String.self, forKey: .crl)
    }
}

/// The attestation signing key and the chain put into each JWS `x5c` header.
///
/// The JWS `kid` is not configured: it is the RFC 7638 thumbprint of the key (docs/api.md), so a
/// new key always has a new `kid` and the published key set (`GET /.well-known/jwks.json`) never
/// holds two keys under one name. SIGHUP re-reads these files (rotation, docs/configuration.md).
public struct SigningFiles: Codable, Hashable, Sendable {
    public var certificate: String
    public var privateKey: String
    /// Intermediate and root certificates after `certificate`, in order.
    public var chain: [String]

    public init(certificate: String, privateKey: String, chain: [String] = []) {
        self.certificate = certificate
        self.privateKey = privateKey
        self.chain = chain
    }

    enum CodingKeys: String, CodingKey, CaseIterable { case certificate, privateKey, chain }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.strictContainer(keyedBy: CodingKeys.self)
        certificate = try container.decode(String.self, forKey: .certificate)
        privateKey = try container.decode(String.self, forKey: .privateKey)
        chain = try container.decodeStrictIfPresent([String].self, forKey: .chain) ?? []
    }
}

/// The audit log as a transparency log (docs/transparency-log.md): the Ed25519 key that signs its
/// C2SP checkpoints and the origin (also the key's name) they carry. Optional in `heyan.json`: a
/// configuration without it still loads; the tree is kept and proofs are served, but no checkpoint
/// note is signed, so attestation proof bundles answer 503 until it is configured.
public struct AuditLogSettings: Codable, Hashable, Sendable {
    /// PEM file of the log's Ed25519 private key (`log.key`, made by `heyan pki init`).
    public var logKey: String
    /// The checkpoint origin and key name, `<service host>/audit/v1`.
    public var origin: String
    /// Seconds between checks whether the tree grew (a checkpoint is signed only then).
    public var checkpointIntervalSeconds: Int

    /// The outside witnesses each new checkpoint is pushed to (C2SP `tlog-witness`).
    public var witnesses: [WitnessSettings]
    /// How many of ``witnesses`` must have cosigned a checkpoint before attestation proofs are
    /// issued against it (k of n). Default: 1 when witnesses are configured, else 0.
    public var witnessQuorum: Int
    /// The client certificate heyan presents to the witnesses (mTLS) and the CA it trusts for
    /// theirs; required when ``witnesses`` is not empty.
    public var witnessClient: WitnessClientFiles?
    /// When personal data of old audit entries, verifications and attestations is erased; nil:
    /// kept (docs/audit.md, "Retention").
    public var retention: RetentionSettings?

    public static let defaultOrigin = "localhost/audit/v1"

    public init(
        logKey: String, origin: String = AuditLogSettings.defaultOrigin, checkpointIntervalSeconds: Int = 2,
        witnesses: [WitnessSettings] = [], witnessQuorum: Int? = nil, witnessClient: WitnessClientFiles? = nil
    ) {
        self.logKey = logKey
        self.origin = origin
        self.checkpointIntervalSeconds = checkpointIntervalSeconds
        self.witnesses = witnesses
        self.witnessQuorum = witnessQuorum ?? (witnesses.isEmpty ? 0 : 1)
        self.witnessClient = witnessClient
    }

    enum CodingKeys: String, CodingKey, CaseIterable {
        case logKey, origin, checkpointIntervalSeconds, witnesses, witnessQuorum, witnessClient, retention
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.strictContainer(keyedBy: CodingKeys.self)
        logKey = try container.decode(String.self, forKey: .logKey)
        origin = try container.decodeStrictIfPresent(String.self, forKey: .origin) ?? Self.defaultOrigin
        checkpointIntervalSeconds = try container.decodeIntegerIfPresent(forKey: .checkpointIntervalSeconds) ?? 2
        witnesses = try container.decodeStrictIfPresent([WitnessSettings].self, forKey: .witnesses) ?? []
        witnessQuorum = try container.decodeIntegerIfPresent(forKey: .witnessQuorum) ?? (witnesses.isEmpty ? 0 : 1)
        witnessClient = try container.decodeStrictIfPresent(WitnessClientFiles.self, forKey: .witnessClient)
        retention = try container.decodeStrictIfPresent(RetentionSettings.self, forKey: .retention)
    }

    /// Problems with the witness settings (names unique, URLs `https://host:port[/prefix]`, k ≤ n).
    var witnessIssues: [ValidationIssue] {
        var issues: [ValidationIssue] = []
        if let retention {
            if retention.accessRecordDays < RetentionSettings.minimumAccessRecordDays {
                issues.append(.init(
                    path: "audit.retention.accessRecordDays",
                    message: "must be at least \(RetentionSettings.minimumAccessRecordDays) (3 years: PIPL Art. 55–56)"))
            }
            if retention.securityLogDays < RetentionSettings.minimumSecurityLogDays {
                issues.append(.init(
                    path: "audit.retention.securityLogDays",
                    message: "must be at least \(RetentionSettings.minimumSecurityLogDays) (6 months: Cybersecurity Law Art. 21)"))
            }
        }
        if !(0...witnesses.count).contains(witnessQuorum) {
            issues.append(.init(path: "audit.witnessQuorum", message: "must be between 0 and the number of witnesses (\(witnesses.count))"))
        }
        if !witnesses.isEmpty, witnessClient == nil {
            issues.append(.init(path: "audit.witnessClient", message: "is required with witnesses: the client certificate heyan presents to them"))
        }
        var names = Set<String>()
        for (index, witness) in witnesses.enumerated() {
            if !names.insert(witness.name).inserted {
                issues.append(.init(path: "audit.witnesses[\(index)].name", message: "'\(witness.name)' is listed twice"))
            }
            if witness.endpoint == nil {
                issues.append(.init(path: "audit.witnesses[\(index)].url", message: "must be https://host:port[/prefix]"))
            }
        }
        return issues
    }

    /// An origin is a C2SP key name: non-empty, no spaces, no `+`, printable ASCII here.
    var originIsValid: Bool {
        !origin.isEmpty && origin.utf8.allSatisfy { $0 > 0x20 && $0 < 0x7F && $0 != UInt8(ascii: "+") }
    }
}

/// How long personal data in the audit log, verifications and attestations is kept
/// (docs/audit.md, "Retention"). The law sets floors, so shorter values are refused.
public struct RetentionSettings: Codable, Hashable, Sendable {
    /// 3 years of 365 days (PIPL Art. 55–56: records of processing kept at least three years).
    public static let minimumAccessRecordDays = 1095
    /// 6 months (Cybersecurity Law Art. 21: network logs kept at least six months).
    public static let minimumSecurityLogDays = 183

    /// Entries naming a subject (verifications, commitments, record changes, access reports),
    /// and verifications and attestations: erased this many days after their time.
    public var accessRecordDays: Int
    /// Refused-request entries (their `route` may carry a subject ID): erased after this many days.
    public var securityLogDays: Int

    public init(accessRecordDays: Int = minimumAccessRecordDays, securityLogDays: Int = minimumSecurityLogDays) {
        self.accessRecordDays = accessRecordDays
        self.securityLogDays = securityLogDays
    }

    enum CodingKeys: String, CodingKey, CaseIterable { case accessRecordDays, securityLogDays }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.strictContainer(keyedBy: CodingKeys.self)
        accessRecordDays = try container.decodeIntegerIfPresent(forKey: .accessRecordDays) ?? Self.minimumAccessRecordDays
        securityLogDays = try container.decodeIntegerIfPresent(forKey: .securityLogDays) ?? Self.minimumSecurityLogDays
    }
}

/// One outside witness of the audit log (docs/transparency-log.md, "Witnesses").
public struct WitnessSettings: Codable, Hashable, Sendable {
    /// The witness's key name (as in its cosignature lines).
    public var name: String
    /// Its verifier key, C2SP `cosignature/v1` (`name+keyID+Base64(0x04 ‖ key)`), printed by `heyan witness init`.
    public var vkey: String
    /// `https://host:port[/prefix]`: heyan POSTs `<prefix>/add-checkpoint`.
    public var url: String

    public init(name: String, vkey: String, url: String) {
        self.name = name
        self.vkey = vkey
        self.url = url
    }

    enum CodingKeys: String, CodingKey, CaseIterable { case name, vkey, url }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.strictContainer(keyedBy: CodingKeys.self)
        name = try container.decode(String.self, forKey: .name)
        vkey = try container.decode(String.self, forKey: .vkey)
        url = try container.decode(String.self, forKey: .url)
    }

    /// Host, port and path prefix of ``url``; nil unless it is `https://host:port[/prefix]`.
    public var endpoint: (host: String, port: Int, prefix: String)? {
        guard url.hasPrefix("https://") else { return nil }
        let rest = url.dropFirst("https://".count)
        let authority = rest.prefix { $0 != "/" }
        var prefix = String(rest.dropFirst(authority.count))
        while prefix.hasSuffix("/") { prefix.removeLast() }
        guard let colon = authority.lastIndex(of: ":"), let port = Int(authority[authority.index(after: colon)...]),
            (1...65535).contains(port), colon > authority.startIndex
        else { return nil }
        let host = String(authority[..<colon])
        guard host.utf8.allSatisfy({ $0 > 0x20 && $0 < 0x7F && $0 != UInt8(ascii: "@") }),
            prefix.utf8.allSatisfy({ $0 > 0x20 && $0 < 0x7F && $0 != UInt8(ascii: "?") && $0 != UInt8(ascii: "#") })
        else { return nil }
        return (host, port, prefix)
    }
}

/// The client identity heyan presents to its witnesses, and the CA their server certificates
/// must chain to. In the development PKI: `heyan pki issue --department heyan-log` and `ca.pem`.
public struct WitnessClientFiles: Codable, Hashable, Sendable {
    public var certificate: String
    public var privateKey: String
    public var trust: String

    public init(certificate: String, privateKey: String, trust: String) {
        self.certificate = certificate
        self.privateKey = privateKey
        self.trust = trust
    }

    enum CodingKeys: String, CodingKey, CaseIterable { case certificate, privateKey, trust }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.strictContainer(keyedBy: CodingKeys.self)
        certificate = try container.decode(String.self, forKey: .certificate)
        privateKey = try container.decode(String.self, forKey: .privateKey)
        trust = try container.decode(String.self, forKey: .trust)
    }
}

/// Size and time limits of the HTTP server. Every field is optional in the file.
public struct ServiceLimits: Codable, Hashable, Sendable {
    public var requestLineBytes = 8192
    public var headerBytes = 16384
    public var headerCount = 100
    public var bodyBytes = 1_048_576
    /// For `POST /v1/records:batch`.
    public var batchBodyBytes = 16_777_216
    public var handshakeTimeoutSeconds = 10
    public var idleTimeoutSeconds = 60
    public var requestTimeoutSeconds = 30
    /// The largest `wait=` a long poll may use.
    public var longPollMaxSeconds = 60
    public var maxConnections = 10000
    /// Refused requests audited one entry each per department: the token bucket's refill rate
    /// and size. Beyond it a department's refusals are counted into one
    /// `request.refused.aggregate` entry per ``refusalAuditIntervalSeconds`` (docs/audit.md).
    public var refusalAuditPerSecond = 10
    public var refusalAuditBurst = 200
    public var refusalAuditIntervalSeconds = 60
    /// `GET /readyz` answers 503 while the filesystem of the database has less free space than
    /// this (docs/storage.md, "Readiness").
    public var minimumFreeDiskBytes = 16_777_216

    /// The defaults of the design.
    public init() {}

    enum CodingKeys: String, CodingKey, CaseIterable {
        case requestLineBytes, headerBytes, headerCount, bodyBytes, batchBodyBytes, handshakeTimeoutSeconds
        case idleTimeoutSeconds, requestTimeoutSeconds, longPollMaxSeconds, maxConnections
        case refusalAuditPerSecond, refusalAuditBurst, refusalAuditIntervalSeconds, minimumFreeDiskBytes
    }

    /// Every limit by its JSON name, for validation and documentation.
    var byName: [(CodingKeys, Int)] {
        [
            (.requestLineBytes, requestLineBytes), (.headerBytes, headerBytes), (.headerCount, headerCount),
            (.bodyBytes, bodyBytes), (.batchBodyBytes, batchBodyBytes),
            (.handshakeTimeoutSeconds, handshakeTimeoutSeconds), (.idleTimeoutSeconds, idleTimeoutSeconds),
            (.requestTimeoutSeconds, requestTimeoutSeconds), (.longPollMaxSeconds, longPollMaxSeconds),
            (.maxConnections, maxConnections), (.refusalAuditPerSecond, refusalAuditPerSecond),
            (.refusalAuditBurst, refusalAuditBurst), (.refusalAuditIntervalSeconds, refusalAuditIntervalSeconds),
            (.minimumFreeDiskBytes, minimumFreeDiskBytes),
        ]
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.strictContainer(keyedBy: CodingKeys.self)
        func read(_ key: CodingKeys, _ value: inout Int) throws {
            if let given = try container.decodeIntegerIfPresent(forKey: key) { value = given }
        }
        try read(.requestLineBytes, &requestLineBytes)
        try read(.headerBytes, &headerBytes)
        try read(.headerCount, &headerCount)
        try read(.bodyBytes, &bodyBytes)
        try read(.batchBodyBytes, &batchBodyBytes)
        try read(.handshakeTimeoutSeconds, &handshakeTimeoutSeconds)
        try read(.idleTimeoutSeconds, &idleTimeoutSeconds)
        try read(.requestTimeoutSeconds, &requestTimeoutSeconds)
        try read(.longPollMaxSeconds, &longPollMaxSeconds)
        try read(.maxConnections, &maxConnections)
        try read(.refusalAuditPerSecond, &refusalAuditPerSecond)
        try read(.refusalAuditBurst, &refusalAuditBurst)
        try read(.refusalAuditIntervalSeconds, &refusalAuditIntervalSeconds)
        try read(.minimumFreeDiskBytes, &minimumFreeDiskBytes)
    }
}

/// Log verbosity, the levels of swift-log.
public enum LogLevel: String, Codable, Sendable, CaseIterable, Comparable {
    case trace, debug, info, notice, warning, error, critical

    public init(from decoder: any Decoder) throws { self = try decoder.decodeKeyword(Self.self) }

    public static func < (lhs: LogLevel, rhs: LogLevel) -> Bool {
        allCases.firstIndex(of: lhs)! < allCases.firstIndex(of: rhs)!
    }
}

public struct LogSettings: Codable, Hashable, Sendable {
    public var level: LogLevel = .info

    public init(level: LogLevel = .info) { self.level = level }

    enum CodingKeys: String, CodingKey, CaseIterable { case level }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.strictContainer(keyedBy: CodingKeys.self)
        level = try container.decodeStrictIfPresent(LogLevel.self, forKey: .level) ?? .info
    }
}

/// The public holidays and the weekend days worked instead (调休) that the State Council
/// announces each year; they move the `dueAt` of department verifications. The calendar covers
/// through 31 December of the latest year with a listed holiday; later days count weekends only
/// (``WorkingCalendar/coveredThrough``). SIGHUP re-reads it.
public struct CalendarSettings: Codable, Hashable, Sendable {
    public var holidays: [CalendarDate] = []
    public var makeupWorkdays: [CalendarDate] = []

    public init(holidays: [CalendarDate] = [], makeupWorkdays: [CalendarDate] = []) {
        self.holidays = holidays
        self.makeupWorkdays = makeupWorkdays
    }

    enum CodingKeys: String, CodingKey, CaseIterable { case holidays, makeupWorkdays }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.strictContainer(keyedBy: CodingKeys.self)
        holidays = try container.decodeStrictIfPresent([CalendarDate].self, forKey: .holidays) ?? []
        makeupWorkdays = try container.decodeStrictIfPresent([CalendarDate].self, forKey: .makeupWorkdays) ?? []
    }

    public var workingCalendar: WorkingCalendar {
        WorkingCalendar(holidays: Set(holidays), makeupWorkdays: Set(makeupWorkdays))
    }
}

/// The service's own configuration file, `heyan.json`.
///
/// Paths are kept as written. Relative paths are relative to the folder of `heyan.json`; the
/// loader applies ``resolvingPaths(relativeTo:)`` after reading the file.
public struct ServiceConfiguration: Codable, Hashable, Sendable {
    public var listen: ListenAddress
    /// The `store` setting: which engine ``database`` names; nil infers it (a `postgresql://` URI is
    /// PostgreSQL, anything else an SQLite file path).
    public var storeEngine: StoreConfiguration.Engine?
    /// The `database` setting: an SQLite file path, or a PostgreSQL connection string (``store``).
    public var database: String
    /// The store ``storeEngine`` and ``database`` name.
    public var store: StoreConfiguration {
        get throws { try StoreConfiguration(engine: storeEngine, database: database) }
    }
    /// `departments.json`.
    public var departments: String
    /// `catalog.json`.
    public var catalog: String
    public var tls: TLSFiles
    public var signing: SigningFiles
    /// Event-loop threads; 0 means one per core.
    public var workers: Int
    /// Seconds a graceful stop (SIGTERM) keeps serving with `/readyz` at 503 "draining" before it refuses
    /// new connections: behind a load balancer, longer than its health check takes to mark the node down
    /// (docs/cluster.md). 0 (the default, a single node): stop accepting at once.
    public var drainSeconds: Double = 0
    public var limits: ServiceLimits
    public var log: LogSettings
    public var calendar: CalendarSettings
    /// The transparency log's key and origin; nil when not configured.
    public var audit: AuditLogSettings?

    public init(
        listen: ListenAddress, database: String, departments: String, catalog: String, tls: TLSFiles,
        signing: SigningFiles, workers: Int = 0, limits: ServiceLimits = ServiceLimits(),
        log: LogSettings = LogSettings(), calendar: CalendarSettings = CalendarSettings(),
        audit: AuditLogSettings? = nil
    ) {
        self.listen = listen
        self.database = database
        self.departments = departments
        self.catalog = catalog
        self.tls = tls
        self.signing = signing
        self.workers = workers
        self.limits = limits
        self.log = log
        self.calendar = calendar
        self.audit = audit
    }

    /// A copy whose relative paths are joined to `directory` (the folder holding `heyan.json`).
    /// Absolute paths and an empty `directory` leave a path unchanged. Pure string work: nothing
    /// is read, and `..` is kept for the operating system to resolve.
    public func resolvingPaths(relativeTo directory: String) -> ServiceConfiguration {
        func resolve(_ path: String) -> String {
            if directory.isEmpty || path.hasPrefix("/") { return path }
            return directory.hasSuffix("/") ? directory + path : directory + "/" + path
        }
        var copy = self
        // A connection string is not a path; only an SQLite file is resolved.
        if case .sqlite? = try? store { copy.database = resolve(database) }
        copy.departments = resolve(departments)
        copy.catalog = resolve(catalog)
        copy.tls.certificate = resolve(tls.certificate)
        copy.tls.privateKey = resolve(tls.privateKey)
        copy.tls.clientCA = resolve(tls.clientCA)
        copy.tls.crl = resolve(tls.crl)
        copy.signing.certificate = resolve(signing.certificate)
        copy.signing.privateKey = resolve(signing.privateKey)
        copy.signing.chain = signing.chain.map(resolve)
        copy.audit?.logKey = resolve(audit?.logKey ?? "")
        if let client = audit?.witnessClient {
            copy.audit?.witnessClient = WitnessClientFiles(
                certificate: resolve(client.certificate), privateKey: resolve(client.privateKey), trust: resolve(client.trust))
        }
        return copy
    }

    /// Problems the JSON types alone cannot catch: empty paths, limits out of range.
    public func validationIssues() -> [ValidationIssue] {
        var issues: [ValidationIssue] = []
        let paths: [(String, String)] =
            [
                ("database", database), ("departments", departments), ("catalog", catalog),
                ("tls.certificate", tls.certificate), ("tls.privateKey", tls.privateKey),
                ("tls.clientCA", tls.clientCA), ("tls.crl", tls.crl),
                ("signing.certificate", signing.certificate), ("signing.privateKey", signing.privateKey),
            ] + signing.chain.enumerated().map { ("signing.chain[\($0.offset)]", $0.element) }
        for (path, value) in paths where value.isEmpty {
            issues.append(.init(path: path, message: "must not be an empty path"))
        }
        if !database.isEmpty {
            do {
                _ = try StoreConfiguration(engine: storeEngine, database: database)
            } catch {
                issues.append(.init(path: "database", message: error.message))
            }
        }
        if !(0...300).contains(drainSeconds) {
            issues.append(.init(path: "drainSeconds", message: "must be between 0 and 300 seconds"))
        }
        if !(0...1024).contains(workers) {
            issues.append(.init(path: "workers", message: "must be between 0 (one per core) and 1024"))
        }
        for (key, value) in limits.byName where value < 1 {
            issues.append(.init(path: "limits.\(key.stringValue)", message: "must be at least 1"))
        }
        if limits.batchBodyBytes < limits.bodyBytes {
            issues.append(
                .init(path: "limits.batchBodyBytes", message: "must be at least limits.bodyBytes (\(limits.bodyBytes))")
            )
        }
        if let audit {
            if audit.logKey.isEmpty { issues.append(.init(path: "audit.logKey", message: "must not be an empty path")) }
            if !audit.originIsValid {
                issues.append(.init(path: "audit.origin", message: "must be a key name: printable ASCII, no spaces, no '+'"))
            }
            if !(1...3600).contains(audit.checkpointIntervalSeconds) {
                issues.append(.init(path: "audit.checkpointIntervalSeconds", message: "must be between 1 and 3600"))
            }
            issues += audit.witnessIssues
        }
        for (index, day) in calendar.makeupWorkdays.enumerated() where calendar.holidays.contains(day) {
            issues.append(
                .init(path: "calendar.makeupWorkdays[\(index)]", message: "\(day) is also listed as a holiday"))
        }
        return issues
    }

    /// Decodes and validates `heyan.json`.
    ///
    /// - Throws: ``ConfigurationError`` naming the file, the field and the problem, such as
    ///   `heyan.json: listen: '127.0.0.1:00' is not host:port: the port must be a number from 0 to 65535`.
    public static func decode(_ bytes: [UInt8], file: String) throws(ConfigurationError) -> ServiceConfiguration {
        let configuration: ServiceConfiguration
        do {
            configuration = try StrictJSON.decode(ServiceConfiguration.self, from: bytes)
        } catch {
            throw ConfigurationError(file: file, issues: [error])
        }
        let issues = configuration.validationIssues()
        guard issues.isEmpty else { throw ConfigurationError(file: file, issues: issues) }
        return configuration
    }

    enum CodingKeys: String, CodingKey, CaseIterable {
        case listen, storeEngine = "store", database, departments, catalog, tls, signing, workers, drainSeconds, limits, log
        case calendar, audit
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.strictContainer(keyedBy: CodingKeys.self, ignoring: ["$schema"])
        listen = try container.decode(ListenAddress.self, forKey: .listen)
        storeEngine = try container.decodeIfPresent(StoreConfiguration.Engine.self, forKey: .storeEngine)
        database = try container.decode(String.self, forKey: .database)
        departments = try container.decode(String.self, forKey: .departments)
        catalog = try container.decode(String.self, forKey: .catalog)
        tls = try container.decode(TLSFiles.self, forKey: .tls)
        signing = try container.decode(SigningFiles.self, forKey: .signing)
        workers = try container.decodeIntegerIfPresent(forKey: .workers) ?? 0
        drainSeconds = try container.decodeIfPresent(Double.self, forKey: .drainSeconds) ?? 0
        limits = try container.decodeStrictIfPresent(ServiceLimits.self, forKey: .limits) ?? ServiceLimits()
        log = try container.decodeStrictIfPresent(LogSettings.self, forKey: .log) ?? LogSettings()
        calendar = try container.decodeStrictIfPresent(CalendarSettings.self, forKey: .calendar) ?? CalendarSettings()
        audit = try container.decodeStrictIfPresent(AuditLogSettings.self, forKey: .audit)
    }
}
