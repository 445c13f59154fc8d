#if canImport(Glibc)
import Glibc
#endif
import CLinux
import Synchronization

/// Runs programs for tests (the `openssl` CLI, `python3`, the built `heyan`).
public final class Subprocess: @unchecked Sendable {
    // @unchecked: pid and fds are immutable; output collection happens on reader threads into
    // Mutex-guarded buffers.
    public struct Result: Sendable {
        public let status: Int32
        public let stdout: String
        public let stderr: String
        public var succeeded: Bool { status == 0 }
    }

    public let pid: pid_t
    private let stdoutFD: Int32
    private let stderrFD: Int32
    private let output = Mutex<([UInt8], [UInt8])>(([], []))
    private let readersDone = Atomic<Int>(0)

    /// Starts `arguments` (argv[0] resolved on PATH) with `stdin` fed and closed.
    public init(_ arguments: [String], stdin: [UInt8] = [], environment: [String: String]? = nil) throws {
        var inPipe: [Int32] = [0, 0], outPipe: [Int32] = [0, 0], errPipe: [Int32] = [0, 0]
        guard heyan_pipe_cloexec(&inPipe) == 0, heyan_pipe_cloexec(&outPipe) == 0, heyan_pipe_cloexec(&errPipe) == 0 else {
            throw TestFailure("pipe failed")
        }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_adddup2(&actions, inPipe[0], 0)
        posix_spawn_file_actions_adddup2(&actions, outPipe[1], 1)
        posix_spawn_file_actions_adddup2(&actions, errPipe[1], 2)
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        // Children start with default signal handling and an empty mask.
        var defaults = sigset_t()
        sigemptyset(&defaults)
        for signal in [SIGTERM, SIGINT, SIGHUP, SIGPIPE] { sigaddset(&defaults, signal) }
        posix_spawnattr_setsigdefault(&attributes, &defaults)
        var empty = sigset_t()
        sigemptyset(&empty)
        posix_spawnattr_setsigmask(&attributes, &empty)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK))

        let argv = arguments.map { strdup($0) } + [nil]
        defer { argv.forEach { free($0) } }
        var env: [UnsafeMutablePointer<CChar>?]
        if let environment {
            env = environment.map { strdup("\($0.key)=\($0.value)") } + [nil]
        } else {
            env = []
            var pointer = environ
            while let entry = pointer.pointee {
                env.append(strdup(entry))
                pointer += 1
            }
            env.append(nil)
        }
        defer { env.forEach { free($0) } }
        var pid = pid_t()
        let spawned = posix_spawnp(&pid, arguments[0], &actions, &attributes, argv, env)
        close(inPipe[0])
        close(outPipe[1])
        close(errPipe[1])
        guard spawned == 0 else {
            close(inPipe[1])
            close(outPipe[0])
            close(errPipe[0])
            throw TestFailure("cannot start \(arguments[0]): \(String(cString: strerror(spawned)))")
        }
        self.pid = pid
        stdoutFD = outPipe[0]
        stderrFD = errPipe[0]
        let input = inPipe[1]
        let stdinBytes = stdin
        _ = Self.thread {
            var offset = 0
            while offset < stdinBytes.count {
                let count = stdinBytes.withUnsafeBytes { write(input, $0.baseAddress! + offset, stdinBytes.count - offset) }
                if count <= 0 { break }
                offset += count
            }
            close(input)
        }
        for (fd, isOut) in [(stdoutFD, true), (stderrFD, false)] {
            _ = Self.thread { [self] in
                var chunk = [UInt8](repeating: 0, count: 8192)
                while true {
                    let count = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
                    if count < 0 && errno == EINTR { continue }
                    if count <= 0 { break }
                    output.withLock { if isOut { $0.0 += chunk[0..<count] } else { $0.1 += chunk[0..<count] } }
                }
                close(fd)
                readersDone.add(1, ordering: .releasing)
            }
        }
    }

    /// What the process wrote to stderr so far.
    public var stderrSoFar: String { output.withLock { String(decoding: $0.1, as: UTF8.self) } }
    public var stdoutSoFar: String { output.withLock { String(decoding: $0.0, as: UTF8.self) } }

    public func signal(_ signal: Int32) { kill(pid, signal) }

    /// The first stderr line containing `text`, waiting for it at most `timeout` seconds of real
    /// time (another process's output: nothing to advance); nil if none came.
    public func waitForLine(containing text: String, timeout: Double = 20) -> String? {
        var found: String?
        eventually(within: timeout) {
            found = stderrSoFar.split(separator: "\n").first { $0.contains(text) }.map(String.init)
            return found != nil
        }
        return found
    }

    /// Waits for exit (at most `timeout` seconds, then SIGKILL) and returns status and output.
    public func wait(timeout: Double = 120) -> Result {
        let deadline = Double(monotonicSeconds()) + timeout
        var status: Int32 = 0
        while true {
            let result = waitpid(pid, &status, WNOHANG)
            if result == pid { break }
            if monotonicSeconds() > deadline {
                kill(pid, SIGKILL)
                waitpid(pid, &status, 0)
                break
            }
            usleep(5_000)
        }
        while readersDone.load(ordering: .acquiring) < 2 { usleep(1_000) }
        let exitCode: Int32 = (status & 0x7f) == 0 ? (status >> 8) & 0xff : 128 + (status & 0x7f)
        return output.withLock {
            Result(status: exitCode, stdout: String(decoding: $0.0, as: UTF8.self), stderr: String(decoding: $0.1, as: UTF8.self))
        }
    }

    /// Runs to completion.
    @discardableResult
    public static func run(_ arguments: [String], stdin: [UInt8] = [], timeout: Double = 120) throws -> Result {
        try Subprocess(arguments, stdin: stdin).wait(timeout: timeout)
    }

    private static func thread(_ body: @escaping @Sendable () -> Void) -> pthread_t {
        final class Box: Sendable {
            let body: @Sendable () -> Void
            init(_ body: @escaping @Sendable () -> Void) { self.body = body }
        }
        var thread = pthread_t()
        let box = Unmanaged.passRetained(Box(body)).toOpaque()
        pthread_create(&thread, nil, { raw in
            Unmanaged<Box>.fromOpaque(raw!).takeRetainedValue().body()
            return nil
        }, box)
        pthread_detach(thread)
        return thread
    }
}

public func monotonicSeconds() -> Double {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
}
