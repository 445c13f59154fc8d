#if canImport(Glibc)
import Glibc
#endif
import CLinux
import COpenSSL
import HeyanCrypto

/// One non-blocking TLS client connection of a worker: TCP connect, handshake, then one request
/// at a time (no pipelining) and its response.
///
/// The connection only does I/O and says what happened (``Outcome``); the ``BenchWorker`` decides
/// what comes next. Touched only on its worker's thread.
final class BenchConnection {
    enum State: Equatable { case closed, connecting, handshaking, open }

    /// What an event on the connection amounted to.
    enum Outcome {
        case nothing
        /// The handshake completed (a queued request, if any, has been written or is being written).
        case ready
        /// A whole response is in the read buffer; hand its body to the script, then ``consume(_:)``.
        case response(HTTPResponseReader.Response)
        /// The server closed an idle connection (no request outstanding).
        case peerClosedIdle
        /// The connection failed and is closed.
        case failed(BenchErrorKind, String)
    }

    /// Where this connection sits in its worker's table (the epoll `data.u64`).
    let slot: Int
    /// The virtual user it belongs to, and which of the user's connections it is.
    let user: Int
    let role: Int
    private let context: BenchTLSContext
    private let epollFD: Int32
    private let address: sockaddr_in
    private let serverName: String

    private(set) var state = State.closed
    private var fd: Int32 = -1
    private var ssl: OpaquePointer?
    private var interest: UInt32 = 0

    /// The request being written or waiting for the handshake, and how much of it is written.
    private var outgoing: UnsafeRawBufferPointer?
    private var written = 0
    /// A request was sent and its response is not complete yet.
    private(set) var awaitingResponse = false
    /// When the current connect or request started (for `--timeout`).
    private(set) var busySince: UInt64 = 0

    private var buffer: UnsafeMutableRawPointer
    private var capacity: Int
    private var used = 0
    private var reader = HTTPResponseReader()

    init(slot: Int, user: Int, role: Int, context: BenchTLSContext, epollFD: Int32, address: sockaddr_in, serverName: String) {
        self.slot = slot
        self.user = user
        self.role = role
        self.context = context
        self.epollFD = epollFD
        self.address = address
        self.serverName = serverName
        capacity = 16_384
        buffer = .allocate(byteCount: capacity, alignment: 16)
    }

    deinit {
        close()
        buffer.deallocate()
    }

    /// True while a connect, handshake or request is under way.
    var isBusy: Bool { state == .connecting || state == .handshaking || awaitingResponse }

    /// The response body bytes of `response` (valid until ``consume(_:)``).
    func body(of response: HTTPResponseReader.Response) -> UnsafeRawBufferPointer {
        UnsafeRawBufferPointer(start: buffer + response.body.lowerBound, count: response.body.count)
    }

    // MARK: connecting

    /// Starts a TCP connect; the handshake follows when it completes.
    private func connect(now: UInt64) -> Outcome {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_NONBLOCK.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { return .failed(.connect, "socket: \(String(cString: strerror(errno)))") }
        self.fd = fd
        busySince = now
        var one: Int32 = 1
        setsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
        var address = self.address
        let result = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                Glibc.connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        var event = epoll_event()
        event.events = EPOLLIN.rawValue | EPOLLOUT.rawValue
        event.data.u64 = UInt64(slot)
        guard epoll_ctl(epollFD, EPOLL_CTL_ADD, fd, &event) == 0 else {
            let message = "epoll_ctl: \(String(cString: strerror(errno)))"
            close()
            return .failed(.connect, message)
        }
        interest = event.events
        if result == 0 { return startTLS() }
        guard errno == EINPROGRESS else {
            let message = "connect: \(String(cString: strerror(errno)))"
            close()
            return .failed(.connect, message)
        }
        state = .connecting
        return .nothing
    }

