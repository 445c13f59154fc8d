import FoundationEssentials

/// One stored version of the catalog (证明事项清单) with why and since when it applies.
///
/// The configured `catalog.json` is the seed; every accepted `POST /v1/catalog/changes` makes the
/// next version. The version deciding a verification is the newest whose ``effectiveAt`` is not
/// after the moment of deciding (docs/catalog-governance.md).
public struct CatalogVersion: Sendable, Equatable {
    /// Equal to `catalog.version`.
    public var version: Int { catalog.version }
    public var catalog: Catalog
    /// When it starts to decide requests.
    public var effectiveAt: Millis
    /// Why it was made (for the seed: where it was loaded from).
    public var reason: String
    /// The decision or rule that allows the change (for the seed: empty).
    public var legalBasis: String
    /// The operator department that made it, or `heyan` for the configured seed.
    public var actor: String
    public var createdAt: Millis
    /// Codes added, amended or cancelled by this version (empty for the seed).
    public var changedCodes: [String]

    public init(
        catalog: Catalog, effectiveAt: Millis, reason: String, legalBasis: String, actor: String, createdAt: Millis,
        changedCodes: [String]
    ) {
        self.catalog = catalog
        self.effectiveAt = effectiveAt
        self.reason = reason
        self.legalBasis = legalBasis
        self.actor = actor
        self.createdAt = createdAt
        self.changedCodes = changedCodes
    }
}

/// What storing a new catalog version did.
public enum CatalogVersionWriteResult: Sendable, Equatable {
    case stored
    /// Another version was stored since the caller read the latest one (optimistic check on the
    /// base version): nothing was written.
    case baseVersionChanged(latest: Int)
}

/// Where catalog versions live (the `catalog_versions` table of the embedded store).
public protocol CatalogVersionStore: AnyObject, Sendable {
    /// Stores `version` if the newest stored version is still `baseVersion` (0: none stored yet),
    /// with its audit entry, in one transaction.
    func storeCatalogVersion(
        _ version: CatalogVersion, baseVersion: Int, audit: AuditEvent,
        completion: @escaping StoreCompletion<CatalogVersionWriteResult>)
    /// Every stored version, oldest first.
    func catalogVersions() throws -> [CatalogVersion]
    /// One stored version.
    func catalogVersion(_ version: Int) throws -> CatalogVersion?
}

extension Catalog {
    /// The catalog as stored and served: JSON with keys sorted, slashes unescaped.
    public func jsonBytes() throws -> [UInt8] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return Array(try encoder.encode(self))
    }

    /// Reads back ``jsonBytes()`` (no department check: it was checked when stored).
    public static func decodeStored(_ bytes: [UInt8]) throws(ValidationIssue) -> Catalog {
        try StrictJSON.decode(Catalog.self, from: bytes)
    }
}
