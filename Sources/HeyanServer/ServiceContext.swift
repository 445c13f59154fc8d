import HeyanCrypto
import HeyanDomain
import HeyanTransparencyLog
import HeyanHTTP

/// What the routes share: configuration, the store, the attestation signer, the clock.
final class ServiceContext: Sendable {
    let directory: DepartmentDirectory
    /// Every catalog version; ``catalog`` is the one in effect now.
    let catalogs: CatalogState
    /// The one store (every face of it: ``HeyanStore``), never downcast.
    let store: any HeyanStore
    /// The signing key, its key set and the calendar: replaced whole by a SIGHUP reload.
    let settings: ReloadableSettings
    let log: EventLog
    let metrics: ServiceMetrics
    let waiters: ChangeWaiters
    /// The service's one clock (``ServiceClock``): wall time for what is recorded, monotonic time
    /// for deadlines. ``now()`` reads it.
    let clock: any ServiceClock
    /// Upper bound of `wait=` (seconds).
    let longPollMaxSeconds: Int
    /// The JWS `iss` of attestations and checkpoints.
    let issuerURI = "urn:heyan:service"
    /// Signs the audit tree's checkpoint notes; nil without `audit` in heyan.json (TransparencyLogRoutes.swift).
    let transparencyLog: TransparencyLogPublisher?
    /// The store's audit tree: proofs and checkpoint notes (the same store as `store`).
    let auditLog: any AuditLogProofs

    init(
        directory: DepartmentDirectory, catalogs: CatalogState, store: any HeyanStore, settings: ReloadableSettings,
        log: EventLog, metrics: ServiceMetrics, waiters: ChangeWaiters, clock: any ServiceClock, longPollMaxSeconds: Int,
        auditLog: any AuditLogProofs, transparencyLog: TransparencyLogPublisher? = nil
    ) {
        self.directory = directory
        self.catalogs = catalogs
        self.store = store
        self.settings = settings
        self.log = log
        self.metrics = metrics
        self.waiters = waiters
        self.clock = clock
        self.longPollMaxSeconds = longPollMaxSeconds
        self.transparencyLog = transparencyLog
        self.auditLog = auditLog
    }

    /// The attestation signer in use now (`typ` `heyan-attestation+jwt`).
    var signer: JWSSigner { settings.read { $0.identity.signer } }
    /// The same key, with `typ` `heyan-audit-checkpoint+jwt`.
    var checkpointSigner: JWSSigner { settings.read { $0.identity.checkpointSigner } }
    /// The working-day calendar in use now.
    var calendar: WorkingCalendar { settings.read { $0.calendar } }

    /// The catalog in effect now. A route that uses it more than once takes it once.
    var catalog: Catalog { catalogs.active(at: now()).catalog }

    /// Wall-clock milliseconds of ``clock``.
    func now() -> Millis { clock.now() }

    /// Today in China Standard Time (resident IDs' birth dates may not be after it).
    func today(_ now: Millis) -> CalendarDate {
        CalendarDate(daysSince1970: Int((now / 1000 + Int64(CalendarDate.chinaStandardTimeOffset)) / 86_400))
    }

    func newIdentifier(_ prefix: String, _ now: Millis) -> String {
        Identifiers.make(prefix: prefix, time: now, random: SecureRandom.bytes(10))
    }

    /// Parses a decimal integer query parameter within `range`: `value` when it is absent, 400 when it is
    /// absent and there is no default ("is required"), and 400 naming it when it is not such an integer.
    func queryInteger(_ call: ServiceCall, _ name: String, default value: Int?, range: ClosedRange<Int>) throws(Problem) -> Int {
        func expected() -> String { "a decimal integer from \(range.lowerBound) to \(range.upperBound)" }
        guard let text = call.request.queryValue(name) else {
            if let value { return value }
            throw .badRequest(detail: "Query parameter '\(name)' is required: \(expected()).")
        }
        guard text.utf8.allSatisfy({ $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") }), let number = Int(text),
            range.contains(number)
        else {
            throw .badRequest(detail: "Query parameter '\(name)' must be \(expected()).")
        }
        return number
    }
}
