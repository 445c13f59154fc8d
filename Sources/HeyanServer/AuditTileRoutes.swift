import HeyanHTTP
import HeyanTransparencyLog

/// The audit log's Merkle tree as C2SP `tlog-tiles` resources (docs/transparency-log.md, "Tiles"),
/// under the prefix `/v1/audit/log`, whose `checkpoint` ``TransparencyLogRoutes`` serves:
///
/// - `GET /v1/audit/log/tile/<L>/<N>[.p/<W>]`: 256 (or `W`) concatenated 32-byte hashes;
/// - `GET /v1/audit/log/tile/entries/<N>[.p/<W>]`: the entry bundle, each entry the leaf data `d`
///   (32 bytes) whose leaf hash `SHA-256(0x00 ‖ d)` is in the level-0 tile — the salted digest,
///   never the audit entry itself, so a bundle carries no personal data.
///
/// For auditors and the operator, as the proofs are. Read from the stored complete nodes of either
/// engine; every resource is immutable once it exists, so it is served cacheable for a year
/// (`private`: the answer depends on the client's role). A path that is not a tile, or a tile the
/// tree does not have yet, is 404.
struct AuditTileRoutes {
    let context: ServiceContext
    init(_ context: ServiceContext) { self.context = context }

    static let cacheControl = "private, max-age=31536000, immutable"

    func register(in router: inout Router<HeyanService.Handler>) {
        router.add("GET", "/v1/audit/log/tile/{path...}") { call in try tile(call) }
    }

    func tile(_ call: ServiceCall) throws -> Reply {
        try TransparencyLogRoutes.requireAuditor(call)
        let path = call.parameter("path")
        guard let address = TileAddress(path: path) else {
            throw Problem.notFound(
                detail: "'tile/\(path)' is not a C2SP tlog-tiles path: <L>/<N>[.p/<W>] or entries/<N>[.p/<W>].")
        }
        guard let bytes = try context.auditLog.tile(address) else {
            throw Problem.notFound(detail: "The audit tree has no \(address) (yet).")
        }
        var response = HTTPResponse(status: 200, headers: ["Content-Type": "application/octet-stream"], body: bytes)
        response.headers.add("Cache-Control", Self.cacheControl)
        return .response(response)
    }
}
