#if canImport(Glibc)
import Glibc
#endif
import COpenSSL
import HeyanCrypto

/// Files that make up the server's TLS identity and its trust in client certificates.
public struct TLSIdentityFiles: Sendable, Equatable {
    public var certificateChain: String
    public var privateKey: String
    public var clientCA: String
    public var crl: String?

    public init(certificateChain: String, privateKey: String, clientCA: String, crl: String?) {
        self.certificateChain = certificateChain
        self.privateKey = privateKey
        self.clientCA = clientCA
        self.crl = crl
    }
}

/// A server `SSL_CTX` configured for heyan's mutual TLS: TLS 1.2–1.3, a client certificate required
/// and verified against the department CA and its CRL, no renegotiation, session resumption on.
///
/// Immutable once built; SIGHUP builds a new one and new connections pick it up, while existing
/// connections keep the context they started with (OpenSSL reference-counts it).
public final class TLSContext: @unchecked Sendable {
    // @unchecked: the SSL_CTX is fully configured in init and only read afterwards; OpenSSL's
    // SSL_new and session cache on a shared SSL_CTX are thread-safe.
    private let context: OpaquePointer
    public let files: TLSIdentityFiles

    public init(files: TLSIdentityFiles) throws {
        self.files = files
        // Load (and permission-check) everything before touching OpenSSL state.
        let key = try PrivateKey.load(pemFile: files.privateKey)
        let chain = try Certificate.loadChain(pemFile: files.certificateChain)
        guard let leaf = chain.first else {
            throw OpenSSLError(code: "tls.certificate", operation: "no certificate in \(files.certificateChain)")
        }
        let trust = try TrustStore(caFile: files.clientCA, crlFile: files.crl)

        guard let context = SSL_CTX_new(TLS_server_method()) else {
            throw OpenSSLError.drain("SSL_CTX_new", code: "tls.context")
        }
        self.context = context
        guard heyan_SSL_CTX_set_min_proto_version(context, TLS1_2_VERSION) == 1 else {
            throw OpenSSLError.drain("SSL_CTX_set_min_proto_version", code: "tls.context")
        }
        SSL_CTX_set_options(
            context,
            heyan_SSL_OP_NO_RENEGOTIATION() | heyan_SSL_OP_NO_COMPRESSION()
                | heyan_SSL_OP_CIPHER_SERVER_PREFERENCE())
        // NO_AUTO_CHAIN: the server sends the chain `tls.certificate` holds (leaf, then its
        // intermediates), as nginx does. Without it, a leaf-only file made OpenSSL build a chain on
        // every handshake from the client-CA store: an X509_verify_cert of the server's own
        // certificate (its signature and the CRL's verified again, ~1.8 M of ~10.4 M instructions
        // per full handshake) only to append the self-signed department CA, which clients already
        // hold as their trust anchor (docs/tls.md, "Server certificate chain").
        _ = heyan_SSL_CTX_set_mode(
            context,
            heyan_SSL_MODE_ENABLE_PARTIAL_WRITE() | heyan_SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER()
                | heyan_SSL_MODE_RELEASE_BUFFERS() | heyan_SSL_MODE_NO_AUTO_CHAIN())
        // Read-ahead: one read(2) takes whatever the socket holds (a client's whole flight, or a
        // request's records) instead of two per TLS record (header, then body), as nginx does: a
        // full handshake with one request made ~13 reads, now ~3 (nginx ~4). Safe with the connection's
        // reading discipline: it goes back to epoll only after SSL_read or SSL_do_handshake says
        // WANT_READ, or after a short SSL_read with nothing left in OpenSSL (`hasPendingPlaintext`:
        // SSL_has_pending counts read-ahead bytes not yet processed), and resumes a paused read by
        // reading at once (HTTPConnectionStateMachine `.read`), so bytes OpenSSL buffered are never
        // left waiting for an epoll event.
        _ = heyan_SSL_CTX_set_read_ahead(context, 1)
        _ = heyan_SSL_CTX_set1_groups_list(context, "X25519:P-256:P-384")
        // TLS 1.2: forward-secret key exchange and AEAD only (docs/tls.md). OpenSSL's default list
        // also offers the CBC suites (ECDHE-ECDSA-AES128-SHA, -SHA256, -AES256-SHA, -SHA384), which
        // testssl.sh reports as obsolete and potentially vulnerable to LUCKY13. TLS 1.3 suites are
        // set apart (SSL_CTX_set_ciphersuites) and keep OpenSSL's default: all three are AEAD.
        guard SSL_CTX_set_cipher_list(context, Self.tls12Ciphers) == 1 else {
            throw OpenSSLError.drain("SSL_CTX_set_cipher_list", code: "tls.context")
        }

        // Server identity.
        let usedCertificate = leaf.withUnsafePointer { SSL_CTX_use_certificate(context, $0) }
        guard usedCertificate == 1 else { throw OpenSSLError.drain("SSL_CTX_use_certificate", code: "tls.certificate") }
        for intermediate in chain.dropFirst() {
            let added = intermediate.withUnsafePointer { pointer -> Int in
                X509_up_ref(pointer)
                return heyan_SSL_CTX_add_extra_chain_cert(context, pointer)
            }
            guard added == 1 else { throw OpenSSLError.drain("SSL_CTX_add_extra_chain_cert", code: "tls.certificate") }
        }
        let usedKey = key.withUnsafePointer { SSL_CTX_use_PrivateKey(context, $0) }
        guard usedKey == 1 else { throw OpenSSLError.drain("SSL_CTX_use_PrivateKey", code: "tls.private-key") }
        guard SSL_CTX_check_private_key(context) == 1 else {
            throw OpenSSLError.drain("SSL_CTX_check_private_key (\(files.privateKey) does not match \(files.certificateChain))", code: "tls.private-key")
        }

        // Client certificates: required, chained to the department CA, checked against the CRL.
        SSL_CTX_set_cert_store(context, try trust.makeOpenSSLStore())
        SSL_CTX_set_verify(context, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, refuseCertificateAuthorityAsClient)
        SSL_CTX_set_verify_depth(context, 4)
        if let names = SSL_load_client_CA_file(files.clientCA) {
            SSL_CTX_set_client_CA_list(context, names)
        }
        _ = SSL_CTX_set_purpose(context, X509_PURPOSE_SSL_CLIENT)

        // Resumption: without a session id context, resuming a client-certificate session fails.
        let idContext: [UInt8] = Array("heyan".utf8)
        guard SSL_CTX_set_session_id_context(context, idContext, UInt32(idContext.count)) == 1 else {
            throw OpenSSLError.drain("SSL_CTX_set_session_id_context", code: "tls.context")
        }
        // Resumption with stateful tickets: one TLS 1.3 ticket per handshake (OpenSSL sends two)
        // holding only a session id, the session itself kept in this context's cache. A
        // stateless ticket (the whole session, client certificate included, encoded, encrypted
        // and MACed) cost ~150 us of server CPU per full handshake here, 15 % of it; a cache
        // entry costs almost nothing (docs/performance.md, "handshakes"). The price: resumption
        // works against this process only, which is all a single node has anyway.
        _ = SSL_CTX_set_num_tickets(context, 1)
        SSL_CTX_set_options(context, heyan_SSL_OP_NO_TICKET())
        _ = heyan_SSL_CTX_set_session_cache_mode(context, heyan_SSL_SESS_CACHE_SERVER())
        // ~10 KB a session (it holds the parsed client certificate): ~10 MB at most. Departments are
        // dozens, each with a handful of connections.
        _ = heyan_SSL_CTX_sess_set_cache_size(context, 1024)
        SSL_CTX_set_timeout(context, 3600)
        _ = OpenSSLError.drainQueue()
    }