    private func startTLS() -> Outcome {
        guard let ssl = SSL_new(context.context) else {
            close()
            return .failed(.handshake, OpenSSLError.drainQueue().map(\.text).joined(separator: "; "))
        }
        self.ssl = ssl
        SSL_set_fd(ssl, fd)
        _ = serverName.withCString { heyan_SSL_set_tlsext_host_name(ssl, $0) }
        SSL_set_connect_state(ssl)
        state = .handshaking
        return handshake()
    }

    private func handshake() -> Outcome {
        guard let ssl else { return .failed(.handshake, "no TLS session") }
        let result = SSL_do_handshake(ssl)
        if result == 1 {
            state = .open
            if outgoing != nil {
                if case .failed(let kind, let message) = flush() { return .failed(kind, message) }
            } else {
                setInterest(EPOLLIN.rawValue)
            }
            return .ready
        }
        let error = SSL_get_error(ssl, result)
        switch error {
        case SSL_ERROR_WANT_READ:
            setInterest(EPOLLIN.rawValue)
            return .nothing
        case SSL_ERROR_WANT_WRITE:
            setInterest(EPOLLIN.rawValue | EPOLLOUT.rawValue)
            return .nothing
        default:
            let message = failureText(ssl: ssl, error: error, during: "handshake")
            close()
            return .failed(.handshake, message)
        }
    }

    // MARK: requests

    /// Sends `request` (connecting first when closed). The bytes must stay valid until the
    /// response arrives.
    func send(_ request: UnsafeRawBufferPointer, now: UInt64) -> Outcome {
        outgoing = request
        written = 0
        awaitingResponse = true
        reader.reset()
        used = 0
        switch state {
        case .closed:
            return connect(now: now)
        case .connecting, .handshaking:
            return .nothing  // written when the handshake completes
        case .open:
            busySince = now
            return flush()
        }
    }

    private func flush() -> Outcome {
        guard let ssl, let request = outgoing, let base = request.baseAddress else { return .nothing }
        while written < request.count {
            let result = SSL_write(ssl, base + written, Int32(request.count - written))
            if result > 0 {
                written += Int(result)
                continue
            }
            let error = SSL_get_error(ssl, result)
            switch error {
            case SSL_ERROR_WANT_WRITE:
                setInterest(EPOLLIN.rawValue | EPOLLOUT.rawValue)
                return .nothing
            case SSL_ERROR_WANT_READ:
                setInterest(EPOLLIN.rawValue)
                return .nothing
            default:
                let message = failureText(ssl: ssl, error: error, during: "write")
                close()
                return .failed(.closed, message)
            }
        }
        outgoing = nil
        setInterest(EPOLLIN.rawValue)
        return .nothing
    }

    // MARK: events

    /// Handles epoll `events` (or, with 0, data already buffered inside OpenSSL).
    func handle(events: UInt32, now: UInt64) -> Outcome {
        switch state {
        case .closed:
            return .nothing
        case .connecting:
            var error: Int32 = 0
            var length = socklen_t(MemoryLayout<Int32>.size)
            getsockopt(fd, SOL_SOCKET, SO_ERROR, &error, &length)
            if error != 0 {
                close()
                return .failed(.connect, "connect: \(String(cString: strerror(error)))")
            }
            if events & (EPOLLOUT.rawValue | EPOLLERR.rawValue | EPOLLHUP.rawValue) == 0 { return .nothing }
            return startTLS()
        case .handshaking:
            return handshake()
        case .open:
            if outgoing != nil && events & (EPOLLOUT.rawValue | EPOLLIN.rawValue) != 0 {
                if case .failed(let kind, let message) = flush() { return .failed(kind, message) }
                if outgoing != nil { return .nothing }
            }
            return read()
        }
    }

    /// Data OpenSSL holds that epoll cannot see (read-ahead), or a response already buffered.
    var hasBufferedInput: Bool {
        guard state == .open, let ssl else { return false }
        return SSL_has_pending(ssl) == 1
    }

