import COpenSSL

/// The verify callback of the server's `SSL_CTX`: on top of OpenSSL's chain, validity, CRL and
/// SSL-client purpose checks (`preverified`), it refuses a client certificate that is itself a CA
/// (basicConstraints CA:TRUE, keyCertSign, or a v1 self-signed root). OpenSSL's purpose check does
/// not: a subordinate CA certificate carrying `urn:heyan:dept:<code>` and clientAuth would otherwise
/// authenticate as that department, and a CA key is not a department's key.
let refuseCertificateAuthorityAsClient: @convention(c) (Int32, OpaquePointer?) -> Int32 = { preverified, store in
    guard preverified == 1, let store else { return preverified }
    guard X509_STORE_CTX_get_error_depth(store) == 0, let certificate = X509_STORE_CTX_get_current_cert(store) else {
        return 1
    }
    guard X509_check_ca(certificate) == 0 else {
        X509_STORE_CTX_set_error(store, X509_V_ERR_INVALID_PURPOSE)
        return 0
    }
    return 1
}
