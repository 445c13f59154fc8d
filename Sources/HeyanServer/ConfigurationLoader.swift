#if canImport(Glibc)
import Glibc
#endif
import HeyanDomain

/// The service configuration with every file it names read and validated.
public struct LoadedConfiguration: Sendable {
    /// heyan.json with paths resolved against its folder.
    public var service: ServiceConfiguration
    public var departments: DepartmentDirectory
    public var catalog: Catalog
    public var configurationFile: String
}

/// An unreadable configuration file.
public struct ConfigurationFileError: HeyanError {
    public let code = "config.unreadable"
    public let path: String
    public let reason: String
    public var message: String { "\(path): \(reason)" }
}

/// Reads heyan.json and the files it names. Relative paths resolve against the folder of the file
/// that names them, so `make run` works from any working directory.
public enum ConfigurationLoader {
    public static func load(path: String) throws -> LoadedConfiguration {
        let directory = parentDirectory(of: path)
        let service = try ServiceConfiguration.decode(try readFile(path), file: fileName(path))
            .resolvingPaths(relativeTo: directory)
        let departments = try DepartmentDirectory.decode(
            try readFile(service.departments), file: fileName(service.departments))
        let catalog = try Catalog.decode(
            try readFile(service.catalog), file: fileName(service.catalog), departments: departments)
        return LoadedConfiguration(service: service, departments: departments, catalog: catalog, configurationFile: path)
    }

    /// heyan.json alone, validated, paths resolved (a SIGHUP reload).
    public static func loadService(path: String) throws -> ServiceConfiguration {
        try ServiceConfiguration.decode(try readFile(path), file: fileName(path))
            .resolvingPaths(relativeTo: parentDirectory(of: path))
    }

    static func parentDirectory(of path: String) -> String {
        guard let slash = path.lastIndex(of: "/") else { return "." }
        let parent = String(path[..<slash])
        return parent.isEmpty ? "/" : parent
    }

    static func fileName(_ path: String) -> String {
        guard let slash = path.lastIndex(of: "/") else { return path }
        return String(path[path.index(after: slash)...])
    }

    /// Reads a whole file with POSIX calls (no Foundation).
    public static func readFile(_ path: String) throws -> [UInt8] {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else {
            throw ConfigurationFileError(path: path, reason: String(cString: strerror(errno)))
        }
        defer { close(fd) }
        var result: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 64 * 1024)
        while true {
            let count = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if count < 0 {
                if errno == EINTR { continue }
                throw ConfigurationFileError(path: path, reason: String(cString: strerror(errno)))
            }
            if count == 0 { break }
            result.append(contentsOf: chunk[0..<count])
        }
        return result
    }
}
