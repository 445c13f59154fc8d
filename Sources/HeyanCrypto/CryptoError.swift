import HeyanDomain

/// A failure in heyan's crypto layer that is not a raw OpenSSL error: a key file with loose
/// permissions, a malformed or forged JWS, an untrusted certificate chain, a refused PKI operation.
///
/// ``code`` is stable and dotted (`key.permissions`, `jws.signature`, `certificate.revoked`,
/// `pki.exists`); ``message`` is a sentence for a person. OpenSSL call failures use
/// ``OpenSSLError`` instead.
public struct CryptoError: HeyanError, Equatable {
    public let code: String
    public let message: String
    /// Where the error was raised, `Module/File.swift:line`, for logs.
    public let location: String

    public init(code: String, message: String, fileID: String = #fileID, line: Int = #line) {
        self.code = code
        self.message = message
        self.location = "\(fileID):\(line)"
    }

    public static func == (lhs: CryptoError, rhs: CryptoError) -> Bool {
        lhs.code == rhs.code && lhs.message == rhs.message
    }
}
