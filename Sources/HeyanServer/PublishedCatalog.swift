import FoundationEssentials
import HeyanDomain

/// One catalog version as served: JSON bodies encoded once, when the version is loaded or stored
/// (``CatalogState``).
struct PublishedCatalog: Sendable {
    let list: [UInt8]
    let items: [String: [UInt8]]

    init(_ catalog: Catalog) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        list = try catalog.jsonBytes()
        var items: [String: [UInt8]] = [:]
        for item in catalog.items { items[item.code] = Array(try encoder.encode(item)) }
        self.items = items
    }
}
