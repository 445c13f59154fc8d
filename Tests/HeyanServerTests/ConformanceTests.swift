import Foundation
import HeyanHTTP
import HeyanTestSupport
import Testing

/// Records every exchange of a run that touches each route with good and bad requests, then checks
/// every response against `schemas/openapi.yaml`, and every attestation with Python's
/// `cryptography` + `joserfc` against the test CA.
@Suite struct ConformanceTests {
    final class Recorder: @unchecked Sendable {
        // @unchecked: used from the test's thread only.
        var exchanges: [RecordedExchange] = []
        var attestations: [String] = []

        /// The spec's template for a concrete path.
        static func template(_ path: String) -> String {
            let parts = path.split(separator: "?")[0].split(separator: "/").map(String.init)
            switch parts.count {
            case 3 where parts[1] == "catalog": return "/v1/catalog/{code}"
            case 3 where parts[1] == "verifications": return "/v1/verifications/{id}"
            case 3 where parts[1] == "attestations": return "/v1/attestations/{id}"
            case 4 where parts[1] == "attestations": return "/v1/attestations/{id}/\(parts[3])"
            case 4 where parts[1] == "queue": return "/v1/queue/{id}/answer"
            case 4 where parts[1] == "records": return "/v1/records/{type}/{subjectId}"
            default: return "/" + parts.joined(separator: "/")
            }
        }

        @discardableResult
        func record(_ method: String, _ path: String, _ response: ClientResponse) -> ClientResponse {
            exchanges.append(RecordedExchange(
                method: method, path: Self.template(path), status: response.status,
                contentType: response.headers["Content-Type"] ?? "", body: response.bodyText))
            if let attestation = response["attestation"] as? [String: Any], let jws = attestation["jws"] as? String {
                attestations.append(jws)
            } else if let jws = response["jws"] as? String, path.hasPrefix("/v1/attestations") {
                attestations.append(jws)
            }
            return response
        }
    }

