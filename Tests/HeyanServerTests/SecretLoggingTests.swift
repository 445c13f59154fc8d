#if canImport(Glibc)
import Glibc
#endif
import Foundation
import HeyanCrypto
import HeyanHTTP
import HeyanTestSupport
import Testing

/// Threat model (docs/threat_model.md): what heyan writes to its log and terminal never holds private key
/// material or subject identifiers, even at `debug` level, through signing, refusals and a SIGHUP reload.
@Suite struct SecretLoggingTests {
    static let binary = packageRoot() + "/.build/debug/heyan"

    /// The lines of base64 inside a PEM private key: what a leak of it would contain, whole or in part.
    static func keyMaterial(_ path: String) throws -> [String] {
        String(decoding: try readFile(path), as: UTF8.self).split(separator: "\n")
            .filter { !$0.hasPrefix("-----") && $0.count >= 16 }.map(String.init)
    }

    @Test func serverLogHoldsNoKeyMaterialAndNoSubjectIDs() throws {
        let pki = try TestPKI()
        let directory = TemporaryDirectory()
        let root = packageRoot()
        try writeFile(directory.file("departments.json"), try readFile("\(root)/config/departments.json"))
        try writeFile(directory.file("catalog.json"), try readFile("\(root)/config/catalog.json"))
        var configuration = RunningService.configuration(pki: pki)
        configuration = configuration.replacing("\"workers\": 2", with: "\"workers\": 2, \"log\": {\"level\": \"debug\"}")
        try directory.write("heyan.json", configuration)
        let process = try Subprocess([
            Self.binary, "serve", "--config", directory.file("heyan.json"), "--database", directory.file("db/heyan.sqlite"),
        ])
        defer { process.signal(SIGKILL) }
        let line = try #require(process.waitForLine(containing: #""event":"listening""#))
        let portText = try #require(line.split(separator: ",").first { $0.contains(#""port":"#) })
        let port = try #require(Int(portText.split(separator: ":").last!.filter(\.isNumber)))

        func client(_ code: String) throws -> TLSClientConnection {
            let files = try pki.department(code)
            return try TLSClientConnection(
                port: port, context: try TLSClientContext(certificate: files.certificate, key: files.key, trust: pki.caFile))
        }
        let json = [("Content-Type", "application/json")]
        let police = try client("public-security")
        let hrss = try client("hrss")
        let housing = try client("housing-fund")
        let recorded = TestSubjects.residentID(41)
        let queued = TestSubjects.residentID(42)
        let refused = TestSubjects.residentID(43)
        // A record, a data-sharing verification (signed at once), a queued one, a refusal echoing the subject.
        #expect(
            try police.request(
                "PUT", "/v1/records/PSB-NO-CRIMINAL-RECORD/\(recorded)", headers: json,
                body: Array(#"{"claims":{"hasCriminalRecord":false}}"#.utf8)
            ).status == 201)
        let signed = try hrss.request(
            "POST", "/v1/verifications", headers: json,
            body: Array(
                TestSubjects.verificationBody(
                    type: "PSB-NO-CRIMINAL-RECORD", matter: "HR-RECRUIT-001", subject: recorded,
                    claims: #"{"hasCriminalRecord":false}"#, purpose: "招聘").utf8))
        #expect(signed.status == 201)
        #expect(String(decoding: signed.body, as: UTF8.self).contains("\"jws\""))
        #expect(
            try housing.request(
                "POST", "/v1/verifications", headers: json, body: Array(TestSubjects.verificationBody(subject: queued).utf8)
            ).status == 202)
        #expect(
            try housing.request(
                "POST", "/v1/verifications", headers: json,
                body: Array(TestSubjects.verificationBody(subject: refused, claims: #"{"maritalStatus":"unknown"}"#).utf8)
            ).status == 422)
        // A path with a subject ID that matches no route: the log line names no raw path either.
        #expect(try police.request("GET", "/v1/records/PSB-NO-CRIMINAL-RECORD/\(recorded)/x").status == 404)

        process.signal(SIGHUP)
        _ = process.waitForLine(containing: #""event":"tls-reloaded""#)
        process.signal(SIGTERM)
        let result = process.wait(timeout: 20)
        #expect(result.status == 0)
        let output = result.stdout + result.stderr
        #expect(output.contains(#""event":"request""#), "the test must see request lines to mean anything")
        #expect(output.contains(#""event":"tls-reloaded""#))
        #expect(!output.contains("PRIVATE KEY"))
        for file in [pki.signingKeyFile, pki.serverKeyFile] {
            for material in try Self.keyMaterial(file) {
                #expect(!output.contains(material), "\(file) content in the log")
            }
        }
        for subject in [recorded, queued, refused] {
            #expect(!output.contains(subject), "subject ID \(subject) in the log")
        }
    }

    @Test func pkiCommandsPrintNoKeyMaterial() throws {
        let directory = TemporaryDirectory()
        let out = directory.file("pki")
        let made = try Subprocess.run([
            Self.binary, "pki", "init", "--out", out, "--departments", packageRoot() + "/config/departments.json",
        ])
        #expect(made.status == 0)
        let issued = try Subprocess.run([Self.binary, "pki", "issue", "--out", out, "--department", "extra"])
        #expect(issued.status == 0)
        let output = made.stdout + made.stderr + issued.stdout + issued.stderr
        #expect(output.contains("signing.key"), "the file list is printed")
        #expect(!output.contains("PRIVATE KEY"))
        let pki = DevelopmentPKI(directory: out)
        for file in [pki.signingKeyFile, pki.caKeyFile, pki.serverKeyFile, pki.departmentKeyFile("extra")] {
            for material in try Self.keyMaterial(file) { #expect(!output.contains(material)) }
        }
        let log = String(decoding: try readFile(pki.auditLogFile), as: UTF8.self)
        #expect(!log.contains("PRIVATE KEY"))
        for material in try Self.keyMaterial(pki.caKeyFile) { #expect(!log.contains(material)) }
    }
}
