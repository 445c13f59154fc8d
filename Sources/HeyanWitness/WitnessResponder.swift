import Glibc
import HeyanHTTP
import HeyanTransparencyLog

/// The witness's HTTP side, C2SP `tlog-witness` v1.0.0: `POST <prefix>/add-checkpoint` with the
/// request body of the specification, answered 200 with the cosignature line(s), 409
/// `text/x.tlog.size` with the witness's size, or 400/403/404/422 with a plain-text reason. Any
/// log can push to it, and any witness implementation can stand in for it.
public struct WitnessResponder: HTTPResponder {
    public let witness: Witness
    /// Path prefix, e.g. "" or "/witness" (the endpoint is `<prefix>/add-checkpoint`).
    public let prefix: String
    /// Unix seconds, for the cosignature's timestamp.
    public let clock: @Sendable () -> UInt64

    public init(witness: Witness, prefix: String = "", clock: @escaping @Sendable () -> UInt64 = { UInt64(time(nil)) }) {
        self.witness = witness
        self.prefix = prefix
        self.clock = clock
    }

    public func respond(to request: HTTPRequest, context: RequestContext, sink: ResponseSink) {
        sink.send(answer(request))
    }

    /// The response to one request (no socket needed).
    public func answer(_ request: HTTPRequest) -> HTTPResponse {
        guard request.path == prefix + "/add-checkpoint" else { return .text(404, "not found\n") }
        guard request.method == "POST" else {
            var response = HTTPResponse.text(405, "method not allowed\n")
            response.headers.add("Allow", "POST")
            return response
        }
        guard let body = String(validating: request.body, as: UTF8.self) else { return .text(400, "the body is not UTF-8\n") }
        switch witness.addCheckpoint(body: body, now: clock()) {
        case .failure(let failure):
            return .text(500, failure.reason + "\n")
        case .success(.cosigned(let line, _)):
            return .text(200, line.line)
        case .success(.conflict(let size)):
            return .text(409, "\(size)\n", contentType: "text/x.tlog.size")
        case .success(let refusal):
            let reason: String
            switch refusal {
            case .badRequest(let why), .forbidden(let why), .unknownLog(let why), .unprocessable(let why): reason = why
            case .cosigned, .conflict: reason = ""
            }
            return .text(refusal.status, reason + "\n")
        }
    }
}
