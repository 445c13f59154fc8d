import HeyanDomain
/// An RFC 9457 problem detail, the body of every heyan error response (`application/problem+json`).
///
/// Problem types are URNs under ``typeBase`` (`urn:heyan:problem:<slug>`, e.g. `urn:heyan:problem:not-found`):
/// stable identifiers that clients compare, not web pages, since heyan has no public documentation host. The
/// slugs are the static factories below; `about:blank` is used only by ``status(_:detail:)`` for a status that
/// needs nothing beyond its meaning. Extension members go in ``extra``; heyan uses `code` (a stable error code),
/// `allowed` (405), `retryAfter` (429, 503: seconds) and `reason`.
public struct Problem: Error, Sendable, Equatable {
    /// One invalid field of a request body or query (422), as a JSON Pointer-like path and a message.
    public struct FieldError: Sendable, Equatable {
        /// Where the problem is, a dotted JSON path such as `subject.id` or `records[2].claims.x`.
        public var path: String
        public var message: String

        public init(path: String, message: String) {
            self.path = path
            self.message = message
        }
    }

    /// The prefix of every heyan problem type.
    public static let typeBase = "urn:heyan:problem:"

    public var type: String
    /// Short, the same for every occurrence of this type (the reason phrase for `about:blank`).
    public var title: String
    public var status: Int
    /// This occurrence, for a person.
    public var detail: String?
    /// Written as `errors` when not empty.
    public var errors: [FieldError]
    /// Extension members, written after the standard ones in this order. Members named like a standard one
    /// (`type`, `title`, `status`, `detail`, `instance`, `errors`) are not written.
    public var extra: [(String, JSONValue)]

    public init(
        type: String, title: String, status: Int, detail: String? = nil, errors: [FieldError] = [],
        extra: [(String, JSONValue)] = []
    ) {
        self.type = type
        self.title = title
        self.status = status
        self.detail = detail
        self.errors = errors
        self.extra = extra
    }

    /// A heyan problem type: ``typeBase`` followed by `slug`.
    public init(
        slug: String, title: String, status: Int, detail: String? = nil, errors: [FieldError] = [],
        extra: [(String, JSONValue)] = []
    ) {
        self.init(
            type: Self.typeBase + slug, title: title, status: status, detail: detail, errors: errors, extra: extra)
    }

    /// The value of the extension member `name`, if present.
    public func extraValue(_ name: String) -> JSONValue? {
        extra.first { $0.0 == name }?.1
    }

    public func jsonBytes() -> [UInt8] {
        var buffer: [UInt8] = []
        buffer.reserveCapacity(160)
        buffer.append(UInt8(ascii: "{"))
        JSONText.appendKey("type", to: &buffer)
        JSONText.appendString(type, to: &buffer)
        buffer.append(UInt8(ascii: ","))
        JSONText.appendKey("title", to: &buffer)
        JSONText.appendString(title, to: &buffer)
        buffer.append(UInt8(ascii: ","))
        JSONText.appendKey("status", to: &buffer)
        JSONText.appendInt(Int64(status), to: &buffer)
        if let detail {
            buffer.append(UInt8(ascii: ","))
            JSONText.appendKey("detail", to: &buffer)
            JSONText.appendString(detail, to: &buffer)
        }
        if !errors.isEmpty {
            buffer.append(UInt8(ascii: ","))
            JSONText.appendKey("errors", to: &buffer)
            buffer.append(UInt8(ascii: "["))
            for (index, error) in errors.enumerated() {
                if index > 0 { buffer.append(UInt8(ascii: ",")) }
                JSONValue.object([("path", .string(error.path)), ("message", .string(error.message))])
                    .serialize(into: &buffer)
            }
            buffer.append(UInt8(ascii: "]"))
        }
        for (name, value) in extra where !Self.standardMembers.contains(name) {
            buffer.append(UInt8(ascii: ","))
            JSONText.appendKey(name, to: &buffer)
            value.serialize(into: &buffer)
        }
        buffer.append(UInt8(ascii: "}"))
        return buffer
    }

    private static let standardMembers: Set<String> = ["type", "title", "status", "detail", "instance", "errors"]

    public static func == (lhs: Problem, rhs: Problem) -> Bool {
        lhs.type == rhs.type && lhs.title == rhs.title && lhs.status == rhs.status && lhs.detail == rhs.detail
            && lhs.errors == rhs.errors
            && lhs.extra.elementsEqual(rhs.extra) { $0.0 == $1.0 && $0.1 == $1.1 }
    }
}

// MARK: - Factories: the one place where an error becomes a problem type

