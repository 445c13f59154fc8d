import Foundation
import Testing

@testable import HeyanHTTP

/// Parses with Foundation, an implementation independent of the one that wrote the bytes.
func jsonObject(_ bytes: [UInt8], sourceLocation: SourceLocation = #_sourceLocation) -> [String: Any] {
    do {
        let object = try JSONSerialization.jsonObject(with: Data(bytes))
        guard let dictionary = object as? [String: Any] else {
            Issue.record("not an object: \(object)", sourceLocation: sourceLocation)
            return [:]
        }
        return dictionary
    } catch {
        Issue.record("invalid JSON \(String(decoding: bytes, as: UTF8.self)): \(error)", sourceLocation: sourceLocation)
        return [:]
    }
}

@Suite("RFC 9457 problem details")
struct ProblemTests {
    @Test func validationProblemHasEveryMember() {
        let problem = Problem.unprocessable(
            errors: [
                .init(path: "/subject/id", message: "校验位错误 (check character)"),
                .init(path: "/purpose", message: "at most 200 characters, \"quoted\""),
            ], detail: "2 invalid fields")
        let json = jsonObject(problem.jsonBytes())
        #expect(json["type"] as? String == "urn:heyan:problem:validation-failed")
        #expect(json["title"] as? String == "Unprocessable Content")
        #expect(json["status"] as? Int == 422)
        #expect(json["detail"] as? String == "2 invalid fields")
        let errors = json["errors"] as? [[String: String]]
        #expect(errors?.count == 2)
        #expect(errors?.first?["path"] == "/subject/id")
        #expect(errors?.first?["message"] == "校验位错误 (check character)")
        #expect(errors?.last?["message"] == "at most 200 characters, \"quoted\"")
    }

    @Test func exactBytesForASimpleProblem() {
        #expect(
            String(decoding: Problem.notFound(detail: "no such attestation").jsonBytes(), as: UTF8.self)
                == #"{"type":"urn:heyan:problem:not-found","title":"Not Found","status":404,"detail":"no such attestation"}"#
        )
        #expect(
            String(decoding: Problem.status(502).jsonBytes(), as: UTF8.self)
                == #"{"type":"about:blank","title":"Bad Gateway","status":502}"#)
    }

    @Test func parseErrorBecomesAProblemWithItsCode() {
        let problem = Problem.from(.bareLF)
        let json = jsonObject(problem.jsonBytes())
        #expect(json["type"] as? String == "urn:heyan:problem:malformed-request")
        #expect(json["title"] as? String == "Bad Request")
        #expect(json["status"] as? Int == 400)
        #expect(json["detail"] as? String == HTTPParseError.bareLF.message)
        #expect(json["code"] as? String == "http.bare-lf")
        #expect(json["errors"] == nil, "errors only when there are field errors")
        #expect(Problem.from(.requestLineTooLong).type == "urn:heyan:problem:uri-too-long")
        #expect(Problem.from(.versionUnsupported).title == "HTTP Version Not Supported")
        #expect(Problem.from(.tooManyFields).type == "urn:heyan:problem:header-fields-too-large")
        #expect(Problem.from(.bodyTooLarge).status == 413)
    }

    @Test func extensionMembersAreWrittenButNeverShadowStandardOnes() {
        let problem = Problem(
            slug: "cancelled", title: "Gone", status: 410,
            extra: [("reason", "merged into another item"), ("status", 200), ("retryAfter", 3), ("ratio", 0.5)])
        let json = jsonObject(problem.jsonBytes())
        #expect(json["status"] as? Int == 410)
        #expect(json["reason"] as? String == "merged into another item")
        #expect(json["retryAfter"] as? Int == 3)
        #expect(json["ratio"] as? Double == 0.5)
        #expect(json["detail"] == nil)
    }

    @Test func factoriesHaveStableTypesAndStatuses() {
        let cases: [(Problem, String, Int)] = [
            (.badRequest(detail: "x"), "malformed-request", 400),
            (.forbidden(detail: "x"), "forbidden", 403),
            (.notFound(), "not-found", 404),
            (.methodNotAllowed(allowed: ["GET"]), "method-not-allowed", 405),
            (.requestTimeout(), "request-timeout", 408),
            (.conflict(detail: "x"), "conflict", 409),
            (.gone(detail: "x", reason: "r"), "cancelled", 410),
            (.contentTooLarge(), "content-too-large", 413),
            (.unsupportedMediaType(), "unsupported-media-type", 415),
            (.unprocessable(errors: []), "validation-failed", 422),
            (.tooManyRequests(retryAfter: 1), "rate-limited", 429),
            (.internalError(), "internal-error", 500),
            (.serviceUnavailable(detail: "x", retryAfter: 2), "unavailable", 503),
        ]
        for (problem, slug, status) in cases {
            #expect(problem.type == Problem.typeBase + slug)
            #expect(problem.status == status)
            #expect(problem.title == HTTPStatus.reason(status))
            let json = jsonObject(problem.jsonBytes())
            #expect(json["status"] as? Int == status)
        }
        #expect(Problem.gone(detail: "x", reason: "r").extraValue("reason") == .string("r"))
        #expect(Problem.methodNotAllowed(allowed: ["GET", "HEAD"]).extraValue("allowed") == ["GET", "HEAD"])
    }
}
