#if canImport(Glibc)
import Glibc
#endif
import Foundation
import HeyanCrypto
import HeyanHTTP
import HeyanTestSupport
import Testing

/// `kill -9` in the middle of a run loses nothing that was acknowledged: verifications, queue
/// items with their lease deadlines, records, attestations and the audit chain survive a restart.
@Suite struct RestartTests {
    final class Server {
        let process: Subprocess
        let port: Int

        init(config: String, database: String) throws {
            process = try Subprocess([ServeCommandTests.binary, "serve", "--config", config, "--database", database])
            let found = process.waitForLine(containing: #""event":"listening""#)
                .flatMap { line in line.split(separator: ",").first(where: { $0.contains(#""port":"#) }) }
                .flatMap { field in Int(field.split(separator: ":").last!.filter(\.isNumber)) }
            guard let found else { throw TestFailure("server did not start: \(process.stderrSoFar)") }
            port = found
        }
    }

    @Test func acknowledgedWorkSurvivesKillNine() throws {
        let pki = try TestPKI()
        let directory = TemporaryDirectory()
        let config = try ServeCommandTests().configure(directory, pki: pki)
        let database = directory.file("var/heyan.sqlite")

        func client(_ code: String, _ port: Int) throws -> TLSClientConnection {
            let files = try pki.department(code)
            return try TLSClientConnection(port: port, context: try TLSClientContext(certificate: files.certificate, key: files.key, trust: pki.caFile))
        }
        func json(_ response: ClientResponse) -> [String: Any] {
            (try? JSONSerialization.jsonObject(with: Data(response.body))) as? [String: Any] ?? [:]
        }

        var server = try Server(config: config, database: database)
        let housing = try client("housing-fund", server.port)
        let civil = try client("civil-affairs", server.port)
        let police = try client("public-security", server.port)
        let hrss = try client("hrss", server.port)
        var pending: [String] = []
        for index in 0..<20 {
            let response = try housing.request("POST", "/v1/verifications", body: Array(TestSubjects.verificationBody(subject: TestSubjects.residentID(100 + index)).utf8))
            #expect(response.status == 202)
            pending.append(try #require(json(response)["id"] as? String))
        }
        let subject = TestSubjects.residentID(200)
        #expect(try police.request("PUT", "/v1/records/PSB-NO-CRIMINAL-RECORD/\(subject)", body: Array(#"{"claims":{"hasCriminalRecord":false}}"#.utf8)).status == 201)
        let shared = try hrss.request("POST", "/v1/verifications", body: Array(TestSubjects.verificationBody(
            type: "PSB-NO-CRIMINAL-RECORD", matter: "HR-RECRUIT-001", subject: subject, claims: #"{"hasCriminalRecord":false}"#).utf8))
        #expect(shared.status == 201)
        let sharedID = try #require(json(shared)["id"] as? String)
        let leased = try #require(json(try civil.request("GET", "/v1/queue?limit=5&lease=600"))["items"] as? [[String: Any]])
        #expect(leased.count == 5)
        let answeredItem = leased[0]
        let answered = try civil.request("POST", "/v1/queue/\(answeredItem["id"]!)/answer", body: Array(#"{"leaseToken":"\#(answeredItem["leaseToken"]!)","outcome":"confirmed"}"#.utf8))
        #expect(answered.status == 200)
        let auditBefore = json(try client("audit-office", server.port).request("GET", "/v1/audit/checkpoint"))

        server.process.signal(SIGKILL)
        _ = server.process.wait(timeout: 10)
        server = try Server(config: config, database: database)
        defer {
            server.process.signal(SIGTERM)
            _ = server.process.wait(timeout: 10)
        }

        let housing2 = try client("housing-fund", server.port)
        for id in pending {
            #expect(try housing2.request("GET", "/v1/verifications/\(id)").status == 200)
        }
        #expect(json(try client("hrss", server.port).request("GET", "/v1/verifications/\(sharedID)"))["outcome"] as? String == "confirmed")
        // The four leases still held (600 s) are not handed out again; the 15 never leased are.
        let civil2 = try client("civil-affairs", server.port)
        let released = try #require(json(try civil2.request("GET", "/v1/queue?limit=100"))["items"] as? [[String: Any]])
        #expect(released.count == 15)
        let heldIDs = Set(leased.dropFirst().compactMap { $0["id"] as? String })
        #expect(released.allSatisfy { !heldIDs.contains($0["id"] as? String ?? "") })
        // A lease token issued before the crash still answers.
        let held = leased[1]
        #expect(try civil2.request("POST", "/v1/queue/\(held["id"]!)/answer", body: Array(#"{"leaseToken":"\#(held["leaseToken"]!)","outcome":"denied"}"#.utf8)).status == 200)

        let auditAfter = json(try client("audit-office", server.port).request("GET", "/v1/audit/checkpoint"))
        #expect((auditAfter["size"] as? Int ?? 0) > (auditBefore["size"] as? Int ?? 0))
        let verify = try Subprocess.run([ServeCommandTests.binary, "audit", "verify", "--database", database, "--trust", pki.caFile])
        #expect(verify.status == 0, "\(verify.stdout) \(verify.stderr)")
        #expect(verify.stdout.contains("ok"))
    }
}
