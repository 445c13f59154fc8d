#if canImport(Glibc)
import Glibc
#endif

/// File access for secrets and certificates: reading a private key only when nobody but the owner
/// can read it, and replacing a file atomically with a new one created `0600` from the start.
public enum ProtectedFile {
    /// Reads a whole file.
    public static func read(_ path: String) throws -> [UInt8] {
        let descriptor = open(path, O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else { throw failure("file.read", "cannot open \(path)") }
        defer { close(descriptor) }
        return try readAll(descriptor, path: path)
    }

    /// Reads a whole file that holds a secret, refusing it (code `key.permissions`) when its mode
    /// gives group or others any access: a key others can read is a leaked key, and a key others can
    /// write can be swapped.
    static func readOwnerOnly(_ path: String) throws -> [UInt8] {
        let descriptor = open(path, O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else { throw failure("file.read", "cannot open \(path)") }
        defer { close(descriptor) }
        var status = stat()
        guard fstat(descriptor, &status) == 0 else { throw failure("file.read", "cannot stat \(path)") }
        let mode = status.st_mode & 0o7777
        if mode & 0o077 != 0 {
            let access = mode & 0o044 != 0 ? (mode & 0o022 != 0 ? "readable and writable" : "readable") : "writable"
            throw CryptoError(
                code: "key.permissions",
                message: "\(path) is \(access) by group or others (mode \(octal(mode))); chmod 600 it")
        }
        return try readAll(descriptor, path: path)
    }

    /// Replaces `path` with `bytes`: written to a new temporary file in the same directory, created
    /// with `mode` by open(2) itself (never wider, whatever the umask), fsynced, then renamed over
    /// `path`, so a reader sees the old file or the new one, never a half-written or world-readable one.
    public static func writeAtomically(_ bytes: [UInt8], to path: String, mode: mode_t = 0o600) throws {
        let temporary = "\(path).tmp-\(getpid())-\(UInt32.random(in: 0 ... .max))"
        let descriptor = open(temporary, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, mode)
        guard descriptor >= 0 else { throw failure("file.write", "cannot create \(temporary)") }
        var renamed = false
        defer {
            if !renamed { unlink(temporary) }
        }
        do {
            defer { close(descriptor) }
            // open(2) applied the umask, which can only narrow; fchmod makes the mode exact.
            guard fchmod(descriptor, mode) == 0 else { throw failure("file.write", "cannot chmod \(temporary)") }
            var offset = 0
            while offset < bytes.count {
                let written = bytes.withUnsafeBytes { Glibc.write(descriptor, $0.baseAddress! + offset, $0.count - offset) }
                if written < 0 {
                    if errno == EINTR { continue }
                    throw failure("file.write", "cannot write \(temporary)")
                }
                offset += written
            }
            guard fsync(descriptor) == 0 else { throw failure("file.write", "cannot fsync \(temporary)") }
        }
        guard rename(temporary, path) == 0 else { throw failure("file.write", "cannot rename \(temporary) to \(path)") }
        renamed = true
        // The rename itself is durable only once the directory is: fsync it too.
        let slash = path.lastIndex(of: "/")
        let directory = slash.map { $0 == path.startIndex ? "/" : String(path[..<$0]) } ?? "."
        let directoryDescriptor = open(directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard directoryDescriptor >= 0 else { throw failure("file.write", "cannot open directory \(directory)") }
        defer { close(directoryDescriptor) }
        guard fsync(directoryDescriptor) == 0 else { throw failure("file.write", "cannot fsync directory \(directory)") }
    }

    public static func exists(_ path: String) -> Bool {
        var status = stat()
        return lstat(path, &status) == 0
    }

    /// Creates a directory (mode 0755) unless it exists.
    public static func makeDirectory(_ path: String) throws {
        if mkdir(path, 0o755) != 0 && errno != EEXIST {
            throw failure("file.write", "cannot create directory \(path)")
        }
    }

    static func octal(_ mode: mode_t) -> String {
        let digits = String(mode, radix: 8)
        return String(repeating: "0", count: max(0, 4 - digits.count)) + digits
    }

    private static func readAll(_ descriptor: Int32, path: String) throws -> [UInt8] {
        var result: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 16_384)
        while true {
            let count = chunk.withUnsafeMutableBytes { Glibc.read(descriptor, $0.baseAddress, $0.count) }
            if count < 0 {
                if errno == EINTR { continue }
                throw failure("file.read", "cannot read \(path)")
            }
            if count == 0 { return result }
            result.append(contentsOf: chunk[0 ..< count])
        }
    }

    private static func failure(_ code: String, _ what: String) -> CryptoError {
        CryptoError(code: code, message: "\(what): \(String(cString: strerror(errno)))")
    }
}
