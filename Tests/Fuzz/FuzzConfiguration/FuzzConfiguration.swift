import FoundationEssentials
import HeyanCrypto
import HeyanDomain

#if canImport(Glibc)
import Glibc
#endif

/// libFuzzer target for configuration loading (docs/fuzzing.md): the decoders `ConfigurationLoader` runs on the
/// bytes of each file, without file I/O per input.
///
/// Input: byte 0 picks the decoder; the rest is the file:
/// - 0: `heyan.json` (``ServiceConfiguration/decode(_:file:)``, then path resolution);
/// - 1: `departments.json` (``DepartmentDirectory/decode(_:file:)``);
/// - 2: `catalog.json` against the example departments (``Catalog/decode(_:file:departments:)``);
/// - 3: `departments.json` as `heyan pki init` reads it (``DevelopmentPKI/departmentCodes(fromJSON:)``);
/// - 4: a `listen` address (``ListenAddress/init(parsing:)``).
/// Checked: a configuration that loads encodes to JSON that loads again to an equal value; errors carry issues.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzConfiguration(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    guard size >= 1 else { return 0 }
    let bytes = Array(UnsafeBufferPointer(start: data + 1, count: size - 1))
    switch data[0] % 5 {
    case 0:
        do {
            let configuration = try ServiceConfiguration.decode(bytes, file: "heyan.json")
            _ = configuration.resolvingPaths(relativeTo: "/etc/heyan")
            roundTrip(configuration) { try ServiceConfiguration.decode($0, file: "heyan.json") }
        } catch {
            if error.issues.isEmpty { fatalError("a configuration error without issues") }
        }
    case 1:
        do {
            let directory = try DepartmentDirectory.decode(bytes, file: "departments.json")
            roundTrip(directory) { try DepartmentDirectory.decode($0, file: "departments.json") }
        } catch {
            if error.issues.isEmpty { fatalError("a configuration error without issues") }
        }
    case 2:
        let departments = ExampleDepartments.shared.directory
        do {
            let catalog = try Catalog.decode(bytes, file: "catalog.json", departments: departments)
            roundTrip(catalog) { try Catalog.decode($0, file: "catalog.json", departments: departments) }
        } catch {
            if error.issues.isEmpty { fatalError("a configuration error without issues") }
        }
    case 3:
        if let codes = try? DevelopmentPKI.departmentCodes(fromJSON: bytes) {
            for code in codes { _ = try? DevelopmentPKI.validateDepartmentCode(code) }
        }
    default:
        let text = String(decoding: bytes, as: UTF8.self)
        if let address = try? ListenAddress(parsing: text) {
            guard (0...65535).contains(address.port), let again = try? ListenAddress(parsing: address.description),
                again == address
            else { fatalError("listen address \(text) does not survive its description \(address.description)") }
        }
    }
    return 0
}

/// Encodes `value` as JSON and loads it again: the result must be equal.
private func roundTrip<Value: Encodable & Equatable>(_ value: Value, load: ([UInt8]) throws -> Value) {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
    let encoded: [UInt8]
    do {
        encoded = Array(try encoder.encode(value))
    } catch {
        fatalError("a loaded configuration does not encode: \(error)")
    }
    do {
        let again = try load(encoded)
        if again != value { fatalError("configuration changed through JSON: \(String(decoding: encoded, as: UTF8.self))") }
    } catch {
        fatalError("a loaded configuration, encoded, does not load again: \(error)\n\(String(decoding: encoded, as: UTF8.self))")
    }
}

/// `config/departments.json` (or `$HEYAN_FUZZ_CONFIG_DIR`), read once.
private struct ExampleDepartments: Sendable {
    let directory: DepartmentDirectory
    static let shared = ExampleDepartments()

    init() {
        let folder = getenv("HEYAN_FUZZ_CONFIG_DIR").map { String(cString: $0) } ?? "config"
        guard let file = fopen("\(folder)/departments.json", "rb") else { fatalError("no \(folder)/departments.json") }
        defer { fclose(file) }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 65536)
        while true {
            let count = fread(&chunk, 1, chunk.count, file)
            if count == 0 { break }
            bytes.append(contentsOf: chunk[0..<count])
        }
        do {
            directory = try DepartmentDirectory.decode(bytes, file: "departments.json")
        } catch {
            fatalError("\(error)")
        }
    }
}
