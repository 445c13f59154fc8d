#if canImport(Glibc)
import Glibc
#endif
import CLinux
import COpenSSL
import HeyanCrypto

/// A client `SSL_CTX` with an optional department certificate, trusting one CA. Used by the
/// tests, `heyan bench` and `heyan attestation verify --online`.
public final class TLSClientContext: @unchecked Sendable {
    // @unchecked: configured in init, read-only afterwards; SSL_new on a shared SSL_CTX is thread-safe.
    fileprivate let context: OpaquePointer

    /// - Parameters:
    ///   - certificate, key: the client identity (PEM files); nil to connect without one.
    ///   - trust: CA file for the server certificate; nil skips server verification (tests only).
    ///   - version: pin one protocol version (e.g. `TLS1_1_VERSION`) for negative tests.
    public init(certificate: String?, key: String?, trust: String?, version: Int32? = nil) throws {
        guard let context = SSL_CTX_new(TLS_client_method()) else {
            throw OpenSSLError.drain("SSL_CTX_new", code: "tls.client")
        }
        self.context = context
        if let version {
            _ = heyan_SSL_CTX_set_min_proto_version(context, version)
            _ = heyan_SSL_CTX_set_max_proto_version(context, version)
            if version < TLS1_2_VERSION { _ = SSL_CTX_set_cipher_list(context, "DEFAULT:@SECLEVEL=0") }
        }
        if let certificate, let key {
            let chain = try Certificate.loadChain(pemFile: certificate)
            let privateKey = try PrivateKey.load(pemFile: key)
            guard let leaf = chain.first, leaf.withUnsafePointer({ SSL_CTX_use_certificate(context, $0) }) == 1 else {
                throw OpenSSLError.drain("SSL_CTX_use_certificate(\(certificate))", code: "tls.client")
            }
            guard privateKey.withUnsafePointer({ SSL_CTX_use_PrivateKey(context, $0) }) == 1 else {
                throw OpenSSLError.drain("SSL_CTX_use_PrivateKey(\(key))", code: "tls.client")
            }
        }
        if let trust {
            guard SSL_CTX_load_verify_locations(context, trust, nil) == 1 else {
                throw OpenSSLError.drain("SSL_CTX_load_verify_locations(\(trust))", code: "tls.client")
            }
            SSL_CTX_set_verify(context, SSL_VERIFY_PEER, nil)
        }
        _ = heyan_SSL_CTX_set_session_cache_mode(context, 1 /* SSL_SESS_CACHE_CLIENT */)
    }

    deinit { SSL_CTX_free(context) }
}

/// A response as read by ``TLSClientConnection``.
public struct ClientResponse: Sendable {
    public var status: Int
    public var headers: HTTPHeaders
    public var body: [UInt8]
    public var bodyText: String { String(decoding: body, as: UTF8.self) }
}

/// A blocking TLS client connection to a heyan server (one thread each). Good for tests and for
/// closed-loop load; not a general HTTP client.
public final class TLSClientConnection {
    private let fd: Int32
    private let ssl: OpaquePointer
    private var buffer: [UInt8] = []
    /// The TLS session, to resume on a later connection.
    public private(set) var session: OpaquePointer?

    public struct ConnectError: Error, CustomStringConvertible {
        public let description: String
    }

