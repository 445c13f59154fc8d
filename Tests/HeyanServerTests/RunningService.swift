#if canImport(Glibc)
import Glibc
#endif
import HeyanCrypto
import HeyanDomain
import HeyanHTTP
import HeyanServer
import HeyanTestSupport

/// The real heyan service on 127.0.0.1:0 with the example departments and catalog from
/// `config/`, a PKI made for the test and a fresh SQLite file.
final class RunningService: @unchecked Sendable {
    let pki: TestPKI
    let configDirectory = TemporaryDirectory(prefix: "heyan-config")
    let runtime: ServiceRuntime
    let port: Int
    let logFile: String
    /// Where the store is, as the offline tools' `--database` takes it: the SQLite file's path, or
    /// the PostgreSQL URI.
    let databaseLocation: String

    /// - Parameters:
    ///   - departments: a `departments.json` to use instead of `config/departments.json`.
    ///   - database: the SQLite file (relative to the configuration folder unless absolute), or a
    ///     `postgresql://` address of a cluster the test started (then `engine` is not used).
    ///   - auditLogKey: also configure the transparency log (`audit`) with a fresh Ed25519 `log.key`
    ///     in the configuration folder, checkpoints every `checkpointSeconds`.
    ///   - clock: the service's clock: a ``ManualClock`` to move time by hand.
    ///   - engine: the store engine; PostgreSQL gets a fresh schema on the shared throwaway cluster.
    init(
        limits: String = "", departments: [UInt8]? = nil, database: String = "var/heyan.sqlite",
        auditLogKey: Bool = false, checkpointSeconds: Int = 1, clock: any ServiceClock = SystemClock(),
        pki: TestPKI? = nil, audit auditSettings: String? = nil, engine: Engine = .sqlite, drainSeconds: Double = 0
    ) throws {
        self.pki = try pki ?? TestPKI()
        logFile = configDirectory.file("heyan.log")
        var audit = auditSettings
        if auditLogKey {
            try PrivateKey.generate(.ed25519).write(toFile: configDirectory.file("log.key"))
            audit = #"{"logKey": "log.key", "origin": "localhost/audit/v1", "checkpointIntervalSeconds": \#(checkpointSeconds)}"#
        }
        // A postgresql:// address names a database the test made itself (a cluster of its own).
        let settings =
            database.hasPrefix("postgresql://") ? (store: "postgresql", database: database) : try engine.settings(sqlitePath: database)
        databaseLocation =
            settings.store == "sqlite" && !database.hasPrefix("/") ? configDirectory.file(database) : settings.database
        runtime = try Self.makeRuntime(
            pki: self.pki, in: configDirectory, limits: limits, departments: departments, database: settings.database,
            audit: audit, clock: clock, store: settings.store, drainSeconds: drainSeconds)
        port = try runtime.start()
    }

    /// Writes a configuration folder into `directory` (`departments.json`, by default the example
    /// one, the example `catalog.json`, and a `heyan.json` with `pki`'s files) and builds the
    /// service on it, logging to `heyan.log` there. Not started: nothing listens yet.
    static func makeRuntime(
        pki: TestPKI, in directory: TemporaryDirectory, limits: String = "", departments: [UInt8]? = nil,
        database: String = "var/heyan.sqlite", audit: String? = nil, clock: any ServiceClock = SystemClock(),
        store: String = "sqlite", drainSeconds: Double = 0
    ) throws -> ServiceRuntime {
        let root = packageRoot()
        try writeFile(directory.file("departments.json"), try departments ?? readFile("\(root)/config/departments.json"))
        try writeFile(directory.file("catalog.json"), try readFile("\(root)/config/catalog.json"))
        try directory.write("heyan.json", configuration(
                pki: pki, limits: limits, database: database, audit: audit, store: store, drainSeconds: drainSeconds))
        let configuration = try ConfigurationLoader.load(path: directory.file("heyan.json"))
        let fd = open(directory.file("heyan.log"), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        return try ServiceRuntime(configuration: configuration, log: EventLog(fd: fd, clock: clock), clock: clock)
    }

    deinit { runtime.stop(grace: 1) }

    static func configuration(
        pki: TestPKI, limits: String = "", database: String = "var/heyan.sqlite", audit: String? = nil,
        store: String = "sqlite", drainSeconds: Double = 0
    ) -> String {
        // The PostgreSQL connection string is a JSON string too (no quotes or backslashes in it here).
        let storeLine = store == "sqlite" ? "" : "\n  \"store\": \"\(store)\","
        return """
        {
          "listen": "127.0.0.1:0",\(storeLine)
          "database": "\(database)",
          "departments": "departments.json",
          "catalog": "catalog.json",
          "tls": {"certificate": "\(pki.serverCertificateFile)", "privateKey": "\(pki.serverKeyFile)",
                  "clientCA": "\(pki.caFile)", "crl": "\(pki.crlFile)"},
          "signing": {"certificate": "\(pki.signingCertificateFile)", "privateKey": "\(pki.signingKeyFile)",
                      "chain": ["\(pki.caFile)"]},
          "workers": 2,
          "drainSeconds": \(drainSeconds)\(limits.isEmpty ? "" : ",\n  \"limits\": {\(limits)}")\(audit.map { ",\n  \"audit\": \($0)" } ?? "")
        }
        """
    }

    func connect(_ department: String) throws -> TLSClientConnection {
        let files = try pki.department(department)
        let context = try TLSClientContext(certificate: files.certificate, key: files.key, trust: pki.caFile)
        return try TLSClientConnection(port: port, context: context)
    }

    func connect(files: TestPKI.ClientFiles) throws -> TLSClientConnection {
        let context = try TLSClientContext(certificate: files.certificate, key: files.key, trust: pki.caFile)
        return try TLSClientConnection(port: port, context: context)
    }

    /// The log lines written so far.
    func logLines() throws -> [String] {
        runtime.log.flush()
        return String(decoding: try readFile(logFile), as: UTF8.self).split(separator: "\n").map(String.init)
    }
}
