import COpenSSL
import HeyanCrypto

/// A client `SSL_CTX` for load: one department identity, the server verified against one CA,
/// no session cache (every new connection is a full handshake), read-ahead on so a response is
/// read with one system call.
///
/// Shared by the worker threads: configured in `init`, read-only afterwards, and `SSL_new` on a
/// shared `SSL_CTX` is thread-safe.
public final class BenchTLSContext: @unchecked Sendable {
    // @unchecked: see above — the context is never changed after init.
    let context: OpaquePointer
    /// The department files it was made from (for messages).
    public let certificateFile: String

    /// - Parameters:
    ///   - certificate, key: the department's PEM files.
    ///   - trust: the CA that must have issued the server certificate.
    public init(certificate: String, key: String, trust: String) throws {
        guard let context = SSL_CTX_new(TLS_client_method()) else {
            throw OpenSSLError.drain("SSL_CTX_new", code: "bench.tls")
        }
        self.context = context
        certificateFile = certificate
        _ = heyan_SSL_CTX_set_min_proto_version(context, TLS1_2_VERSION)
        let chain = try Certificate.loadChain(pemFile: certificate)
        let privateKey = try PrivateKey.load(pemFile: key)
        guard let leaf = chain.first, leaf.withUnsafePointer({ SSL_CTX_use_certificate(context, $0) }) == 1 else {
            throw OpenSSLError.drain("SSL_CTX_use_certificate(\(certificate))", code: "bench.tls")
        }
        for extra in chain.dropFirst() {
            // The context takes its own reference to each extra chain certificate.
            let added = extra.withUnsafePointer { pointer -> Int in
                guard X509_up_ref(pointer) == 1 else { return 0 }
                return heyan_SSL_CTX_add_extra_chain_cert(context, pointer)
            }
            guard added == 1 else { throw OpenSSLError.drain("SSL_CTX_add_extra_chain_cert", code: "bench.tls") }
        }
        guard privateKey.withUnsafePointer({ SSL_CTX_use_PrivateKey(context, $0) }) == 1,
            SSL_CTX_check_private_key(context) == 1
        else {
            throw OpenSSLError.drain("SSL_CTX_use_PrivateKey(\(key))", code: "bench.tls")
        }
        guard SSL_CTX_load_verify_locations(context, trust, nil) == 1 else {
            throw OpenSSLError.drain("SSL_CTX_load_verify_locations(\(trust))", code: "bench.tls")
        }
        SSL_CTX_set_verify(context, SSL_VERIFY_PEER, nil)
        _ = heyan_SSL_CTX_set_session_cache_mode(context, heyan_SSL_SESS_CACHE_OFF())
        _ = heyan_SSL_CTX_set_read_ahead(context, 1)
        _ = heyan_SSL_CTX_set_mode(context, heyan_SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER())
    }

    deinit { SSL_CTX_free(context) }
}
