@testable import HeyanServer
import Testing

/// The router matches a path's segments on its UTF-8 bytes: literal segments octet by octet,
/// `{name}` one non-empty segment, `{name...}` the rest of the path.
struct RouterTests {
    static let router: Router<String> = {
        var router = Router<String>()
        router.add("GET", "/healthz", "health")
        router.add("POST", "/v1/verifications", "submit")
        router.add("GET", "/v1/verifications/{id}", "get verification")
        router.add("POST", "/v1/queue/{id}/answer", "answer")
        router.add("PUT", "/v1/records/{type}/{subjectId}", "put record")
        router.add("DELETE", "/v1/records/{type}/{subjectId}", "delete record")
        router.add("GET", "/v1/audit/log/tile/{path...}", "tile")
        router.add("GET", "/v1/Kelvin", "kelvin")
        router.add("GET", "/v1/catalog/versions", "versions")
        router.add("POST", "/v1/catalog/changes", "change")
        router.add("GET", "/v1/catalog/{code}", "item")
        return router
    }()

    static func match(_ method: String, _ path: String) -> (handler: String, parameters: [String: String])? {
        guard case .matched(let handler, let match) = router.resolve(method: method, path: path) else { return nil }
        return (handler, match.parameters)
    }

    static func allowed(_ method: String, _ path: String) -> [String]? {
        guard case .methodNotAllowed(let allowed) = router.resolve(method: method, path: path) else { return nil }
        return allowed
    }

    static func notFound(_ method: String, _ path: String) -> Bool {
        if case .notFound = router.resolve(method: method, path: path) { return true }
        return false
    }

    @Test func exactAndParameterRoutes() {
        #expect(Self.match("GET", "/healthz")?.handler == "health")
        #expect(Self.match("HEAD", "/healthz")?.handler == "health")
        #expect(Self.match("POST", "/v1/verifications")?.handler == "submit")
        #expect(Self.match("GET", "/v1/verifications/ver_01")?.parameters == ["id": "ver_01"])
        #expect(Self.match("HEAD", "/v1/verifications/ver_01")?.handler == "get verification")
        let answer = Self.match("POST", "/v1/queue/qi_01KBZ6F8W0000000000000000A/answer")
        #expect(answer?.handler == "answer")
        #expect(answer?.parameters == ["id": "qi_01KBZ6F8W0000000000000000A"])
        #expect(
            Self.match("PUT", "/v1/records/CIV-MARRIAGE/11010519491231002X")?.parameters
                == ["type": "CIV-MARRIAGE", "subjectId": "11010519491231002X"])
    }

    @Test func aParameterKeepsItsBytes() {
        #expect(Self.match("GET", "/v1/verifications/核验-é")?.parameters == ["id": "核验-é"])
        // Percent-encoding is the client's; the router does not decode it.
        #expect(Self.match("GET", "/v1/verifications/a%2Fb")?.parameters == ["id": "a%2Fb"])
    }

    @Test func theRestOfThePath() {
        #expect(Self.match("GET", "/v1/audit/log/tile/0/x001/234")?.parameters == ["path": "0/x001/234"])
        #expect(Self.match("GET", "/v1/audit/log/tile/0")?.parameters == ["path": "0"])
        #expect(Self.match("GET", "/v1/audit/log/tile/entries/000.p/7")?.parameters == ["path": "entries/000.p/7"])
    }

    @Test func whatDoesNotMatch() {
        #expect(Self.notFound("GET", "/v1/verifications/"))  // an empty parameter
        #expect(Self.notFound("GET", "/v1/verifications/ver_01/"))  // a trailing empty segment
        #expect(Self.notFound("GET", "/v1/verification/ver_01"))
        #expect(Self.notFound("POST", "/v1/queue/qi_01/answers"))
        #expect(Self.notFound("POST", "/v1/queue//answer"))
        #expect(Self.notFound("GET", "/v1/records/CIV-MARRIAGE"))
        #expect(Self.notFound("GET", "/"))
        #expect(Self.notFound("GET", ""))
        // Octets, not canonical equivalence: U+212A KELVIN SIGN is canonically "K", not the same path.
        #expect(Self.match("GET", "/v1/Kelvin")?.handler == "kelvin")
        #expect(Self.notFound("GET", "/v1/\u{212A}elvin"))
    }

    @Test func anotherMethodIs405WithAllow() {
        #expect(Self.allowed("DELETE", "/v1/verifications/ver_01") == ["GET", "HEAD"])
        #expect(Self.allowed("GET", "/v1/records/t/s") == ["PUT", "DELETE"])
        #expect(Self.allowed("GET", "/v1/queue/qi_01/answer") == ["POST"])
    }

    /// Schemathesis found `OPTIONS /v1/catalog/changes` advertising GET: the template
    /// `/v1/catalog/{code}` matched the literal path too (docs/conformance.md).
    @Test func aLiteralPathIsItsOwnRoutesOnly() {
        #expect(Self.allowed("GET", "/v1/catalog/changes") == ["POST"])
        #expect(Self.allowed("OPTIONS", "/v1/catalog/changes") == ["POST"])
        #expect(Self.allowed("POST", "/v1/catalog/versions") == ["GET", "HEAD"], "each method once")
        #expect(Self.match("POST", "/v1/catalog/changes")?.handler == "change")
        #expect(Self.match("GET", "/v1/catalog/versions")?.handler == "versions")
        #expect(Self.match("GET", "/v1/catalog/CIV-MARRIAGE")?.parameters == ["code": "CIV-MARRIAGE"])
        #expect(Self.allowed("POST", "/v1/catalog/CIV-MARRIAGE") == ["GET", "HEAD"])
    }
}