    deinit { SSL_CTX_free(context) }

    /// The TLS 1.2 cipher suites offered: ECDHE key exchange with AES-GCM or ChaCha20-Poly1305, for
    /// ECDSA and RSA server keys, strongest first.
    static let tls12Ciphers =
        "ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-ECDSA-AES128-GCM-SHA256:"
        + "ECDHE-RSA-AES256-GCM-SHA384:ECDHE-RSA-CHACHA20-POLY1305:ECDHE-RSA-AES128-GCM-SHA256"

    /// A new server-side `SSL` for an accepted socket.
    func makeSession(fd: Int32) throws -> TLSSession {
        guard let ssl = SSL_new(context) else { throw OpenSSLError.drain("SSL_new", code: "tls.session") }
        guard SSL_set_fd(ssl, fd) == 1 else {
            SSL_free(ssl)
            throw OpenSSLError.drain("SSL_set_fd", code: "tls.session")
        }
        SSL_set_accept_state(ssl)
        return TLSSession(takingOwnership: ssl)
    }
}

/// One server-side TLS session over a non-blocking socket (owns the `SSL*`).
final class TLSSession {
    enum Progress: Equatable {
        case done(Int)
        case wantRead
        case wantWrite
        /// Clean close_notify or EOF from the peer.
        case closed
        case failed(String)
    }