    private func read() -> Outcome {
        guard let ssl else { return .nothing }
        while true {
            if awaitingResponse && used > 0 {
                switch reader.parse(UnsafeMutableRawBufferPointer(start: buffer, count: used)) {
                case .complete(let response):
                    if response.status < 200 {
                        consume(response)
                        continue
                    }
                    return .response(response)
                case .invalid(let reason):
                    close()
                    return .failed(.parse, reason)
                case .needMore:
                    break
                }
            }
            if used == capacity {
                guard capacity < 1 << 26 else {
                    close()
                    return .failed(.parse, "response over 64 MiB")
                }
                let grown = UnsafeMutableRawPointer.allocate(byteCount: capacity * 2, alignment: 16)
                grown.copyMemory(from: buffer, byteCount: used)
                buffer.deallocate()
                buffer = grown
                capacity *= 2
            }
            let result = SSL_read(ssl, buffer + used, Int32(capacity - used))
            if result > 0 {
                used += Int(result)
                if !awaitingResponse && used > 1 << 20 { used = 0 }  // unsolicited data: keep memory bounded
                continue
            }
            let error = SSL_get_error(ssl, result)
            switch error {
            case SSL_ERROR_WANT_READ:
                return .nothing
            case SSL_ERROR_WANT_WRITE:
                setInterest(EPOLLIN.rawValue | EPOLLOUT.rawValue)
                return .nothing
            case SSL_ERROR_ZERO_RETURN:
                close()
                return awaitingResponse ? .failed(.closed, "server closed the connection before responding") : .peerClosedIdle
            default:
                let message = failureText(ssl: ssl, error: error, during: "read")
                let wasAwaiting = awaitingResponse
                close()
                if !wasAwaiting && error == SSL_ERROR_SYSCALL { return .peerClosedIdle }
                return .failed(.closed, message)
            }
        }
    }

    /// Drops a handled response from the buffer; closes the connection when the server said
    /// `Connection: close`.
    func consume(_ response: HTTPResponseReader.Response) {
        let rest = used - response.consumed
        if rest > 0 { buffer.copyMemory(from: buffer + response.consumed, byteCount: rest) }
        used = rest
        reader.reset()
        if response.status >= 200 {
            awaitingResponse = false
            if response.close { shutdownAndClose() }
        }
    }

    // MARK: closing

    /// Sends close_notify (without waiting for the server's) and closes.
    func shutdownAndClose() {
        if let ssl, state == .open { _ = SSL_shutdown(ssl) }
        close()
    }

    /// Closes at once, abandoning anything in flight.
    func close() {
        if let ssl { SSL_free(ssl) }
        ssl = nil
        if fd >= 0 {
            _ = epoll_ctl(epollFD, EPOLL_CTL_DEL, fd, nil)
            Glibc.close(fd)
        }
        _ = OpenSSLError.drainQueue()
        fd = -1
        state = .closed
        interest = 0
        outgoing = nil
        awaitingResponse = false
        used = 0
        reader.reset()
    }

    private func setInterest(_ events: UInt32) {
        guard events != interest, fd >= 0 else { return }
        var event = epoll_event()
        event.events = events
        event.data.u64 = UInt64(slot)
        _ = epoll_ctl(epollFD, EPOLL_CTL_MOD, fd, &event)
        interest = events
    }

    private func failureText(ssl: OpaquePointer, error: Int32, during what: String) -> String {
        let savedErrno = errno
        let queue = OpenSSLError.drainQueue().map(\.text)
        var text = "\(what): " + (queue.isEmpty ? "ssl error \(error), errno \(savedErrno) (\(String(cString: strerror(savedErrno))))" : queue.joined(separator: "; "))
        let verify = SSL_get_verify_result(ssl)
        if verify != X509_V_OK { text += " (server certificate: \(String(cString: X509_verify_cert_error_string(verify))))" }
        return text
    }
}
