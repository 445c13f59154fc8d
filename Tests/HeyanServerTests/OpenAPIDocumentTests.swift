import Foundation
import HeyanTestSupport
import Testing

/// `schemas/openapi.yaml`: a valid OpenAPI 3.1 document, covering the routes implemented so far,
/// whose response schemas accept what heyan should send and refuse what it should not.
@Suite struct OpenAPIDocumentTests {
    @Test func documentIsValidOpenAPI31() throws {
        let result = try OpenAPIConformance.run(["--validate-spec"])
        #expect(result.status == 0, "\(result.stdout)\(result.stderr)")
        #expect(result.stdout == "valid\n")

        // The validator does catch a broken document: the check above can fail.
        let directory = TemporaryDirectory()
        var spec = String(decoding: try readFile(PythonScripts.openAPISpec), as: UTF8.self)
        spec = spec.replacingOccurrences(of: "openapi: 3.1.0", with: "openapi: 3.1.0\nwebhooks: 7")
        try directory.write("broken.yaml", spec)
        let broken = try OpenAPIConformance.run(["--validate-spec"], specPath: directory.file("broken.yaml"))
        #expect(broken.status == 1)
        #expect(broken.stdout.hasPrefix("invalid OpenAPI document: "))
    }

    /// YAML forbids a mapping key given twice; PyYAML alone would keep the last value silently,
    /// strict loaders (ruamel.yaml, used by openapi-python-client) refuse the whole document.
    /// check_openapi.py loads the spec with a loader that refuses duplicates too, so the checks
    /// above run on the document every client sees.
    @Test func documentHasNoDuplicateKeys() throws {
        let spec = String(decoding: try readFile(PythonScripts.openAPISpec), as: UTF8.self)
        let result = try OpenAPIConformance.run(["--list-operations"])
        #expect(result.status == 0, "\(result.stdout)\(result.stderr)")

        // A duplicated response status (the mistake once made in five operations) is caught.
        let directory = TemporaryDirectory()
        let line = "        '414': { $ref: '#/components/responses/URITooLong' }\n"
        let first = try #require(spec.range(of: line))
        try directory.write("duplicate.yaml", spec.replacingCharacters(in: first, with: line + line))
        let duplicate = try OpenAPIConformance.run(["--validate-spec"], specPath: directory.file("duplicate.yaml"))
        #expect(duplicate.status == 1)
        #expect(duplicate.stdout.hasPrefix("invalid YAML: found duplicate key '414'"), "\(duplicate.stdout)")
    }

    /// The routes of design.md's table that exist now, each with its operationId — and nothing else.
    @Test func everyImplementedRouteIsDocumented() throws {
        let result = try OpenAPIConformance.run(["--list-operations"])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(
            result.stdout.split(separator: "\n").map(String.init) == [
                "DELETE /v1/records/{type}/{subjectId} deleteRecord",
                "GET /.well-known/jwks.json getSigningKeys",
                "GET /healthz getHealth",
                "GET /metrics getMetrics",
                "GET /readyz getReadiness",
                "GET /v1/attestations/{id} getAttestation",
                "GET /v1/attestations/{id}/proof getAttestationProof",
                "GET /v1/attestations/{id}/status getAttestationStatus",
                "GET /v1/audit listAuditEntries",
                "GET /v1/audit/checkpoint getAuditCheckpoint",
                "GET /v1/audit/log/checkpoint getAuditLogCheckpoint",
                "GET /v1/audit/log/tile/{tilePath} getAuditLogTile",
                "GET /v1/audit/proof/consistency getAuditConsistencyProof",
                "GET /v1/audit/proof/inclusion getAuditInclusionProof",
                "GET /v1/catalog listCertificateTypes",
                "GET /v1/catalog/versions listCatalogVersions",
                "GET /v1/catalog/{code} getCertificateType",
                "GET /v1/catalog/{code}/commitment-template getCommitmentTemplate",
                "GET /v1/commitments/{id} getCommitment",
                "GET /v1/complaints listComplaints",
                "GET /v1/credit/{subjectId} getCreditEntries",
                "GET /v1/queue leaseQueueItems",
                "GET /v1/stats getStatistics",
                "GET /v1/subjects/{id}/access-report getSubjectAccessReport",
                "GET /v1/verifications/{id} getVerification",
                "POST /v1/attestations/{id}/revoke revokeAttestation",
                "POST /v1/catalog/changes changeCatalog",
                "POST /v1/commitments submitCommitment",
                "POST /v1/complaints fileComplaint",
                "POST /v1/complaints/{id}/handle handleComplaint",
                "POST /v1/credit/{subjectId}/entries/{entryId}/remove removeCreditEntry",
                "POST /v1/queue/{id}/answer answerQueueItem",
                "POST /v1/records:batch putRecordsBatch",
                "POST /v1/verifications submitVerification",
                "PUT /v1/records/{type}/{subjectId} putRecord",
            ])
    }