    private let ssl: OpaquePointer

    init(takingOwnership ssl: OpaquePointer) { self.ssl = ssl }
    deinit { SSL_free(ssl) }

    func handshake() -> Progress {
        let result = SSL_do_handshake(ssl)
        return result == 1 ? .done(0) : progress(after: result)
    }

    func read(into buffer: UnsafeMutableRawBufferPointer) -> Progress {
        let result = SSL_read(ssl, buffer.baseAddress, Int32(min(buffer.count, Int(Int32.max))))
        return result > 0 ? .done(Int(result)) : progress(after: result)
    }

    func write(_ buffer: UnsafeRawBufferPointer) -> Progress {
        let result = SSL_write(ssl, buffer.baseAddress, Int32(min(buffer.count, Int(Int32.max))))
        return result > 0 ? .done(Int(result)) : progress(after: result)
    }

    /// Sends close_notify without waiting for the peer's.
    func shutdown() {
        _ = SSL_shutdown(ssl)
        _ = OpenSSLError.drainQueue()
    }

    var isResumed: Bool { heyan_SSL_session_reused(ssl) == 1 }
    /// Decrypted application bytes OpenSSL holds that epoll cannot see.
    var hasPendingPlaintext: Bool { SSL_pending(ssl) > 0 || SSL_has_pending(ssl) == 1 }

    var protocolVersion: String { String(cString: SSL_get_version(ssl)) }

    /// The verified client certificate (heyan requires one, so nil only before the handshake).
    func peerCertificate() -> Certificate? {
        guard let x509 = SSL_get1_peer_certificate(ssl) else { return nil }
        return Certificate(takingOwnership: x509)
    }

    private func progress(after result: Int32) -> Progress {
        let error = SSL_get_error(ssl, result)
        switch error {
        case SSL_ERROR_WANT_READ: return .wantRead
        case SSL_ERROR_WANT_WRITE: return .wantWrite
        case SSL_ERROR_ZERO_RETURN:
            return .closed
        case SSL_ERROR_SYSCALL:
            let queue = OpenSSLError.drainQueue()
            if queue.isEmpty { return errno == 0 || errno == ECONNRESET || errno == EPIPE ? .closed : .failed("syscall: errno \(errno)") }
            return .failed(queue.map(\.text).joined(separator: "; "))
        default:
            let queue = OpenSSLError.drainQueue()
            let verify = SSL_get_verify_result(ssl)
            var text = queue.map(\.text).joined(separator: "; ")
            if verify != X509_V_OK {
                text += " (certificate: \(String(cString: X509_verify_cert_error_string(verify))))"
            }
            return .failed(text.isEmpty ? "ssl error \(error)" : text)
        }
    }
}
