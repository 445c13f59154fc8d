#if canImport(Glibc)
import Glibc
#endif
import HeyanCrypto
import HeyanDomain
import HeyanHTTP
import HeyanStorage

/// A running heyan: configuration, store, attestation signer and the mTLS HTTP server, wired.
/// Used by `heyan serve` and by the end-to-end tests, which start it on port 0.
public final class ServiceRuntime: Sendable {
    public let configuration: LoadedConfiguration
    public let log: EventLog
    public let store: SQLiteVerificationStore
    public let signer: JWSSigner
    public let service: HeyanService
    private let server: HTTPServer
    private let maintenance: Maintenance

    /// Opens the store, loads the keys (refusing key files readable by others) and prepares the
    /// server. Nothing listens until ``start()``.
    public init(configuration: LoadedConfiguration, log: EventLog) throws {
        self.configuration = configuration
        self.log = log
        let service = configuration.service
        let store = try SQLiteVerificationStore(path: service.database, hash: { Digest.sha256($0) })
        self.store = store
        let signingKey = try PrivateKey.load(pemFile: service.signing.privateKey)
        var chain = try Certificate.loadChain(pemFile: service.signing.certificate)
        for path in service.signing.chain { chain += try Certificate.loadChain(pemFile: path) }
        signer = try JWSSigner(key: signingKey, chain: chain, kid: service.signing.kid)
        let checkpointSigner = try JWSSigner(
            key: signingKey, chain: chain, kid: service.signing.kid, type: "heyan-audit-checkpoint+jwt")
        let tls = try TLSContext(files: Self.tlsFiles(service))
        let address = service.listen
        let httpSettings = Self.httpSettings(service)
        let waiters = ChangeWaiters()
        store.observeChanges { change in waiters.notify(change) }
        let catalogs = try CatalogState(
            versions: try CatalogBootstrap.load(
                configured: configuration.catalog, store: store, now: systemMillis(), log: log))
        // Label values from configuration only: the departments, and the types of every catalog version.
        let metrics = ServiceMetrics(
            http: HTTPServerMetrics(), departments: configuration.departments.departments.map(\.code),
            certificateTypes: catalogs.all.flatMap { $0.catalog.items.map(\.code) })
        store.observeBatches { batch in metrics.observe(batch) }
        metrics.setServerCertificateNotAfter(try Self.leafNotAfter(service.tls.certificate))
        let context = ServiceContext(
            directory: configuration.departments, catalogs: catalogs, store: store, governance: store, signer: signer,
            checkpointSigner: checkpointSigner, calendar: service.calendar.workingCalendar, log: log, metrics: metrics,
            waiters: waiters, longPollMaxSeconds: service.limits.longPollMaxSeconds)
        self.service = try HeyanService(context: context)
        maintenance = Maintenance(context: context, waiters: waiters)
        server = HTTPServer(
            host: address.host, port: address.port, tls: tls, settings: httpSettings, responder: self.service,
            metrics: metrics.http,
            log: { [log] event, peer, detail in log.log(.warning, event, [("peer", peer), ("detail", detail)]) })
    }

    static func tlsFiles(_ service: ServiceConfiguration) -> TLSIdentityFiles {
        TLSIdentityFiles(
            certificateChain: service.tls.certificate, privateKey: service.tls.privateKey,
            clientCA: service.tls.clientCA, crl: service.tls.crl)
    }

    /// notAfter of the first certificate in a PEM file (the leaf of a chain), for `/metrics`.
    static func leafNotAfter(_ pemFile: String) throws -> Int64 {
        try Certificate.loadChain(pemFile: pemFile).first?.notAfter ?? 0
    }

    static func httpSettings(_ service: ServiceConfiguration) -> HTTPServerSettings {
        let limits = service.limits
        var settings = HTTPServerSettings()
        settings.limits.requestLineBytes = limits.requestLineBytes
        settings.limits.headerBytes = limits.headerBytes
        settings.limits.headerCount = limits.headerCount
        settings.limits.bodyBytes = limits.bodyBytes
        let batch = limits.batchBodyBytes
        settings.limits.bodyLimitOverride = { method, path in
            method == "POST" && path == "/v1/records:batch" ? batch : nil
        }
        settings.handshakeTimeout = UInt64(limits.handshakeTimeoutSeconds) * 1_000_000_000
        settings.idleTimeout = UInt64(limits.idleTimeoutSeconds) * 1_000_000_000
        settings.requestTimeout = UInt64(limits.requestTimeoutSeconds) * 1_000_000_000
        settings.maxConnections = limits.maxConnections
        settings.loopCount = service.workers
        return settings
    }

    /// Starts listening; returns the bound port.
    @discardableResult
    public func start() throws -> Int {
        try maintenance.start()
        let port = try server.start()
        log.log(
            .info, "listening",
            [("address", configuration.service.listen.description), ("database", configuration.service.database),
             ("instance", store.database.instanceID), ("signingAlgorithm", signer.algorithm.rawValue)],
            numbers: [("port", Double(port)), ("departments", Double(configuration.departments.departments.count)),
                      ("catalogItems", Double(configuration.catalog.items.count))])
        return port
    }

    /// Re-reads the TLS certificate, key, CA and CRL (SIGHUP). New connections use them; open ones
    /// keep theirs. On error the old context stays and the error is logged.
    public func reloadTLS() {
        do {
            server.reloadTLS(try TLSContext(files: Self.tlsFiles(configuration.service)))
            service.metrics.setServerCertificateNotAfter(try Self.leafNotAfter(configuration.service.tls.certificate))
            log.log(.info, "tls-reloaded", [("crl", configuration.service.tls.crl)])
        } catch {
            log.log(.error, "tls-reload-failed", [("error", "\(error)")])
        }
    }

    /// Graceful stop (SIGTERM): finishes in-flight requests, refuses new ones.
    public func stop(grace: Double = 10) {
        log.log(.info, "stopping")
        server.shutdown(grace: grace)
        maintenance.stop()
        log.log(.info, "stopped")
        log.flush()
    }
}
