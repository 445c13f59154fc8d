#if canImport(Glibc)
import Glibc
#endif
import HeyanCrypto
import HeyanDomain

/// `heyan bench signing [--seconds S] [--json]`: heyan's single-thread JWS signature rate against
/// `openssl speed ecdsap256` run on the same machine in the same invocation (the peer comparison;
/// never a remembered number). The goal is an ES256 ratio of at least 0.8.
enum SigningBenchmarkCommand {
    static func run(arguments: [String]) throws -> Int32 {
        var seconds = 3
        var json = false
        var index = 0
        while index < arguments.count {
            switch arguments[index] {
            case "--json":
                json = true
                index += 1
            case "--seconds" where index + 1 < arguments.count:
                guard let value = Int(arguments[index + 1]), value > 0, value <= 600 else {
                    print("heyan bench signing: --seconds must be 1-600")
                    return 2
                }
                seconds = value
                index += 2
            default:
                print("usage: heyan bench signing [--seconds S] [--json]")
                return 2
            }
        }

        let es256 = try signaturesPerSecond(.ecP256, seconds: Double(seconds))
        let openssl = try opensslECDSAP256SignPerSecond(seconds: seconds)
        let ed25519 = try signaturesPerSecond(.ed25519, seconds: Double(seconds))
        let sm2 = try signaturesPerSecond(.sm2, seconds: Double(seconds))
        let ratio = es256 / openssl

        if json {
            print(
                "{\"heyanES256SignPerSecond\":\(rounded(es256)),\"opensslES256SignPerSecond\":\(rounded(openssl)),"
                    + "\"ratio\":\(rounded(ratio, places: 3)),\"ed25519SignPerSecond\":\(rounded(ed25519)),"
                    + "\"sm2SignPerSecond\":\(rounded(sm2))}")
        } else {
            print("heyan ES256 (JWSSigner, 1 thread):   \(rounded(es256)) signatures/s")
            print("openssl speed ecdsap256 (1 thread): \(rounded(openssl)) signatures/s")
            print("ratio heyan/openssl:                \(rounded(ratio, places: 3)) (goal >= 0.8)")
            print("heyan EdDSA (Ed25519):              \(rounded(ed25519)) signatures/s")
            print("heyan SM2:                          \(rounded(sm2)) signatures/s")
        }
        return 0
    }

    /// Signatures per second of `JWSSigner.signature(over:)` on this thread, over a ~400-byte input.
    private static func signaturesPerSecond(_ algorithm: KeyAlgorithm, seconds: Double) throws -> Double {
        let key = try PrivateKey.generate(algorithm)
        let certificate = try CertificateIssuer.issue(
            .attestationSigner(commonName: "benchmark"), subjectKey: key, issuer: nil)
        let signer = try JWSSigner(key: key, chain: [certificate], kid: "bench")
        let input = Array(String(repeating: "eyJpc3MiOiJoZXlhbiJ9", count: 20).utf8)  // 400 bytes
        _ = try signer.signature(over: input)  // warm-up
        var count = 0
        let start = monotonicSeconds()
        var elapsed = 0.0
        repeat {
            for _ in 0 ..< 64 { _ = try signer.signature(over: input) }
            count += 64
            elapsed = monotonicSeconds() - start
        } while elapsed < seconds
        return Double(count) / elapsed
    }

    /// Runs `openssl speed -seconds S ecdsap256` and reads the `ecdsa (nistp256)` sign/s column.
    private static func opensslECDSAP256SignPerSecond(seconds: Int) throws -> Double {
        let output = try runCapturingStdout(["openssl", "speed", "-seconds", String(seconds), "ecdsap256"])
        // e.g. " 256 bits ecdsa (nistp256)   0.0000s   0.0001s  70000.0  22000.0": sign s, verify s, sign/s, verify/s
        for line in output.split(separator: "\n") where line.contains("ecdsa (nistp256)") {
            guard let close = line.firstIndex(of: ")") else { continue }
            let fields = line[line.index(after: close)...].split(separator: " ")
            if fields.count >= 4, fields[0].hasSuffix("s"), let signPerSecond = Double(fields[2]) {
                return signPerSecond
            }
        }
        throw BenchmarkError(message: "no 'ecdsa (nistp256)' result in openssl speed output:\n\(output)")
    }

    private static func runCapturingStdout(_ arguments: [String]) throws -> String {
        var pipeEnds: [Int32] = [0, 0]
        guard pipe(&pipeEnds) == 0 else { throw BenchmarkError(message: "pipe failed") }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_adddup2(&actions, pipeEnds[1], 1)
        posix_spawn_file_actions_addclose(&actions, pipeEnds[0])
        posix_spawn_file_actions_addopen(&actions, 2, "/dev/null", O_WRONLY, 0)
        var argv: [UnsafeMutablePointer<CChar>?] = arguments.map { strdup($0) } + [nil]
        defer { argv.forEach { free($0) } }
        var pid: pid_t = 0
        let spawned = posix_spawnp(&pid, arguments[0], &actions, nil, &argv, environ)
        close(pipeEnds[1])
        defer { close(pipeEnds[0]) }
        guard spawned == 0 else {
            throw BenchmarkError(message: "cannot run \(arguments[0]): \(String(cString: strerror(spawned)))")
        }
        var bytes: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 4096)
        while true {
            let count = read(pipeEnds[0], &buffer, buffer.count)
            if count < 0 && errno == EINTR { continue }
            if count <= 0 { break }
            bytes += buffer[0 ..< count]
        }
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
        guard status == 0 else { throw BenchmarkError(message: "\(arguments.joined(separator: " ")) failed (status \(status))") }
        return String(decoding: bytes, as: UTF8.self)
    }

    private static func monotonicSeconds() -> Double {
        Double(SystemClock().monotonicNanoseconds()) / 1e9
    }

    private static func rounded(_ value: Double, places: Int = 0) -> String {
        var scale = 1.0
        for _ in 0 ..< places { scale *= 10 }
        let result = (value * scale).rounded() / scale
        return places == 0 ? String(Int(result)) : String(result)
    }

    struct BenchmarkError: Error, CustomStringConvertible {
        let message: String
        var description: String { "bench.signing: \(message)" }
    }
}
