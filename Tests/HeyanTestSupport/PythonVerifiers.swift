import Foundation

/// The Python scripts in `Tests/HeyanTestSupport/python/`: outside checks of what heyan produces,
/// written against other libraries (joserfc, cryptography, jsonschema, openapi-spec-validator,
/// openapi-python-client) so a mistake shared by heyan's writer and heyan's reader still shows.
public enum PythonScripts {
    public static var directory: String { packageRoot() + "/Tests/HeyanTestSupport/python" }
    public static var verifyAttestation: String { directory + "/verify_attestation.py" }
    public static var checkOpenAPI: String { directory + "/check_openapi.py" }
    public static var tlogCheck: String { directory + "/tlog_check.py" }
    public static var generatedClient: String { directory + "/generated_client.py" }
    /// `schemas/openapi-python-client.yaml`: the generator configuration departments use.
    public static var clientGeneratorConfig: String { packageRoot() + "/schemas/openapi-python-client.yaml" }
    /// `schemas/openapi.yaml` of this checkout.
    public static var openAPISpec: String { packageRoot() + "/schemas/openapi.yaml" }
    /// `schemas/attestation.schema.json` of this checkout.
    public static var attestationSchema: String { packageRoot() + "/schemas/attestation.schema.json" }
}

/// `verify_attestation.py`'s verdict on one JWS.
public struct PythonVerdict: Sendable, Equatable {
    public let ok: Bool
    /// The payload as JSON text (sorted keys), when `ok`.
    public let payloadJSON: String?
    /// `<stage>: <why>` when not `ok`; stage is malformed, type, chain, key, signature, payload,
    /// not-yet-valid, expired or schema.
    public let error: String?

    /// The payload parsed, when `ok`.
    public var payload: [String: Any]? {
        guard let payloadJSON else { return nil }
        return (try? JSONSerialization.jsonObject(with: Data(payloadJSON.utf8))) as? [String: Any]
    }

    /// The stage that failed (`signature`, `chain`, `expired`…), when not `ok`.
    public var failedStage: String? {
        error.map { String($0.prefix { $0 != ":" }) }
    }
}

/// Verifies attestations the way an outside relying party does: joserfc for the signature,
/// `cryptography.x509.verification` for the x5c chain, then the validity window.
public enum PythonAttestationVerifier {
    /// One verdict per token, in order.
    ///
    /// - Parameters:
    ///   - at: the verification time in unix seconds (nil: now).
    ///   - schemaFile: also check each payload against this JSON Schema (e.g.
    ///     ``PythonScripts/attestationSchema``).
    ///   - jwksFile: heyan's JWK Set (`GET /.well-known/jwks.json`): verify with the key its
    ///     `kid` names, checked against the set's `x5c` and the token's (stage `key`).
    public static func verify(
        _ jws: [String], caFile: String, at: Int64? = nil, schemaFile: String? = nil, jwksFile: String? = nil
    ) throws -> [PythonVerdict] {
        var arguments = ["python3", PythonScripts.verifyAttestation, "--ca", caFile]
        if let at { arguments += ["--at", String(at)] }
        if let schemaFile { arguments += ["--schema", schemaFile] }
        if let jwksFile { arguments += ["--jwks", jwksFile] }
        let input = jws.map { $0 + "\n" }.joined()
        let result = try Subprocess.run(arguments, stdin: Array(input.utf8))
        guard result.status == 0 else {
            throw TestFailure("verify_attestation.py exited \(result.status): \(result.stderr)")
        }
        let lines = result.stdout.split(separator: "\n")
        guard lines.count == jws.count else {
            throw TestFailure(
                "verify_attestation.py gave \(lines.count) verdicts for \(jws.count) tokens: \(result.stdout)")
        }
        return try lines.map { line in
            guard let object = try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any],
                let ok = object["ok"] as? Bool
            else { throw TestFailure("verify_attestation.py printed \(line)") }
            var payloadJSON: String?
            if let payload = object["payload"] {
                let data = try JSONSerialization.data(
                    withJSONObject: payload, options: [.sortedKeys, .withoutEscapingSlashes])
                payloadJSON = String(decoding: data, as: UTF8.self)
            }
            return PythonVerdict(ok: ok, payloadJSON: payloadJSON, error: object["error"] as? String)
        }
    }
}

/// One HTTP exchange as recorded by a test, to check against the OpenAPI document.
public struct RecordedExchange: Sendable, Equatable {
    public var method: String
    /// The route template as the spec writes it, e.g. `/v1/verifications/{id}`.
    public var path: String
    public var status: Int
    /// The `Content-Type` header ("" when absent).
    public var contentType: String
    /// The raw body text.
    public var body: String

    public init(method: String, path: String, status: Int, contentType: String, body: String) {
        self.method = method
        self.path = path
        self.status = status
        self.contentType = contentType
        self.body = body
    }
}

/// Checks recorded responses against `schemas/openapi.yaml` with `check_openapi.py`
/// (openapi-schema-validator): the status must be documented for the operation, the content type
/// too, and the body must follow the response schema.
public enum OpenAPIConformance {
    /// Failures, one line each (`#<n> <METHOD> <path> <status>: <why>`, n counting from 1); empty
    /// when every exchange conforms.
    public static func check(_ exchanges: [RecordedExchange], specPath: String = PythonScripts.openAPISpec) throws
        -> [String]
    {
        var input = ""
        for exchange in exchanges {
            let object: [String: Any] = [
                "method": exchange.method, "path": exchange.path, "status": exchange.status,
                "contentType": exchange.contentType, "body": exchange.body,
            ]
            let data = try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])
            input += String(decoding: data, as: UTF8.self) + "\n"
        }
        let result = try Subprocess.run(
            ["python3", PythonScripts.checkOpenAPI, "--spec", specPath], stdin: Array(input.utf8))
        guard result.status == 0 else {
            throw TestFailure("check_openapi.py exited \(result.status): \(result.stderr)")
        }
        return result.stdout.split(separator: "\n").map(String.init)
    }

    /// Runs `check_openapi.py` with extra arguments (`--validate-spec`, `--compare-requests DIR`,
    /// `--list-operations`).
    public static func run(_ arguments: [String], specPath: String = PythonScripts.openAPISpec) throws
        -> Subprocess.Result
    {
        try Subprocess.run(["python3", PythonScripts.checkOpenAPI, "--spec", specPath] + arguments)
    }
}