    /// Connects and completes the handshake (blocking). `resume` is a session from an earlier
    /// connection.
    public init(host: String = "127.0.0.1", port: Int, context: TLSClientContext, serverName: String? = "localhost",
                resume: OpaquePointer? = nil, timeoutSeconds: Int = 10, verifyServerName: Bool = false) throws {
        // A server that closes first must give this client EPIPE, not a SIGPIPE that kills the process.
        signal(SIGPIPE, SIG_IGN)
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        self.fd = fd
        guard fd >= 0 else { throw SystemError(code: "system.socket", call: "socket") }
        var timeout = timeval(tv_sec: timeoutSeconds, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        var one: Int32 = 1
        setsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = UInt16(port).bigEndian
        inet_pton(AF_INET, host, &address.sin_addr)
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard connected == 0 else {
            let error = SystemError(code: "system.connect", call: "connect(\(host):\(port))")
            close(fd)
            throw error
        }
        guard let ssl = SSL_new(context.context) else {
            close(fd)
            throw OpenSSLError.drain("SSL_new", code: "tls.client")
        }
        self.ssl = ssl
        SSL_set_fd(ssl, fd)
        if let serverName {
            _ = serverName.withCString {
                SSL_ctrl(ssl, SSL_CTRL_SET_TLSEXT_HOSTNAME, Int(TLSEXT_NAMETYPE_host_name), UnsafeMutableRawPointer(mutating: $0))
            }
        }
        if verifyServerName, let serverName {
            // The peer certificate must name `serverName` (SAN), not merely chain to the CA.
            guard SSL_set1_host(ssl, serverName) == 1 else {
                throw OpenSSLError.drain("SSL_set1_host", code: "tls.client")
            }
        }
        if let resume { SSL_set_session(ssl, resume) }
        guard SSL_connect(ssl) == 1 else {
            // Every stored property is set, so deinit runs on this throw and frees ssl and fd.
            throw OpenSSLError.drain("SSL_connect", code: "tls.handshake")
        }
    }

    deinit {
        if let session { SSL_SESSION_free(session) }
        SSL_free(ssl)
        close(fd)
    }

    public var isResumed: Bool { heyan_SSL_session_reused(ssl) == 1 }
    public var protocolVersion: String { String(cString: SSL_get_version(ssl)) }
    /// How many certificates the server sent in its Certificate message (its leaf included).
    public var serverCertificatesSent: Int {
        guard let chain = SSL_get_peer_cert_chain(ssl) else { return 0 }
        return Int(heyan_sk_X509_num(chain))
    }

    /// Keeps the current session for resumption (call after a request on TLS 1.3, where the
    /// ticket arrives after the handshake).
    public func saveSession() {
        if let session { SSL_SESSION_free(session) }
        session = SSL_get1_session(ssl)
    }

    /// Writes all of `bytes`.
    public func send(_ bytes: [UInt8]) throws {
        var offset = 0
        while offset < bytes.count {
            let written = bytes.withUnsafeBytes { SSL_write(ssl, $0.baseAddress! + offset, Int32(bytes.count - offset)) }
            guard written > 0 else { throw OpenSSLError.drain("SSL_write", code: "tls.write") }
            offset += Int(written)
        }
    }

    public func send(_ text: String) throws { try send(Array(text.utf8)) }

    /// A GET (or other body-less) request with keep-alive.
    public func request(_ method: String, _ target: String, headers: [(String, String)] = [], body: [UInt8]? = nil) throws -> ClientResponse {
        var text = "\(method) \(target) HTTP/1.1\r\nHost: localhost\r\n"
        for (name, value) in headers { text += "\(name): \(value)\r\n" }
        if let body { text += "Content-Length: \(body.count)\r\n" }
        text += "\r\n"
        var bytes = Array(text.utf8)
        if let body { bytes += body }
        try send(bytes)
        return try readResponse()
    }

    /// Reads bytes until the peer closes or `timeout` passes; returns what arrived.
    public func readToEnd() -> [UInt8] {
        var all = buffer
        buffer = []
        var chunk = [UInt8](repeating: 0, count: 16384)
        while true {
            let count = chunk.withUnsafeMutableBytes { SSL_read(ssl, $0.baseAddress, Int32($0.count)) }
            if count <= 0 { break }
            all += chunk[0..<Int(count)]
        }
        _ = OpenSSLError.drainQueue()
        return all
    }

    /// Reads one response (Content-Length framed, as heyan always sends). HEAD responses: pass
    /// `headOnly`.
    public func readResponse(headOnly: Bool = false) throws -> ClientResponse {
        while true {
            if let end = headerEnd() {
                let head = String(decoding: buffer[0..<end], as: UTF8.self)
                var lines = head.split(separator: "\r\n", omittingEmptySubsequences: false)
                let statusLine = lines.removeFirst().split(separator: " ")
                guard statusLine.count >= 2, let status = Int(statusLine[1]) else {
                    throw ConnectError(description: "bad status line in \(head)")
                }
                var headers = HTTPHeaders()
                for line in lines where !line.isEmpty {
                    guard let colon = line.firstIndex(of: ":") else { continue }
                    headers.add(String(line[..<colon]), String(line[line.index(after: colon)...]).trimmingSpaces())
                }
                let length = headOnly || status == 100 ? 0 : Int(headers["Content-Length"] ?? "0") ?? 0
                let total = end + 4 + length
                while buffer.count < total { try fill() }
                let body = Array(buffer[(end + 4)..<total])
                buffer.removeFirst(total)
                if status == 100 { continue }
                return ClientResponse(status: status, headers: headers, body: body)
            }
            try fill()
        }
    }

    private func headerEnd() -> Int? {
        guard buffer.count >= 4 else { return nil }
        for index in 0...(buffer.count - 4)
        where buffer[index] == 13 && buffer[index + 1] == 10 && buffer[index + 2] == 13 && buffer[index + 3] == 10 {
            return index
        }
        return nil
    }

    /// Reads whatever arrives next (buffered bytes first) into `raw`; returns the count.
    public func readSome(into raw: UnsafeMutableRawBufferPointer) throws -> Int {
        if buffer.isEmpty { try fill() }
        let count = min(raw.count, buffer.count)
        buffer.withUnsafeBytes { raw.copyMemory(from: UnsafeRawBufferPointer(rebasing: $0[0..<count])) }
        buffer.removeFirst(count)
        return count
    }

    private func fill() throws {
        var chunk = [UInt8](repeating: 0, count: 16384)
        let count = chunk.withUnsafeMutableBytes { SSL_read(ssl, $0.baseAddress, Int32($0.count)) }
        guard count > 0 else {
            let error = SSL_get_error(ssl, count)
            _ = OpenSSLError.drainQueue()
            throw ConnectError(description: "connection closed while reading a response (ssl error \(error))")
        }
        buffer += chunk[0..<Int(count)]
    }
}

extension StringProtocol {
    func trimmingSpaces() -> String {
        var slice = Substring(self)
        while slice.first == " " || slice.first == "\t" { slice.removeFirst() }
        while slice.last == " " || slice.last == "\t" { slice.removeLast() }
        return String(slice)
    }
}
