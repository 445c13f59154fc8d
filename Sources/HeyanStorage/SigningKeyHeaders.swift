import HeyanDomain

/// The database as the record of every attestation signing key heyan used.
///
/// Each attestation's JWS protected header is stored once in `jws_headers` (migration 3), and the
/// header holds the key's `kid` and its `x5c` certificate chain. So the table already keeps every
/// key and certificate that ever signed an attestation or a commitment receipt; heyan also
/// registers the current header when it starts and when SIGHUP loads a new key, so a key is on
/// record before its first signature. `GET /.well-known/jwks.json` is built from these rows
/// (docs/api.md): retired keys stay verifiable after a rotation without a separate key store.
extension SQLiteVerificationStore {
    /// Records `header` (the base64url first segment of a compact JWS) in `jws_headers`, if new.
    public func registerSigningHeader(_ header: String, completion: @escaping StoreCompletion<Void>) {
        writer.submit(
            { session in _ = try session.jwsHeaders.id(of: Substring(header), on: session.connection) },
            completion: completion)
    }

    /// Every stored protected header (base64url), oldest first.
    public func signingHeaders() throws -> [String] {
        try database.read { db in
            let statement = try db.cachedStatement("SELECT header FROM jws_headers ORDER BY id")
            defer { try? statement.reset() }
            var headers: [String] = []
            while try statement.step() {
                if let header = statement.text(at: 0) { headers.append(header) }
            }
            return headers
        }
    }
}
