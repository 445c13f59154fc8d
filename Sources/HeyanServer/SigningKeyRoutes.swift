import HeyanHTTP

/// `GET /.well-known/jwks.json`: heyan's signing keys as a JWK Set (RFC 7517), for any
/// registered department, so a relying party in any language can verify heyan's JWS by `kid`
/// and cache the keys (docs/api.md, "Signing keys").
struct SigningKeyRoutes {
    static let path = "/.well-known/jwks.json"
    /// Verifiers may cache the set this long; a `kid` they do not know yet means "fetch again".
    static let maxAgeSeconds = 300

    let context: ServiceContext
    init(_ context: ServiceContext) { self.context = context }

    func register(in router: inout Router<HeyanService.Handler>) {
        router.add("GET", Self.path) { [context] _ in
            let now = context.now() / 1000
            let body = context.settings.read { snapshot in
                SigningKeySet.body(snapshot.keys, currentKeyID: snapshot.identity.keyID, now: now)
            }
            var response = HTTPResponse(
                status: 200, headers: ["Content-Type": "application/jwk-set+json"], body: body)
            response.headers.add("Cache-Control", "max-age=\(Self.maxAgeSeconds)")
            return .response(response)
        }
    }
}