extension Problem {
    /// The problem for a request the parser refused: the type follows the status, `detail` is the parser's
    /// message and `code` its stable code (e.g. `http.bare-lf`).
    public static func from(_ error: HTTPParseError) -> Problem {
        let slug =
            switch error.status {
            case 413: "content-too-large"
            case 414: "uri-too-long"
            case 417: "expectation-failed"
            case 431: "header-fields-too-large"
            case 501: "not-implemented"
            case 505: "http-version-not-supported"
            default: "malformed-request"
            }
        return Problem(
            slug: slug, title: HTTPStatus.reason(error.status), status: error.status, detail: error.message,
            extra: [("code", .string(error.code))])
    }

    /// `about:blank`: nothing to say beyond the status code itself (RFC 9457 §4.2.1).
    public static func status(_ status: Int, detail: String? = nil) -> Problem {
        Problem(type: "about:blank", title: HTTPStatus.reason(status), status: status, detail: detail)
    }

    /// 400: the request is malformed (unparseable JSON, a missing required header…).
    public static func badRequest(detail: String) -> Problem {
        Problem(slug: "malformed-request", title: "Bad Request", status: 400, detail: detail)
    }

    /// 403: the department may not do this (unknown department, role or grant missing; an unknown certificate type in a body is 422).
    public static func forbidden(detail: String) -> Problem {
        Problem(slug: "forbidden", title: "Forbidden", status: 403, detail: detail)
    }

    /// 404: no such route or resource.
    public static func notFound(detail: String? = nil) -> Problem {
        Problem(slug: "not-found", title: "Not Found", status: 404, detail: detail)
    }

    /// 405, with `allowed` (serialized by ``HTTPResponse/problem(_:)`` as the `Allow` header too).
    public static func methodNotAllowed(allowed: [String]) -> Problem {
        Problem(
            slug: "method-not-allowed", title: "Method Not Allowed", status: 405,
            detail: "Allowed methods: \(allowed.joined(separator: ", ")).",
            extra: [("allowed", .array(allowed.map { .string($0) }))])
    }

    /// 408: the request did not arrive completely in time.
    public static func requestTimeout() -> Problem {
        Problem(
            slug: "request-timeout", title: "Request Timeout", status: 408,
            detail: "The request was not received completely in time.")
    }

    /// 409: idempotency key reused with another body, stale lease, commitment method…
    public static func conflict(detail: String, extra: [(String, JSONValue)] = []) -> Problem {
        Problem(slug: "conflict", title: "Conflict", status: 409, detail: detail, extra: extra)
    }

    /// 410: the certificate type is cancelled; `reason` is the cancellation reason.
    public static func gone(detail: String, reason: String? = nil) -> Problem {
        Problem(
            slug: "cancelled", title: "Gone", status: 410, detail: detail,
            extra: reason.map { [("reason", .string($0))] } ?? [])
    }

    /// 413: the body is larger than the route allows.
    public static func contentTooLarge(detail: String? = nil) -> Problem {
        Problem(slug: "content-too-large", title: "Content Too Large", status: 413, detail: detail)
    }

    /// 415: the body is not `application/json`.
    public static func unsupportedMediaType(detail: String? = nil) -> Problem {
        Problem(slug: "unsupported-media-type", title: "Unsupported Media Type", status: 415, detail: detail)
    }

    /// 422: well-formed but invalid, naming each invalid field.
    public static func unprocessable(errors: [FieldError], detail: String? = nil) -> Problem {
        Problem(
            slug: "validation-failed", title: "Unprocessable Content", status: 422,
            detail: detail ?? "The request is well-formed but some fields are invalid.", errors: errors)
    }

    /// 429, with `retryAfter` seconds (serialized as the `Retry-After` header too).
    public static func tooManyRequests(retryAfter seconds: Int) -> Problem {
        Problem(
            slug: "rate-limited", title: "Too Many Requests", status: 429,
            detail: "The department's request budget is spent; retry after \(seconds) s.",
            extra: [("retryAfter", .int(Int64(seconds)))])
    }

    /// 500: a fault of heyan's, never a detail that leaks internals.
    public static func internalError() -> Problem {
        Problem(
            slug: "internal-error", title: "Internal Server Error", status: 500,
            detail: "The request could not be completed; it has been logged.")
    }

    /// 503: the store cannot commit right now (a full disk, an I/O error, a lock held past the
    /// timeout, a store that is closing); nothing of the request was stored and it may be sent
    /// again after `retryAfter` seconds (also the `Retry-After` header). `GET /readyz` answers it too.
    public static func storeUnavailable(detail: String, retryAfter seconds: Int) -> Problem {
        Problem(
            slug: "store-unavailable", title: "Service Unavailable", status: 503, detail: detail,
            extra: [("retryAfter", .int(Int64(seconds)))])
    }

    /// 503 while overloaded or draining, with `retryAfter` seconds when known.
    public static func serviceUnavailable(detail: String, retryAfter seconds: Int? = nil) -> Problem {
        Problem(
            slug: "unavailable", title: "Service Unavailable", status: 503, detail: detail,
            extra: seconds.map { [("retryAfter", .int(Int64($0)))] } ?? [])
    }
}
