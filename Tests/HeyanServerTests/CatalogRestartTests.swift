#if canImport(Glibc)
import Glibc
#endif
import Foundation
import HeyanHTTP
import HeyanTestSupport
import Testing

/// config/catalog.json is the seed; a version stored through the API survives a restart and wins
/// over the (older) file.
@Suite struct CatalogRestartTests {
    @Test func storedVersionWinsOverTheConfiguredSeedAfterRestart() throws {
        let pki = try TestPKI()
        let directory = TemporaryDirectory()
        let config = try ServeCommandTests().configure(directory, pki: pki)
        let database = directory.file("var/heyan.sqlite")
        func client(_ code: String, _ port: Int) throws -> TLSClientConnection {
            let files = try pki.department(code)
            return try TLSClientConnection(
                port: port, context: try TLSClientContext(certificate: files.certificate, key: files.key, trust: pki.caFile))
        }
        func json(_ response: ClientResponse) -> [String: Any] {
            (try? JSONSerialization.jsonObject(with: Data(response.body))) as? [String: Any] ?? [:]
        }

        var server = try RestartTests.Server(config: config, database: database)
        let change = #"{"reason":"r","legalBasis":"b","changes":[{"op":"cancel","code":"EDU-DEGREE","reason":"直接取消"}]}"#
        let stored = try client("data-office", server.port).request("POST", "/v1/catalog/changes", body: Array(change.utf8))
        #expect(stored.status == 201)
        server.process.signal(SIGTERM)
        #expect(server.process.wait(timeout: 20).status == 0)

        server = try RestartTests.Server(config: config, database: database)
        let reader = try client("hrss", server.port)
        let catalog = json(try reader.request("GET", "/v1/catalog"))
        #expect(catalog["version"] as? Int == 2)
        let versions = json(try reader.request("GET", "/v1/catalog/versions"))
        #expect((versions["versions"] as? [Any])?.count == 2)
        let refused = try reader.request(
            "POST", "/v1/verifications",
            body: Array(TestSubjects.verificationBody(
                type: "EDU-DEGREE", matter: "HR-RECRUIT-001", subject: TestSubjects.residentID(5),
                claims: #"{"highestEducation":"bachelor"}"#).utf8))
        #expect(refused.status == 410)
        server.process.signal(SIGTERM)
        _ = server.process.wait(timeout: 20)
    }
}
