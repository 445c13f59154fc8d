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

    /// - Parameters:
    ///   - departments: a `departments.json` to use instead of `config/departments.json`.
    ///   - database: the SQLite file (relative to the configuration folder unless absolute).
    ///   - auditLogKey: also configure the transparency log (`audit`) with a fresh Ed25519 `log.key`
    ///     in the configuration folder, checkpoints every `checkpointSeconds`.
    ///   - clock: the service's clock: a ``ManualClock`` to move time by hand.
    init(
        limits: String = "", departments: [UInt8]? = nil, database: String = "var/heyan.sqlite",
        auditLogKey: Bool = false, checkpointSeconds: Int = 1, clock: any ServiceClock = SystemClock()
    ) throws {
        pki = try TestPKI()
        let root = packageRoot()
        try writeFile(configDirectory.file("departments.json"), try departments ?? readFile("\(root)/config/departments.json"))
        try writeFile(configDirectory.file("catalog.json"), try readFile("\(root)/config/catalog.json"))
        var audit: String?
        if auditLogKey {
            try PrivateKey.generate(.ed25519).write(toFile: configDirectory.file("log.key"))
            audit = #"{"logKey": "log.key", "origin": "localhost/audit/v1", "checkpointIntervalSeconds": \#(checkpointSeconds)}"#
        }
        try configDirectory.write(
            "heyan.json", Self.configuration(pki: pki, limits: limits, database: database, audit: audit))
        let configuration = try ConfigurationLoader.load(path: configDirectory.file("heyan.json"))
        logFile = configDirectory.file("heyan.log")
        let fd = open(logFile, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        runtime = try ServiceRuntime(configuration: configuration, log: EventLog(fd: fd, clock: clock), clock: clock)
        port = try runtime.start()
    }

    deinit { runtime.stop(grace: 1) }

    static func configuration(
        pki: TestPKI, limits: String = "", database: String = "var/heyan.sqlite", audit: String? = nil
    ) -> String {
        """
        {
          "listen": "127.0.0.1:0",
          "database": "\(database)",
          "departments": "departments.json",
          "catalog": "catalog.json",
          "tls": {"certificate": "\(pki.serverCertificateFile)", "privateKey": "\(pki.serverKeyFile)",
                  "clientCA": "\(pki.caFile)", "crl": "\(pki.crlFile)"},
          "signing": {"certificate": "\(pki.signingCertificateFile)", "privateKey": "\(pki.signingKeyFile)",
                      "chain": ["\(pki.caFile)"]},
          "workers": 2\(limits.isEmpty ? "" : ",\n  \"limits\": {\(limits)}")\(audit.map { ",\n  \"audit\": \($0)" } ?? "")
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
