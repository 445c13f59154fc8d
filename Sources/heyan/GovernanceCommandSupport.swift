#if canImport(Glibc)
import Glibc
#endif
import HeyanDomain
import HeyanServer
import HeyanStorage
import HeyanStores
import HeyanCrypto

/// What `heyan catalog publish` and `heyan stats` share: finding the catalog (database or
/// configuration folder) and writing the output.
enum GovernanceCommandSupport {
    struct Failure: HeyanError {
        let code = "cli.governance"
        let message: String
    }

    static func fileExists(_ path: String) -> Bool { access(path, F_OK) == 0 }

    /// `DIR/departments.json`, or nil when the folder has none.
    static func departments(configDirectory: String) throws -> DepartmentDirectory? {
        let path = "\(configDirectory)/departments.json"
        guard fileExists(path) else { return nil }
        return try DepartmentDirectory.decode(try ConfigurationLoader.readFile(path), file: "departments.json")
    }

    /// `DIR/catalog.json`, checked against `DIR/departments.json`.
    static func configuredCatalog(configDirectory: String) throws -> Catalog {
        guard let departments = try departments(configDirectory: configDirectory) else {
            throw Failure(message: "\(configDirectory)/departments.json not found")
        }
        return try Catalog.decode(
            try ConfigurationLoader.readFile("\(configDirectory)/catalog.json"), file: "catalog.json",
            departments: departments)
    }

    /// Why `--database` names no store (a URI such as `mysql://…`, `:memory:`), or nil:
    /// the offline tools refuse such an address rather than look for a file of that name.
    static func refusal(ofDatabase path: String) -> String? {
        do {
            _ = try StoreConfiguration(parsing: path)
            return nil
        } catch {
            return error.message
        }
    }

    /// Opens an existing heyan store (never creates one) through the store factory, as the server
    /// does: the offline tools read what the service would, whatever the engine.
    static func openStore(_ database: String) throws -> StoreFactory.Opened {
        let configuration = try StoreConfiguration(parsing: database)
        if case .sqlite(let address) = configuration, !fileExists(address.path) {
            throw Failure(message: "no database at \(database)")
        }
        return try StoreFactory.open(configuration, for: .inspect, hash: { Digest.sha256($0) })
    }

    /// The stored version `number`, or the one in effect at `now` when nil.
    static func storedVersion(_ store: any CatalogVersionStore, number: Int?, now: Millis) throws -> CatalogVersion? {
        if let number { return try store.catalogVersion(number) }
        let versions = try store.catalogVersions()
        return versions.last { $0.effectiveAt <= now } ?? versions.first
    }

    /// Writes `text` to `path`, or to standard output when nil.
    static func emit(_ text: String, to path: String?) throws {
        guard let path else {
            // write(2) on descriptor 1 rather than `print`: the text is written whole, without an extra newline.
            var bytes = Array(text.utf8)[...]
            while !bytes.isEmpty {
                let written = bytes.withUnsafeBytes { write(1, $0.baseAddress, $0.count) }
                if written < 0 && errno == EINTR { continue }
                guard written > 0 else { throw Failure(message: "cannot write to standard output: \(String(cString: strerror(errno)))") }
                bytes = bytes.dropFirst(written)
            }
            return
        }
        guard let file = fopen(path, "w") else { throw Failure(message: "cannot write \(path): \(String(cString: strerror(errno)))") }
        defer { fclose(file) }
        let bytes = Array(text.utf8)
        guard fwrite(bytes, 1, bytes.count, file) == bytes.count, fflush(file) == 0 else {
            throw Failure(message: "cannot write \(path): \(String(cString: strerror(errno)))")
        }
    }
}