    @Test func requestSchemaFilesAreCurrentCopiesOfTheSpec() throws {
        let result = try OpenAPIConformance.run(["--compare-requests", packageRoot() + "/schemas/requests"])
        #expect(result.status == 0, "\(result.stdout)\(result.stderr)")
        #expect(result.stdout == "")
    }

    @Test func exampleCatalogConformsAsServed() throws {
        var catalog = try #require(
            try JSONSerialization.jsonObject(with: Data(try readFile(packageRoot() + "/config/catalog.json")))
                as? [String: Any])
        catalog.removeValue(forKey: "$schema")
        let items = try #require(catalog["items"] as? [Any])
        var exchanges = [try Self.exchange("GET", "/v1/catalog", 200, catalog)]
        for item in items { exchanges.append(try Self.exchange("GET", "/v1/catalog/{code}", 200, item)) }
        #expect(try OpenAPIConformance.check(exchanges) == [])
    }

    @Test func validResponsesConform() throws {
        #expect(try OpenAPIConformance.check(Self.validSamples) == [])
    }

    /// Each sample is one mistake a server could make; each must be reported, and only it.
    @Test func invalidResponsesAreReported() throws {
        let samples = Self.invalidSamples
        let failures = try OpenAPIConformance.check(samples.map(\.exchange))
        for (index, sample) in samples.enumerated() {
            let mine = failures.filter { $0.hasPrefix("#\(index + 1) ") }
            #expect(!mine.isEmpty, "not reported: \(sample.mistake)")
            #expect(mine.allSatisfy { $0.contains(sample.expected) }, "\(sample.mistake): \(mine)")
        }
        #expect(failures.allSatisfy { line in samples.indices.contains { line.hasPrefix("#\($0 + 1) ") } })
    }

    // MARK: - Samples

    static let verificationID = "ver_01JD5Z8M3Q4R6S7T8V9W0X1Y2Z"
    static let attestationID = "att_01JD5Z8M3Q4R6S7T8V9W0X1Y2Z"
    static let jws = "eyJhbGciOiJFUzI1NiJ9.eyJqdGkiOiJhdHQifQ.c2lnbmF0dXJl"
    static let hash = String(repeating: "ab", count: 32)

    static func pending() -> [String: Any] {
        [
            "id": verificationID, "status": "pending", "certificateType": "CIV-MARRIAGE",
            "method": "department-verification", "requester": "housing-fund", "owner": "civil-affairs",
            "matterCode": "HF-WITHDRAW-001", "purpose": "住房公积金提取",
            "subject": ["idType": "resident-id", "id": "11010519491231002X", "name": "张三"],
            "claims": ["maritalStatus": "married"], "createdAt": "2026-11-23T09:05:32.825Z",
            "dueAt": "2026-11-24T09:05:32.825Z", "disclosed": [String: Any](), "catalogVersion": 1,
        ]
    }

    static func answered() -> [String: Any] {
        var verification = pending()
        verification["status"] = "answered"
        verification["method"] = "data-sharing"
        verification.removeValue(forKey: "dueAt")
        verification["outcome"] = "confirmed"
        verification["answeredAt"] = "2026-11-23T09:05:32.900Z"
        verification["attestation"] = ["id": attestationID, "jws": jws, "expiresAt": "2026-12-23T09:05:32.900Z"]
        return verification
    }

    static func attestation(status: String = "active") -> [String: Any] {
        var attestation: [String: Any] = [
            "id": attestationID, "verification": verificationID, "issuer": "civil-affairs", "requester": "housing-fund",
            "certificateType": "CIV-MARRIAGE", "outcome": "confirmed", "jws": jws, "status": status,
            "issuedAt": "2026-11-23T09:05:32.900Z", "expiresAt": "2026-12-23T09:05:32.900Z",
        ]
        if status == "revoked" {
            attestation["revokedAt"] = "2026-11-25T00:00:00.000Z"
            attestation["revocationReason"] = "登记错误"
        }
        return attestation
    }

    static func commitment(status: String) -> [String: Any] {
        [
            "id": "com_01JD5Z8M3Q4R6S7T8V9W0X1Y2Z", "status": status, "certificateType": "TAX-INCOME",
            "method": "commitment", "requester": "housing-fund", "owner": "tax-bureau", "matterCode": "HF-LOAN-001",
            "purpose": "住房公积金贷款", "subject": ["idType": "resident-id", "id": "11010519491231002X", "name": "张三"],
            "claims": [String: Any](), "createdAt": "2026-11-23T09:05:32.825Z", "catalogVersion": 1,
            "commitment": ["textSha256": hash, "signedAt": "2026-11-23T09:00:00.000Z", "signedVia": "paper"],
            "receipt": ["id": attestationID, "jws": jws, "status": "active", "expiresAt": "2026-12-23T09:05:32.900Z"],
            "spotCheck": [
                "sampled": true, "rule": "r", "seed": hash, "value": "0123456789abcdef", "rate": 0.1,
                "id": "qsc_01JD5Z8M3Q4R6S7T8V9W0X1Y2Z",
            ],
        ]
    }

    static func spotCheckItem(_ commitment: [String: Any]) -> [String: Any] {
        [
            "id": "qsc_01JD5Z8M3Q4R6S7T8V9W0X1Y2Z", "kind": "spot-check", "commitment": commitment,
            "leaseToken": "lt_abc", "leaseExpiresAt": "2026-11-23T09:10:32.825Z", "dueAt": "2026-11-24T09:05:32.825Z",
            "overdue": false, "leaseCount": 1,
        ]
    }

    static func problem(_ status: Int, _ slug: String, _ extra: [String: Any] = [:]) -> [String: Any] {
        ["type": "urn:heyan:problem:\(slug)", "title": "T", "status": status, "detail": "d"].merging(extra) { $1 }
    }

    static func exchange(_ method: String, _ path: String, _ status: Int, _ body: Any?, contentType: String? = nil)
        throws
        -> RecordedExchange
    {
        guard let body else {
            return RecordedExchange(method: method, path: path, status: status, contentType: "", body: "")
        }
        if let text = body as? String {
            return RecordedExchange(
                method: method, path: path, status: status, contentType: contentType ?? "text/plain", body: text)
        }
        let data = try JSONSerialization.data(withJSONObject: body, options: [.sortedKeys, .withoutEscapingSlashes])
        let type = contentType ?? (status >= 400 ? "application/problem+json" : "application/json")
        return RecordedExchange(
            method: method, path: path, status: status, contentType: type, body: String(decoding: data, as: UTF8.self))
    }

    static var validSamples: [RecordedExchange] {
        let leased: [String: Any] = [
            "id": "qi_01JD5Z8M3Q4R6S7T8V9W0X1Y2Z", "kind": "verification", "verification": pending(),
            "leaseToken": "lt_abc", "leaseExpiresAt": "2026-11-23T09:10:32.825Z", "dueAt": "2026-11-24T09:05:32.825Z",
            "overdue": false, "leaseCount": 1,
        ]
        let entry: [String: Any] = [
            "seq": 1, "time": "2026-11-23T09:05:32.825Z", "action": "verification.submitted", "actor": "housing-fund",
            "requester": "housing-fund", "certificateType": "CIV-MARRIAGE", "subjectId": "11010519491231002X",
            "verification": verificationID, "detail": ["purpose": "住房公积金提取"],
            "previousHash": String(repeating: "0", count: 64), "hash": hash,
        ]
        let record: [String: Any] = [
            "certificateType": "PSB-NO-CRIMINAL-RECORD", "subjectId": "11010519491231002X",
            "claims": ["hasCriminalRecord": false], "updatedAt": "2026-11-23T09:05:32.825Z",
        ]
        return try! [
            exchange("GET", "/healthz", 200, ["status": "ok"]),
            exchange("GET", "/readyz", 200, ["status": "ready"]),
            exchange("GET", "/readyz", 503, problem(503, "store-unavailable", ["retryAfter": 5])),
            exchange("POST", "/v1/verifications", 503, problem(503, "store-unavailable", ["retryAfter": 5])),
            exchange(
                "GET", "/metrics", 200, "# TYPE heyan_requests_total counter\n",
                contentType: "text/plain; version=0.0.4; charset=utf-8"),
            exchange("POST", "/v1/verifications", 202, pending()),
            exchange("POST", "/v1/verifications", 201, answered()),
            exchange(
                "POST", "/v1/verifications", 201,
                answered().merging(["outcome": "cannot-determine", "disclosed": ["birthDate": "2020-01-02"]]) { $1 }),
            exchange(
                "POST", "/v1/verifications", 409,
                problem(409, "conflict", ["commitmentEndpoint": "/v1/commitments"])),
            exchange("POST", "/v1/verifications", 410, problem(410, "cancelled", ["reason": "通过部门间信息共享核查"])),
            exchange(
                "POST", "/v1/verifications", 422,
                problem(
                    422, "validation-failed", ["errors": [["path": "/subject/id", "message": "bad check character"]]])),
            exchange("POST", "/v1/verifications", 429, problem(429, "rate-limited", ["retryAfter": 1])),
            exchange("GET", "/v1/verifications/{id}", 200, answered()),
            exchange("GET", "/v1/verifications/{id}", 404, problem(404, "not-found")),
            exchange("GET", "/v1/queue", 200, ["items": [leased]]),
            exchange("GET", "/v1/queue", 200, ["items": [Any]()]),
            exchange("GET", "/v1/queue", 403, problem(403, "forbidden")),
            exchange("GET", "/v1/queue", 200, ["items": [leased, spotCheckItem(commitment(status: "under-check"))]]),
            exchange("POST", "/v1/queue/{id}/answer", 200, answered()),
            exchange("POST", "/v1/queue/{id}/answer", 200, commitment(status: "false-commitment")),
            exchange("GET", "/v1/commitments/{id}", 200, commitment(status: "committed")),
            exchange(
                "GET", "/v1/attestations/{id}", 200,
                attestation().merging(["outcome": "committed", "commitment": "com_01JD5Z8M3Q4R6S7T8V9W0X1Y2Z"]) { $1 }
                    .filter { $0.key != "verification" }),
            exchange("POST", "/v1/queue/{id}/answer", 409, problem(409, "conflict")),
            exchange("PUT", "/v1/records/{type}/{subjectId}", 201, record),
            exchange("PUT", "/v1/records/{type}/{subjectId}", 200, record),
            exchange("DELETE", "/v1/records/{type}/{subjectId}", 204, nil),
            exchange("POST", "/v1/records:batch", 200, ["written": 3, "created": 2, "updated": 1]),
            exchange("GET", "/v1/attestations/{id}", 200, attestation()),
            exchange(
                "GET", "/v1/attestations/{id}/status", 200,
                ["id": attestationID, "status": "expired", "expiresAt": "2026-12-23T09:05:32.900Z"]),
            exchange("POST", "/v1/attestations/{id}/revoke", 200, attestation(status: "revoked")),
            exchange("GET", "/v1/audit", 200, ["entries": [entry], "nextCursor": "c2"]),
            exchange(
                "GET", "/v1/audit/checkpoint", 200,
                ["size": 1, "head": hash, "time": "2026-11-23T09:05:33.000Z", "jws": jws]),
            exchange("DELETE", "/healthz", 405, problem(405, "method-not-allowed", ["allowed": ["GET"]])),
            exchange("GET", "/v1/nothing-here", 404, problem(404, "not-found")),
        ]
    }

    struct InvalidSample {
        let mistake: String
        let exchange: RecordedExchange
        /// Text every failure line for it contains.
        let expected: String
    }

    static var invalidSamples: [InvalidSample] {
        var noAttestation = answered()
        noAttestation.removeValue(forKey: "attestation")
        var noDue = pending()
        noDue.removeValue(forKey: "dueAt")
        var numericTime = pending()
        numericTime["createdAt"] = 1_763_888_732_825
        var badSubject = pending()
        badSubject["subject"] = ["idType": "resident-id", "id": "1101051949123100", "name": "张三"]
        var revokedWithoutReason = attestation(status: "revoked")
        revokedWithoutReason.removeValue(forKey: "revocationReason")
        var labelledPending = answered()
        labelledPending["status"] = "pending"
        var pendingWithOutcome = pending()
        pendingWithOutcome["outcome"] = "confirmed"
        var unknownStatus = pending()
        unknownStatus["status"] = "queued"
        var activeWithReason = attestation()
        activeWithReason["revocationReason"] = "登记错误"
        let leasedAnswered: [String: Any] = [
            "id": "qi_01JD5Z8M3Q4R6S7T8V9W0X1Y2Z", "kind": "verification", "verification": answered(),
            "leaseToken": "lt_abc", "leaseExpiresAt": "2026-11-23T09:10:32.825Z", "dueAt": "2026-11-24T09:05:32.825Z",
            "overdue": false, "leaseCount": 1,
        ]
        return try! [
            InvalidSample(
                mistake: "201 whose status is pending",
                exchange: exchange("POST", "/v1/verifications", 201, labelledPending),
                expected: "$.status: 'answered' was expected"),
            InvalidSample(
                mistake: "a pending verification with an outcome",
                exchange: exchange("GET", "/v1/verifications/{id}", 200, pendingWithOutcome),
                expected: "$: 'outcome' must not be present here"),
            InvalidSample(
                mistake: "a verification status that is neither pending nor answered",
                exchange: exchange("GET", "/v1/verifications/{id}", 200, unknownStatus),
                expected: "$: 'queued' is not a known status (one of ['answered', 'pending'])"),
            InvalidSample(
                mistake: "an active attestation with a revocation reason",
                exchange: exchange("GET", "/v1/attestations/{id}", 200, activeWithReason),
                expected: "$: 'revocationReason' must not be present here"),
            InvalidSample(
                mistake: "a leased verification item that is already answered",
                exchange: exchange("GET", "/v1/queue", 200, ["items": [leasedAnswered]]),
                expected: "$.items[0].verification"),
            InvalidSample(
                mistake: "a leased spot check whose commitment is not under check",
                exchange: exchange("GET", "/v1/queue", 200, ["items": [spotCheckItem(commitment(status: "committed"))]]),
                expected: "$.items[0].commitment.status: 'under-check' was expected"),
            InvalidSample(
                mistake: "a spot-check answer that returns a pending verification",
                exchange: exchange("POST", "/v1/queue/{id}/answer", 200, pending()),
                expected: "'pending' is not a known status (one of ['answered', 'consistent', 'false-commitment'])"),
            InvalidSample(
                mistake: "answered without its attestation",
                exchange: exchange("GET", "/v1/verifications/{id}", 200, noAttestation),
                expected: "'attestation' is a required property"),
            InvalidSample(
                mistake: "pending without dueAt",
                exchange: exchange("POST", "/v1/verifications", 202, noDue),
                expected: "'dueAt' is a required property"),
            InvalidSample(
                mistake: "a time as epoch milliseconds",
                exchange: exchange("GET", "/v1/verifications/{id}", 200, numericTime),
                expected: "$.createdAt: 1763888732825 is not of type 'string'"),
            InvalidSample(
                mistake: "a 16-character resident ID",
                exchange: exchange("GET", "/v1/verifications/{id}", 200, badSubject),
                expected: "$.subject.id: '1101051949123100' does not match"),
            InvalidSample(
                mistake: "410 without the cancellation reason",
                exchange: exchange("POST", "/v1/verifications", 410, problem(410, "cancelled")),
                expected: "'reason' is a required property"),
            InvalidSample(
                mistake: "422 without errors",
                exchange: exchange("POST", "/v1/verifications", 422, problem(422, "validation-failed")),
                expected: "'errors' is a required property"),
            InvalidSample(
                mistake: "a problem sent as application/json",
                exchange: exchange(
                    "GET", "/v1/catalog/{code}", 404, problem(404, "not-found"), contentType: "application/json"),
                expected: "content type 'application/json' is not documented"),
            InvalidSample(
                mistake: "200 where the route creates (undocumented status)",
                exchange: exchange("POST", "/v1/verifications", 200, answered()),
                expected: "status 200 is not documented for POST /v1/verifications"),
            InvalidSample(
                mistake: "an unknown attestation status",
                exchange: exchange(
                    "GET", "/v1/attestations/{id}/status", 200,
                    ["id": attestationID, "status": "suspended", "expiresAt": "2026-12-23T09:05:32.900Z"]),
                expected: "'suspended' is not one of ['active', 'revoked', 'expired']"),
            InvalidSample(
                mistake: "revoked without a reason",
                exchange: exchange("POST", "/v1/attestations/{id}/revoke", 200, revokedWithoutReason),
                expected: "'revocationReason' is a required property"),
            InvalidSample(
                mistake: "an audit hash in base64",
                exchange: exchange(
                    "GET", "/v1/audit/checkpoint", 200,
                    [
                        "size": 1, "head": "q6urq6urq6urq6urq6urq6urq6urq6urq6urq6urq6s=",
                        "time": "2026-11-23T09:05:33.000Z", "jws": jws,
                    ]),
                expected: "$.head: 'q6urq6urq6urq6urq6urq6urq6urq6urq6urq6urq6s=' does not match"),
            InvalidSample(
                mistake: "a body on 204",
                exchange: exchange("DELETE", "/v1/records/{type}/{subjectId}", 204, ["deleted": true]),
                expected: "no body is documented"),
            InvalidSample(
                mistake: "a body that is not JSON",
                exchange: RecordedExchange(
                    method: "GET", path: "/healthz", status: 200, contentType: "application/json", body: "ok"),
                expected: "body is not JSON"),
            InvalidSample(
                mistake: "a route the spec does not have",
                exchange: exchange("GET", "/v1/no-such-route", 200, ["x": 1]),
                expected: "path /v1/no-such-route is not in the spec"),
        ]
    }
}
