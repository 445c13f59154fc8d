#if canImport(Glibc)
import Glibc
#endif
import HeyanCrypto

/// A directory under /tmp for one test, removed when the value goes away.
final class TemporaryDirectory {
    let path: String

    init() throws {
        var template = Array("/tmp/heyan-crypto-test-XXXXXX".utf8CString)
        guard let created = mkdtemp(&template) else { throw TestFailure("mkdtemp failed") }
        path = String(cString: created)
    }

    deinit { _ = try? Subprocess.run(["rm", "-rf", path]) }

    func file(_ name: String) -> String { "\(path)/\(name)" }

    func write(_ text: String, to name: String, mode: mode_t = 0o644) throws -> String {
        let path = file(name)
        let descriptor = open(path, O_WRONLY | O_CREAT | O_TRUNC, mode)
        guard descriptor >= 0 else { throw TestFailure("cannot create \(path)") }
        defer { close(descriptor) }
        let bytes = Array(text.utf8)
        guard bytes.withUnsafeBytes({ Glibc.write(descriptor, $0.baseAddress, $0.count) }) == bytes.count,
            fchmod(descriptor, mode) == 0
        else { throw TestFailure("cannot write \(path)") }
        return path
    }

    func write(_ bytes: [UInt8], to name: String) throws -> String {
        try write(String(decoding: bytes, as: UTF8.self), to: name)  // only used for ASCII/UTF-8 data
    }
}

struct TestFailure: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

/// Runs a command (looked up on PATH) with stdout and stderr captured through files.
enum Subprocess {
    struct Result {
        let status: Int32
        let stdout: String
        let stderr: String
        var succeeded: Bool { status == 0 }
    }

    static func run(_ arguments: [String]) throws -> Result {
        var template = Array("/tmp/heyan-crypto-run-XXXXXX".utf8CString)
        guard let created = mkdtemp(&template) else { throw TestFailure("mkdtemp failed") }
        let directory = String(cString: created)
        defer {
            unlink("\(directory)/out")
            unlink("\(directory)/err")
            rmdir(directory)
        }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, "\(directory)/out", O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        posix_spawn_file_actions_addopen(&actions, 2, "\(directory)/err", O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        var argv: [UnsafeMutablePointer<CChar>?] = arguments.map { strdup($0) } + [nil]
        defer { argv.forEach { free($0) } }
        var pid: pid_t = 0
        let spawned = posix_spawnp(&pid, arguments[0], &actions, nil, &argv, environ)
        guard spawned == 0 else { throw TestFailure("cannot run \(arguments[0]): \(String(cString: strerror(spawned)))") }
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 {
            guard errno == EINTR else { throw TestFailure("waitpid failed") }
        }
        let exitStatus = (status & 0x7F) == 0 ? (status >> 8) & 0xFF : 128 + (status & 0x7F)
        return Result(status: exitStatus, stdout: readFile("\(directory)/out"), stderr: readFile("\(directory)/err"))
    }

    private static func readFile(_ path: String) -> String {
        guard let file = fopen(path, "r") else { return "" }
        defer { fclose(file) }
        var bytes: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 4096)
        while true {
            let count = fread(&buffer, 1, buffer.count, file)
            if count == 0 { break }
            bytes += buffer[0 ..< count]
        }
        return String(decoding: bytes, as: UTF8.self)
    }
}

func fileMode(_ path: String) -> mode_t {
    var status = stat()
    guard stat(path, &status) == 0 else { return 0xFFFF }
    return status.st_mode & 0o7777
}

func now() -> Int64 { Int64(time(nil)) }

/// A CA and helpers for issuing test certificates in memory.
struct TestAuthority {
    let certificate: Certificate
    let key: PrivateKey
    var issuer: (certificate: Certificate, key: PrivateKey) { (certificate, key) }

    init(_ algorithm: KeyAlgorithm = .ecP256, name: String = "test CA") throws {
        key = try PrivateKey.generate(algorithm)
        certificate = try CertificateIssuer.issue(.authority(commonName: name, notBefore: now() - 30 * 86_400), subjectKey: key, issuer: nil)
    }

    func issue(_ spec: CertificateSpec, algorithm: KeyAlgorithm = .ecP256) throws -> (Certificate, PrivateKey) {
        let subjectKey = try PrivateKey.generate(algorithm)
        return (try CertificateIssuer.issue(spec, subjectKey: subjectKey, issuer: issuer), subjectKey)
    }

    func emptyCRL() throws -> CertificateRevocationList {
        try CertificateIssuer.issueRevocationList(
            revoked: [], thisUpdate: now() - 60, nextUpdate: now() + 86_400, number: 1, issuer: issuer)
    }
}
