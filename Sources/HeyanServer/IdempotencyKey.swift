import HeyanCrypto
import HeyanDomain
import HeyanHTTP

/// The `Idempotency-Key` of a create request (`POST /v1/verifications`, `POST /v1/commitments`):
/// the key and the hash of the body it was sent with (docs/api.md, "Idempotency").
///
/// The stored answer of a key is replayed for the same body and refused with 409 for another.
/// The store decides again inside the write's transaction (``NewVerification/idempotency``); the
/// read before validation is the fast path.
struct IdempotencyKey: Sendable, Equatable {
    let key: String
    let requestHash: [UInt8]

    /// The request's key, nil when it sends none; a key that is not 1 to 200 visible ASCII
    /// characters is a 400.
    static func parse(_ request: HTTPRequest) throws(Problem) -> IdempotencyKey? {
        guard let key = request.headers["Idempotency-Key"] else { return nil }
        guard (1...200).contains(key.utf8.count), key.utf8.allSatisfy({ $0 >= 0x21 && $0 <= 0x7E }) else {
            throw .badRequest(detail: "Idempotency-Key must be 1 to 200 visible ASCII characters.")
        }
        return IdempotencyKey(key: key, requestHash: Digest.sha256(request.body))
    }

    /// The answer to this key given what the store holds for it (`previous`, nil for none): the stored
    /// response, 409 for another body, or nil when the key is new.
    func earlierReply(to previous: IdempotencyRecord?) -> Reply? {
        guard let previous else { return nil }
        guard previous.requestHash == requestHash else { return .problem(Self.keyReused) }
        return .response(Self.replayed(status: previous.status, body: previous.body))
    }

    /// What the store keeps for this key: the response it answered with.
    func record(requester: String, status: Int, body: [UInt8], at now: Millis) -> IdempotencyRecord {
        IdempotencyRecord(requester: requester, key: key, requestHash: requestHash, status: status, body: body, createdAt: now)
    }

    static let keyReused = Problem.conflict(
        detail: "This Idempotency-Key was used before with a different request body.")

    /// A stored response, replayed: marked `Idempotent-Replayed: true`.
    static func replayed(status: Int, body: [UInt8]) -> HTTPResponse {
        var response = HTTPResponse.json(status, body)
        response.headers.add("Idempotent-Replayed", "true")
        return response
    }
}

extension HTTPResponse {
    /// A created resource: its body, status and `Location`.
    static func created(status: Int, body: [UInt8], location: String) -> HTTPResponse {
        var response = HTTPResponse.json(status, body)
        response.headers.add("Location", location)
        return response
    }
}
