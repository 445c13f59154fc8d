#if canImport(Glibc)
import Glibc
#endif
import HeyanDomain
import Synchronization

/// At start: the configured `catalog.json` is the seed, later versions live in the database.
///
/// - No stored version, or `catalog.json` has a higher `version` than the newest stored one: the
///   file is stored as that version (effective now, audited as `catalog.changed` with
///   `source: configuration`).
/// - Otherwise the stored versions win; if the file has the same number as the newest stored
///   version but other content, the file is ignored and `catalog-config-ignored` is logged.
enum CatalogBootstrap {
    static func load(configured: Catalog, store: any CatalogVersionStore, now: Millis, log: EventLog) throws
        -> [CatalogVersion]
    {
        var versions = try store.catalogVersions()
        let latest = versions.last
        if let latest, configured.version <= latest.version {
            if configured.version == latest.version && configured != latest.catalog {
                log.log(
                    .warning, "catalog-config-ignored",
                    [("reason", "catalog.json has version \(configured.version) but other content than the stored version; "
                        + "the database wins: bump the file's version or change the catalog through the API")])
            } else if configured.version < latest.version {
                log.log(.info, "catalog-from-database", [("configured", String(configured.version)), ("stored", String(latest.version))])
            }
            return versions
        }
        let seed = CatalogVersion(
            catalog: configured, effectiveAt: max(now, latest?.effectiveAt ?? now),
            reason: "catalog.json loaded at start", legalBasis: "", actor: "heyan", createdAt: now, changedCodes: [])
        let audit = AuditEvent(
            action: .catalogChanged, actor: "heyan",
            detail: [
                "version": String(configured.version), "baseVersion": String(latest?.version ?? 0),
                "effectiveAt": Timestamp.rfc3339(seed.effectiveAt), "reason": seed.reason, "source": "configuration",
            ])
        let result = try waitFor { done in
            store.storeCatalogVersion(seed, baseVersion: latest?.version ?? 0, audit: audit, completion: done)
        }
        guard result == .stored else {
            throw CatalogBootstrapError(message: "another process stored a catalog version while heyan started: \(result)")
        }
        versions.append(seed)
        return versions
    }

    /// Runs an asynchronous store write and waits for its completion (start-up only).
    private static func waitFor<Value: Sendable>(
        _ start: (@escaping StoreCompletion<Value>) -> Void
    ) throws -> Value {
        let box = Mutex<Result<Value, any Error>?>(nil)
        start { result in box.withLock { $0 = result } }
        while true {
            if let result = box.withLock({ $0 }) { return try result.get() }
            usleep(1000)
        }
    }
}

struct CatalogBootstrapError: HeyanError {
    let code = "catalog.bootstrap"
    let message: String
}
