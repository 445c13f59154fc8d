import Foundation
import HeyanCrypto
import HeyanHTTP
import HeyanServer
import HeyanTestSupport
import Testing

@Suite struct ServiceRoutesTests {
    func json(_ response: ClientResponse) throws -> [String: Any] {
        try #require(JSONSerialization.jsonObject(with: Data(response.body)) as? [String: Any])
    }

    // healthz, the catalog routes, 404/405 and unknown departments: RouteContractTests (in-process).

    @Test func certificateWithoutDepartmentGets403() throws {
        let service = try RunningService()
        var spec = CertificateSpec.department(code: "x")
        spec.uris = []
        let files = try service.pki.issue(spec, name: "anonymous")
        let response = try service.connect(files: files).request("GET", "/healthz")
        #expect(response.status == 403)
        #expect(response.bodyText.contains("urn:heyan:dept"))
    }

    /// A certificate names exactly one department. One carrying two department URIs (both known:
    /// an auditor and a requester) was once taken as the first; now it is no department at all,
    /// on every route, whichever order the URIs come in.
    @Test func certificateNamingTwoDepartmentsGets403() throws {
        let service = try RunningService()
        for (index, codes) in [["hrss", "audit-office"], ["audit-office", "hrss"], ["hrss", "hrss"]].enumerated() {
            var spec = CertificateSpec.department(code: codes[0])
            spec.uris = codes.map(CertificateSpec.departmentURI)
            let files = try service.pki.issue(spec, name: "two-uris-\(index)")
            let certificate = try Certificate.loadChain(pemFile: files.certificate)[0]
            #expect(certificate.sanURIs == codes.map { "urn:heyan:dept:\($0)" })
            #expect(certificate.departmentCode == nil)
            let connection = try service.connect(files: files)
            for path in ["/healthz", "/v1/catalog", "/v1/audit", "/v1/verifications/ver_01JD5Z8M3Q4R6S7T8V9W0X1Y2Z"] {
                let response = try connection.request("GET", path)
                #expect(response.status == 403, "\(codes) \(path)")
                #expect(response.headers["Content-Type"] == "application/problem+json")
                let problem = try json(response)
                #expect(problem["type"] as? String == "urn:heyan:problem:forbidden")
                #expect(
                    problem["detail"] as? String
                        == "The client certificate must name exactly one heyan department (one SAN URI urn:heyan:dept:<code>); it names none or several.")
            }
        }
        // Each of the two, alone, is served.
        #expect(try service.connect("hrss").request("GET", "/v1/catalog").status == 200)
        #expect(try service.connect("audit-office").request("GET", "/v1/audit").status == 200)
    }

    @Test func headReturnsHeadersOnly() throws {
        let service = try RunningService()
        let connection = try service.connect("hrss")
        try connection.send("HEAD /v1/catalog HTTP/1.1\r\nHost: localhost\r\n\r\n")
        let head = try connection.readResponse(headOnly: true)
        #expect(head.status == 200)
        #expect(Int(head.headers["Content-Length"] ?? "0")! > 100)
        #expect(try connection.request("GET", "/healthz").status == 200)
    }

    @Test func metricsCountRequestsHandshakesAndLatency() throws {
        let service = try RunningService()
        let connection = try service.connect("data-office")
        _ = try connection.request("GET", "/healthz")
        _ = try connection.request("GET", "/v1/catalog/NOPE")
        let response = try connection.request("GET", "/metrics")
        #expect(response.status == 200)
        #expect(response.headers["Content-Type"]?.hasPrefix("text/plain; version=0.0.4") == true)
        let text = response.bodyText
        #expect(text.contains(#"heyan_http_requests_total{route="/healthz",status="200"} 1"#))
        #expect(text.contains(#"heyan_http_requests_total{route="/v1/catalog/{code}",status="404"} 1"#))
        #expect(text.contains("heyan_tls_handshakes_total 1"))
        #expect(text.contains("heyan_connections_open 1"))
        #expect(text.contains(#"heyan_http_request_duration_seconds_bucket{le="+Inf"} 2"#))
    }

    @Test func oneStructuredLogLinePerRequestWithoutRawPath() throws {
        let service = try RunningService()
        let connection = try service.connect("housing-fund")
        _ = try connection.request("GET", "/v1/catalog/CIV-MARRIAGE")
        let lines = try service.logLines().filter { $0.contains(#""event":"request""#) }
        #expect(lines.count == 1)
        let line = try #require(lines.first)
        let object = try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
        #expect(object["department"] as? String == "housing-fund")
        #expect(object["route"] as? String == "/v1/catalog/{code}")
        #expect(object["status"] as? Int == 200)
        #expect(object["durationMs"] != nil)
        #expect(!line.contains("CIV-MARRIAGE"))
    }
}
