#if canImport(Glibc)
import Glibc
#endif
import CLinux

/// A bound, listening, non-blocking TCP socket.
final class ListeningSocket {
    let fd: Int32
    /// The port actually bound (useful with port 0 in tests).
    let port: Int

    /// One listening socket per event loop on the same address, all with `SO_REUSEPORT`, so the
    /// kernel spreads new connections over the loops by their address hash (as nginx's
    /// `reuseport` does) instead of waking whichever loop `EPOLLEXCLUSIVE` favours. Before the
    /// group binds, a plain socket probes the address: a port another process listens on is
    /// refused with EADDRINUSE rather than silently shared with it.
    static func group(host: String, port: Int, count: Int, backlog: Int32 = 4096) throws -> [ListeningSocket] {
        if port != 0 {
            // Bound and closed at once: fails only if someone already listens there.
            _ = try ListeningSocket(host: host, port: port, backlog: backlog, reusePort: false, listening: false)
        }
        let first = try ListeningSocket(host: host, port: port, backlog: backlog, reusePort: true)
        var sockets = [first]
        for _ in 1..<max(1, count) {
            sockets.append(try ListeningSocket(host: host, port: first.port, backlog: backlog, reusePort: true))
        }
        return sockets
    }

    /// Binds `host:port` (IPv4 literal, `[IPv6]` literal, or `localhost`); with `listening` false
    /// the socket is closed again right after the bind (a probe).
    init(host: String, port: Int, backlog: Int32 = 4096, reusePort: Bool = false, listening: Bool = true) throws {
        var storage = sockaddr_storage()
        var length: socklen_t
        let family: Int32
        var name = host
        if name.hasPrefix("[") && name.hasSuffix("]") { name = String(name.dropFirst().dropLast()) }
        if name == "localhost" { name = "127.0.0.1" }
        if name.contains(":") {
            family = AF_INET6
            var address = sockaddr_in6()
            address.sin6_family = sa_family_t(AF_INET6)
            address.sin6_port = UInt16(port).bigEndian
            guard inet_pton(AF_INET6, name, &address.sin6_addr) == 1 else {
                throw SystemError(code: "system.address", call: "inet_pton(\(host))", errnoValue: EINVAL)
            }
            withUnsafeMutableBytes(of: &storage) { raw in
                withUnsafeBytes(of: address) { raw.copyMemory(from: $0) }
            }
            length = socklen_t(MemoryLayout<sockaddr_in6>.size)
        } else {
            family = AF_INET
            var address = sockaddr_in()
            address.sin_family = sa_family_t(AF_INET)
            address.sin_port = UInt16(port).bigEndian
            guard inet_pton(AF_INET, name, &address.sin_addr) == 1 else {
                throw SystemError(code: "system.address", call: "inet_pton(\(host))", errnoValue: EINVAL)
            }
            withUnsafeMutableBytes(of: &storage) { raw in
                withUnsafeBytes(of: address) { raw.copyMemory(from: $0) }
            }
            length = socklen_t(MemoryLayout<sockaddr_in>.size)
        }
        let fd = socket(family, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_NONBLOCK.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw SystemError(code: "system.socket", call: "socket") }
        var one: Int32 = 1
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
        if reusePort { setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, socklen_t(MemoryLayout<Int32>.size)) }
        let bound = withUnsafePointer(to: &storage) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) }
        }
        guard bound == 0 else {
            let error = SystemError(code: "system.bind", call: "bind(\(host):\(port))")
            close(fd)
            throw error
        }
        if !listening {
            close(fd)
            self.fd = -1
            self.port = port
            return
        }
        guard listen(fd, backlog) == 0 else {
            let error = SystemError(code: "system.listen", call: "listen")
            close(fd)
            throw error
        }
        var actual = sockaddr_storage()
        length = socklen_t(MemoryLayout<sockaddr_storage>.size)
        _ = withUnsafeMutablePointer(to: &actual) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
        }
        let boundPort: UInt16 = withUnsafeBytes(of: actual) { raw in
            // sin_port and sin6_port sit at the same offset (2) in both layouts.
            raw.load(fromByteOffset: 2, as: UInt16.self)
        }
        self.fd = fd
        self.port = Int(UInt16(bigEndian: boundPort))
    }

    /// Accepts one pending connection, non-blocking, with TCP_NODELAY. Nil when none is pending.
    func accept() -> (fd: Int32, peer: String)? {
        var address = sockaddr_storage()
        var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
        let client = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                heyan_accept4(fd, $0, &length, Int32(SOCK_NONBLOCK.rawValue) | Int32(SOCK_CLOEXEC.rawValue))
            }
        }
        guard client >= 0 else { return nil }
        var one: Int32 = 1
        setsockopt(client, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
        return (client, Self.describe(address))
    }

    func closeSocket() { close(fd) }

    static func describe(_ address: sockaddr_storage) -> String {
        var copy = address
        var text = [CChar](repeating: 0, count: Int(INET6_ADDRSTRLEN) + 1)
        switch Int32(copy.ss_family) {
        case AF_INET:
            return withUnsafePointer(to: &copy) {
                $0.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { sin in
                    var addr = sin.pointee.sin_addr
                    inet_ntop(AF_INET, &addr, &text, socklen_t(text.count))
                    return text.withUnsafeBufferPointer { String(cString: $0.baseAddress!) } + ":" + String(UInt16(bigEndian: sin.pointee.sin_port))
                }
            }
        case AF_INET6:
            return withUnsafePointer(to: &copy) {
                $0.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) { sin in
                    var addr = sin.pointee.sin6_addr
                    inet_ntop(AF_INET6, &addr, &text, socklen_t(text.count))
                    return "[" + text.withUnsafeBufferPointer { String(cString: $0.baseAddress!) } + "]:" + String(UInt16(bigEndian: sin.pointee.sin6_port))
                }
            }
        default:
            return "unknown"
        }
    }
}

/// Splits `host:port` or `[v6]:port`.
public func parseListenAddress(_ text: String) -> (host: String, port: Int)? {
    guard let colon = text.lastIndex(of: ":") else { return nil }
    let host = String(text[..<colon])
    guard let port = Int(text[text.index(after: colon)...]), (0...65535).contains(port), !host.isEmpty,
        text[text.index(after: colon)...].allSatisfy({ $0.isASCII && $0.isNumber })
    else { return nil }
    return (host, port)
}
