#if canImport(Glibc)
import Glibc
#endif
import HeyanCrypto
import HeyanDomain
import HeyanHTTP
import HeyanStorage
import HeyanStores
import HeyanTransparencyLog
import Synchronization

/// A running heyan: configuration, store, attestation signer and the mTLS HTTP server, wired.
/// Used by `heyan serve` and by the end-to-end tests, which start it on port 0.
public final class ServiceRuntime: Sendable {
    public let configuration: LoadedConfiguration
    public let log: EventLog
    /// The store, whatever the engine; opened once by ``StoreFactory`` from the `database` setting.
    public let store: any HeyanStore
    public let service: HeyanService
    private let server: HTTPServer
    private let maintenance: Maintenance
    /// Signs the audit tree's checkpoint notes (nil without `audit` in heyan.json).
    public let transparencyLog: TransparencyLogPublisher?
    private let settings: ReloadableSettings
    /// Serializes reloads (SIGHUP and tests).
    private let reloading = Mutex(())

    /// The attestation signer in use now.
    public var signer: JWSSigner { settings.read { $0.identity.signer } }
    /// The JWS `kid` of the signing key in use now (its RFC 7638 thumbprint).
    public var signingKeyID: String { settings.read { $0.identity.keyID } }
    /// The working-day calendar in use now.
    public var calendar: WorkingCalendar { settings.read { $0.calendar } }
    /// The store as opened, with this process's claim on it (SQLite: `<database>.lock`, one
    /// server per file).
    private let opened: StoreFactory.Opened
    /// The store's audit tree (proofs, checkpoint notes).
    public var auditLog: any AuditLogProofs { opened.auditLog }
    private let stopped = Atomic<Bool>(false)
    /// The one clock of this service (``ServiceClock``): the store, the routes, the long polls,
    /// maintenance and the event loops read time from it.
    public let clock: any ServiceClock
    private let waiters: ChangeWaiters

