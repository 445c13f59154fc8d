import HeyanDomain
import Synchronization

/// Every version of the catalog this service knows, and which one decides a request now.
///
/// Routes never keep a catalog of their own: they ask ``active(at:)`` once per request, so a
/// stored change swaps what the next request sees, and a change stored with a future
/// `effectiveAt` starts deciding requests when that moment passes, without a restart or a timer.
final class CatalogState: Sendable {
    /// One version with its JSON bodies encoded once.
    struct Entry: Sendable {
        let version: CatalogVersion
        let published: PublishedCatalog
        var catalog: Catalog { version.catalog }
    }

    /// Ascending by version; never empty.
    private let entries: Mutex<[Entry]>

    /// - Parameter versions: the stored versions, oldest first; at least one.
    init(versions: [CatalogVersion]) throws {
        precondition(!versions.isEmpty, "a service has at least the configured catalog")
        entries = Mutex(try versions.map { Entry(version: $0, published: try PublishedCatalog($0.catalog)) })
    }

    /// The newest version whose `effectiveAt` is not after `now` (the oldest if none is yet).
    func active(at now: Millis) -> Entry {
        entries.withLock { entries in
            entries.last { $0.version.effectiveAt <= now } ?? entries[0]
        }
    }

    /// The newest stored version, in effect or not: the base of the next change.
    var latest: CatalogVersion { entries.withLock { $0[$0.count - 1].version } }

    /// Every version, oldest first.
    var all: [CatalogVersion] { entries.withLock { $0.map(\.version) } }

    func entry(version: Int) -> Entry? { entries.withLock { $0.first { $0.version.version == version } } }

    /// Versions stored after `now` takes effect: announced but not yet deciding.
    func pending(after now: Millis) -> [CatalogVersion] {
        entries.withLock { $0.filter { $0.version.effectiveAt > now }.map(\.version) }
    }

    /// Adds a version just stored (numbered one above ``latest``).
    func append(_ version: CatalogVersion) throws {
        let entry = Entry(version: version, published: try PublishedCatalog(version.catalog))
        entries.withLock { entries in
            precondition(version.version > entries[entries.count - 1].version.version, "versions only grow")
            entries.append(entry)
        }
    }
}
