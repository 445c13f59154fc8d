import Foundation
import HeyanTestSupport
import Testing

/// A department generates its client from `schemas/openapi.yaml` with openapi-python-client
/// (docs/client.md). The generator must keep every operation and every documented response
/// without a warning, and the generated `heyan_client` must carry the README's whole flow
/// against a real heyan with the departments' certificates (`generated_client.py`).
@Suite struct GeneratedClientTests {
    static func generate(spec: String, into directory: TemporaryDirectory, flowAgainst service: RunningService? = nil)
        throws -> Subprocess.Result
    {
        var arguments = [
            "python3", PythonScripts.generatedClient, "--spec", spec, "--config", PythonScripts.clientGeneratorConfig,
            "--out", directory.path,
        ]
        if let service {
            arguments += ["--base-url", "https://127.0.0.1:\(service.port)", "--ca", service.pki.caFile]
            for code in [
                "housing-fund", "hrss", "civil-affairs", "public-security", "audit-office", "data-office", "tax-bureau",
            ] {
                let files = try service.pki.department(code)
                arguments += ["--department", "\(code)=\(files.certificate),\(files.key)"]
            }
        }
        return try Subprocess.run(arguments)
    }

    @Test func generatedClientCarriesTheWholeFlow() throws {
        let service = try RunningService()
        let directory = TemporaryDirectory(prefix: "heyan-client")
        let result = try Self.generate(spec: PythonScripts.openAPISpec, into: directory, flowAgainst: service)
        #expect(result.status == 0, "\(result.stdout)\(result.stderr)")
        let lines = result.stdout.split(separator: "\n").map(String.init)
        let operations = try OpenAPIConformance.run(["--list-operations"]).stdout.split(separator: "\n").count
        #expect(lines.first?.hasPrefix("generated: \(operations) operations, ") == true, "\(lines.first ?? "")")
        #expect(
            lines.dropFirst().map { String($0.prefix { $0 != "(" }).trimmingCharacters(in: .whitespaces) } == [
                "ok health", "ok record shared", "ok data-sharing submit 201", "ok queued submit 202", "ok lease",
                "ok answer", "ok attestation fetched and verified", "ok revoke by the requester refused", "ok revoke",
                "ok audit query", "ok commitment", "ok spot check", "ok complaint", "flow: 13 steps",
            ])
        #expect(FileManager.default.fileExists(atPath: directory.file("heyan-client/heyan_client/client.py")))
    }

    /// The check can fail: the shape the generator could not model (`allOf` of `Verification`
    /// with a `const` status, as the 201 of `POST /v1/verifications` once was) is a warning, and
    /// a warning fails generation.
    @Test func aResponseTheGeneratorDropsFailsTheCheck() throws {
        let directory = TemporaryDirectory(prefix: "heyan-client")
        var spec = String(decoding: try readFile(PythonScripts.openAPISpec), as: UTF8.self)
        let answered = "              schema: { $ref: '#/components/schemas/AnsweredVerification' }\n"
        let range = try #require(spec.range(of: answered))
        spec.replaceSubrange(
            range,
            with: """
                              schema:
                                allOf:
                                  - $ref: '#/components/schemas/Verification'
                                  - properties: { status: { const: answered } }

                """)
        try directory.write("openapi.yaml", spec)
        let result = try Self.generate(spec: directory.file("openapi.yaml"), into: directory)
        #expect(result.status == 1)
        #expect(result.stdout.hasPrefix("FAILED: openapi-python-client exited"), "\(result.stdout)")
        #expect(result.stdout.contains("POST /v1/verifications"), "\(result.stdout)")
    }
}
