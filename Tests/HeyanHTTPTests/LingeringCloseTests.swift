#if canImport(Glibc)
import Glibc
#endif
import HeyanTestSupport
import Testing

@testable import HeyanHTTP

/// Lingering close over real sockets (docs/connections.md): a client that sends a body over the
/// limit without `Expect: 100-continue` reads its 413, and one that never stops sending is cut off.
@Suite struct LingeringCloseTests {
    static let script = packageRoot() + "/Tests/Scripts/lingering_close.py"

    /// Python's http.client sends the whole 2 MiB body (over the 1 MiB limit) before reading; the
    /// server answers 413 after the headers. Every one of 100 clients must read that 413.
    @Test func pythonClientsSendingTwoMebibytesReadEvery413() throws {
        let server = try LoopbackServer()
        let files = try server.pki.department("hrss")
        let result = try Subprocess.run([
            "python3", Self.script, "--port", "\(server.port)", "--cert", files.certificate, "--key", files.key,
            "--ca", server.pki.caFile, "--count", "100", "--size", "\(2 << 20)", "--path", "/upload",
        ])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdout == #"{"errors": {}, "statuses": {"413": 100}}"# + "\n")
        #expect(server.server.metrics.lingeringCloses.load(ordering: .relaxed) == 100)
    }

    /// Sends a body of `Content-Length: 1 GB` (refused at once) as fast as the server reads it; returns
    /// the seconds until the server cut the connection and the bytes sent by then.
    static func sendForever(to server: LoopbackServer) throws -> (seconds: Double, bytes: Int) {
        signal(SIGPIPE, SIG_IGN)  // the cut-off shows as EPIPE or ECONNRESET on a write
        let connection = try server.connect(try server.pki.department("hrss"))
        try connection.send("POST /upload HTTP/1.1\r\nHost: a\r\nContent-Length: 1000000000\r\n\r\n")
        let chunk = [UInt8](repeating: 0x78, count: 64 * 1024)
        let started = monotonicSeconds()
        var sent = 0
        while monotonicSeconds() - started < 30 {
            do { try connection.send(chunk) } catch { break }
            sent += chunk.count
        }
        return (monotonicSeconds() - started, sent)
    }

    @Test func clientThatNeverStopsSendingIsCutOffAtTheTimeBound() throws {
        let server = try LoopbackServer {
            $0.lingerTimeout = 1_000_000_000
            $0.lingerMaxBytes = Int.max
        }
        let (seconds, _) = try Self.sendForever(to: server)
        #expect(seconds < 5, "still lingering after \(seconds) s")
        #expect(server.server.metrics.lingerBoundsReached.load(ordering: .relaxed) == 1)
    }

    @Test func clientThatNeverStopsSendingIsCutOffAtTheByteBound() throws {
        let server = try LoopbackServer {
            $0.lingerTimeout = 60_000_000_000
            $0.lingerMaxBytes = 4 << 20
        }
        let (seconds, bytes) = try Self.sendForever(to: server)
        #expect(seconds < 10)
        // What the server discarded plus what the kernel buffers held when it closed.
        #expect(bytes < 4 << 20 + 16 << 20, "sent \(bytes) bytes")
        #expect(server.server.metrics.lingerBoundsReached.load(ordering: .relaxed) == 1)
    }
}