    @Test func liveResponsesFollowTheOpenAPIDocumentAndAttestationsVerifyInPython() throws {
        let service = try RunningService()
        let recorder = Recorder()
        func call(_ client: DepartmentClient, _ method: String, _ path: String, _ body: String? = nil,
                  headers: [(String, String)] = []) throws -> ClientResponse {
            let response = body.map { try? client.send(method, path, json: $0, headers: headers) } ?? (try? client.connection.request(method, path))
            return recorder.record(method, path, try #require(response))
        }
        let housing = try DepartmentClient(service, "housing-fund")
        let civil = try DepartmentClient(service, "civil-affairs")
        let police = try DepartmentClient(service, "public-security")
        let hrss = try DepartmentClient(service, "hrss")
        let auditor = try DepartmentClient(service, "audit-office")
        let stranger = try DepartmentClient(service, "not-registered")

        _ = try call(housing, "GET", "/healthz")
        _ = try call(housing, "GET", "/metrics")
        _ = try call(housing, "GET", "/v1/catalog")
        _ = try call(housing, "GET", "/v1/catalog/CIV-MARRIAGE")
        _ = try call(housing, "GET", "/v1/catalog/NOPE")
        _ = try call(stranger, "GET", "/v1/catalog")
        _ = try call(housing, "DELETE", "/v1/catalog")

        let subject = TestSubjects.residentID(300)
        let pending = try call(housing, "POST", "/v1/verifications", TestSubjects.verificationBody(subject: subject),
            headers: [("Idempotency-Key", "conf-1")])
        _ = try call(housing, "POST", "/v1/verifications", TestSubjects.verificationBody(subject: subject), headers: [("Idempotency-Key", "conf-1")])
        _ = try call(housing, "POST", "/v1/verifications", TestSubjects.verificationBody(subject: TestSubjects.residentID(301)), headers: [("Idempotency-Key", "conf-1")])
        _ = try call(housing, "POST", "/v1/verifications", "{oops")
        _ = try call(housing, "POST", "/v1/verifications", TestSubjects.verificationBody(subject: "110105198001010011"))
        _ = try call(housing, "POST", "/v1/verifications", TestSubjects.verificationBody(type: "COMM-ALIVE", subject: subject, claims: "{}"))
        _ = try call(housing, "POST", "/v1/verifications", TestSubjects.verificationBody(type: "PSB-NO-CRIMINAL-RECORD", subject: subject, claims: #"{"hasCriminalRecord":false}"#))
        _ = try call(DepartmentClient(service, "finance"), "POST", "/v1/verifications", """
            {"certificateType":"MKT-NO-MAJOR-VIOLATION","matterCode":"FIN-PROCUREMENT-001","purpose":"采购",
             "subject":{"idType":"uscc","id":"91350100M000100Y43","name":"某公司"},"claims":{"noMajorViolationIn3Years":true}}
            """)
        let id = try #require(pending["id"] as? String)
        _ = try call(housing, "GET", "/v1/verifications/\(id)")
        _ = try call(hrss, "GET", "/v1/verifications/\(id)")
        _ = try call(housing, "GET", "/v1/verifications/\(id)?wait=abc")

        _ = try call(housing, "GET", "/v1/queue")
        let leased = try call(civil, "GET", "/v1/queue?limit=10&lease=60")
        let item = try #require((leased["items"] as? [[String: Any]])?.first)
        let itemID = try #require(item["id"] as? String)
        _ = try call(civil, "POST", "/v1/queue/\(itemID)/answer", #"{"leaseToken":"stale","outcome":"confirmed"}"#)
        _ = try call(civil, "POST", "/v1/queue/\(itemID)/answer", #"{"leaseToken":"x","outcome":"maybe"}"#)
        _ = try call(civil, "POST", "/v1/queue/qi_00000000000000000000000000/answer", #"{"leaseToken":"x","outcome":"denied"}"#)
        _ = try call(civil, "POST", "/v1/queue/\(itemID)/answer", #"{"leaseToken":"\#(item["leaseToken"]!)","outcome":"confirmed","disclosed":{"maritalStatus":"married"}}"#)
        let answered = try call(housing, "GET", "/v1/verifications/\(id)")
        let attestationID = try #require((answered["attestation"] as? [String: Any])?["id"] as? String)

        _ = try call(police, "PUT", "/v1/records/PSB-NO-CRIMINAL-RECORD/\(subject)", #"{"claims":{"hasCriminalRecord":false}}"#)
        _ = try call(police, "PUT", "/v1/records/PSB-NO-CRIMINAL-RECORD/\(subject)", #"{"claims":{"hasCriminalRecord":false}}"#)
        _ = try call(police, "PUT", "/v1/records/PSB-NO-CRIMINAL-RECORD/\(subject)", #"{"claims":{"hasCriminalRecord":"no"}}"#)
        _ = try call(hrss, "PUT", "/v1/records/PSB-NO-CRIMINAL-RECORD/\(subject)", #"{"claims":{"hasCriminalRecord":false}}"#)
        _ = try call(police, "POST", "/v1/records:batch", #"{"records":[{"certificateType":"PSB-NO-CRIMINAL-RECORD","subjectId":"\#(TestSubjects.residentID(302))","claims":{"hasCriminalRecord":true}}]}"#)
        _ = try call(police, "POST", "/v1/records:batch", #"{"records":[]}"#)
        _ = try call(police, "DELETE", "/v1/records/PSB-NO-CRIMINAL-RECORD/\(TestSubjects.residentID(302))")
        _ = try call(police, "DELETE", "/v1/records/PSB-NO-CRIMINAL-RECORD/\(TestSubjects.residentID(302))")
        let shared = try call(hrss, "POST", "/v1/verifications", TestSubjects.verificationBody(
            type: "PSB-NO-CRIMINAL-RECORD", matter: "HR-RECRUIT-001", subject: subject, claims: #"{"hasCriminalRecord":false}"#))
        #expect(shared.status == 201)
        _ = try call(hrss, "POST", "/v1/verifications", TestSubjects.verificationBody(
            type: "PSB-NO-CRIMINAL-RECORD", matter: "HR-RECRUIT-001", subject: TestSubjects.residentID(303), claims: #"{"hasCriminalRecord":true}"#))

        _ = try call(housing, "GET", "/v1/attestations/\(attestationID)")
        _ = try call(housing, "GET", "/v1/attestations/\(attestationID)/status")
        _ = try call(police, "GET", "/v1/attestations/\(attestationID)")
        _ = try call(housing, "POST", "/v1/attestations/\(attestationID)/revoke", #"{"reason":"x"}"#)
        _ = try call(civil, "POST", "/v1/attestations/\(attestationID)/revoke", #"{"reason":""}"#)
        _ = try call(civil, "POST", "/v1/attestations/\(attestationID)/revoke", #"{"reason":"登记信息更正"}"#)
        _ = try call(civil, "POST", "/v1/attestations/\(attestationID)/revoke", #"{"reason":"again"}"#)
        _ = try call(housing, "GET", "/v1/attestations/\(attestationID)/status")

        _ = try call(auditor, "GET", "/v1/audit?subject=\(subject)&limit=5")
        _ = try call(auditor, "GET", "/v1/audit?action=request.refused&from=2020-01-01T00:00:00Z")
        _ = try call(auditor, "GET", "/v1/audit?to=yesterday")
        _ = try call(housing, "GET", "/v1/audit")
        _ = try call(auditor, "GET", "/v1/audit/checkpoint")

        let failures = try OpenAPIConformance.check(recorder.exchanges)
        #expect(failures.isEmpty, "\(failures.joined(separator: "\n"))")
        #expect(recorder.exchanges.count >= 45)
        #expect(recorder.exchanges.count == 48, "one exchange per call above")

        // Every attestation verifies in Python against ca.pem and the payload schema; a tampered one fails.
        #expect(recorder.attestations.count >= 3)
        #expect(recorder.attestations.count == 7, "every attestation JWS the responses above carried")
        let verdicts = try PythonAttestationVerifier.verify(
            recorder.attestations, caFile: service.pki.caFile, schemaFile: PythonScripts.attestationSchema)
        let failed = verdicts.filter { !$0.ok }.compactMap(\.error)
        #expect(failed.isEmpty, "\(failed)")
        let parts = recorder.attestations[0].split(separator: ".")
        var payload = Array(parts[1].utf8)
        payload[payload.count / 2] = payload[payload.count / 2] == UInt8(ascii: "A") ? UInt8(ascii: "B") : UInt8(ascii: "A")
        let tampered = "\(parts[0]).\(String(decoding: payload, as: UTF8.self)).\(parts[2])"
        #expect(try PythonAttestationVerifier.verify([tampered], caFile: service.pki.caFile).first?.ok == false)
    }
}