    /// Takes the database's lock (``DatabaseLock``: another server on the same file is refused),
    /// opens the store, loads the keys (refusing key files readable by others) and prepares the
    /// server. Nothing listens until ``start()``. `clock` is the system clock but in tests.
    public init(configuration: LoadedConfiguration, log: EventLog, clock: any ServiceClock = SystemClock()) throws {
        self.configuration = configuration
        self.log = log
        self.clock = clock
        let service = configuration.service
        let opened = try StoreFactory.open(try service.store, for: .serve, hash: { Digest.sha256($0) }, clock: clock)
        self.opened = opened
        let store = opened.store
        self.store = store
        let identity = try SigningIdentity(files: service.signing)
        let keys = try Self.recordAndPublish(identity, store: store, log: log)
        let calendar = service.calendar.workingCalendar
        settings = ReloadableSettings(.init(identity: identity, keys: keys, calendar: calendar))
        CalendarCoverage.report(calendar, event: "calendar", now: clock.now(), log: log)
        let tls = try TLSContext(files: Self.tlsFiles(service))
        let address = service.listen
        let httpSettings = Self.httpSettings(service)
        let timer = TimerWakeup(clock: clock)
        let waiters = ChangeWaiters(timer: timer)
        self.waiters = waiters
        store.observeChanges { change in waiters.notify(change) }
        let catalogs = try CatalogState(
            versions: try CatalogBootstrap.load(
                configured: configuration.catalog, store: store, now: clock.now(), log: log))
        // Label values from configuration only: the departments, and the types of every catalog version.
        let metrics = ServiceMetrics(
            http: HTTPServerMetrics(), departments: configuration.departments.departments.map(\.code),
            certificateTypes: catalogs.all.flatMap { $0.catalog.items.map(\.code) })
        opened.observeBatches { batch in metrics.observe(batch) }
        metrics.setServerCertificateNotAfter(try Self.leafNotAfter(service.tls.certificate))
        let transparencyLog = try service.audit.map { try TransparencyLogPublisher(proofs: opened.auditLog, settings: $0, log: log, clock: clock) }
        self.transparencyLog = transparencyLog
        let context = ServiceContext(
            directory: configuration.departments, catalogs: catalogs, store: store, settings: settings,
            log: log, metrics: metrics,
            waiters: waiters, clock: clock, longPollMaxSeconds: service.limits.longPollMaxSeconds, auditLog: opened.auditLog,
            transparencyLog: transparencyLog)
        self.service = try HeyanService(context: context, limits: service.limits)
        maintenance = Maintenance(context: context, waiters: waiters, refusals: self.service.refusals, timer: timer)
        server = HTTPServer(
            host: address.host, port: address.port, tls: tls, settings: httpSettings, responder: self.service,
            metrics: metrics.http, clock: clock,
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
             ("instance", store.instanceID), ("signingAlgorithm", signer.algorithm.rawValue),
             ("kid", signingKeyID)],
            numbers: [("port", Double(port)), ("departments", Double(configuration.departments.departments.count)),
                      ("catalogItems", Double(configuration.catalog.items.count))])
        return port
    }

    /// SIGHUP: re-reads the TLS files (``reloadTLS()``), then heyan.json for its `signing` files
    /// (key rotation) and its `calendar` (next year's holidays). Each part that fails to load keeps
    /// what it had and logs why; nothing else of heyan.json is applied before a restart.
    public func reload() {
        reloading.withLock { _ in
            reloadTLS()
            let file = configuration.configurationFile
            let fresh: ServiceConfiguration
            do {
                fresh = try ConfigurationLoader.loadService(path: file)
            } catch {
                log.log(.error, "config-reload-failed", [("file", file), ("error", "\(error)")])
                return
            }
            reloadSigningKey(fresh.signing)
            let calendar = fresh.calendar.workingCalendar
            settings.update { $0.calendar = calendar }
            CalendarCoverage.report(calendar, event: "calendar-reloaded", now: clock.now(), log: log)
        }
    }

    /// Loads the signing key and certificate from `files`. New signatures use it at once; the key
    /// it replaces stays in the published key set until its certificate expires.
    private func reloadSigningKey(_ files: SigningFiles) {
        do {
            let identity = try SigningIdentity(files: files)
            let keys = try Self.recordAndPublish(identity, store: store, log: log)
            let previous = settings.read { $0.identity.keyID }
            settings.update {
                $0.identity = identity
                $0.keys = keys
            }
            log.log(
                .info, "signing-key-reloaded",
                [("kid", identity.keyID), ("previousKid", previous), ("certificate", files.certificate),
                 ("notAfter", Timestamp.rfc3339(identity.chain[0].notAfter * 1000))],
                numbers: [("publishedKeys", Double(keys.count))])
        } catch {
            log.log(.error, "signing-key-reload-failed", [("certificate", files.certificate), ("error", "\(error)")])
        }
    }

    /// Records `identity`'s protected header in the database (the record of every signing key,
    /// `jws_headers`) and builds the key set from every recorded header.
    private static func recordAndPublish(_ identity: SigningIdentity, store: any HeyanStore, log: EventLog)
        throws -> [PublishedKey]
    {
        let done = Mutex<Result<Void, any Error>?>(nil)
        store.registerSigningHeader(identity.signer.encodedHeader) { result in done.withLock { $0 = result } }
        while true {
            if let result = done.withLock({ $0 }) {
                try result.get()
                break
            }
            usleep(1000)
        }
        let (keys, skipped) = SigningKeySet.build(current: identity, headers: try store.signingHeaders())
        if skipped > 0 {
            log.log(.warning, "signing-headers-unreadable", numbers: [("headers", Double(skipped))])
        }
        return keys
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

    /// Long polls waiting for a change or their deadline (tests: a poll has registered).
    public var longPollsWaiting: Int { waiters.count }

    /// Graceful stop (SIGTERM). First the drain (docs/cluster.md, "Rolling restart"): `GET /readyz` answers
    /// 503 "draining" at once and every response closes its connection, while new connections are still
    /// accepted and served, for `drainSeconds` — long enough for a load balancer's health check to take the
    /// node out. Then new connections are refused, in-flight requests finish (at most `grace` seconds) and
    /// the loops stop. Later calls do nothing.
    public func stop(grace: Double = 10) {
        guard !stopped.exchange(true, ordering: .relaxed) else { return }
        service.beginDraining()
        server.closeConnectionsAfterResponses()
        let drain = configuration.service.drainSeconds
        log.log(.info, "draining", numbers: [("seconds", drain)])
        let real = SystemClock()
        let until = real.monotonicNanoseconds() + UInt64(max(0, drain) * 1e9)
        while real.monotonicNanoseconds() < until { usleep(10_000) }
        log.log(.info, "stopping")
        server.shutdown(grace: grace)
        maintenance.stop()
        log.log(.info, "stopped")
        log.flush()
    }
}
