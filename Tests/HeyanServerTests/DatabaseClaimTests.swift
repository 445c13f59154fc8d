#if canImport(Glibc)
import Glibc
#endif
import Foundation
import HeyanCrypto
import HeyanHTTP
import HeyanTestSupport
import Testing

/// One `heyan serve` per SQLite file, and no database address read as something else (issue 10,
/// finding 9; docs/storage.md "One server per database", "Which database"). Real processes.
@Suite struct DatabaseClaimTests {
    static let binary = ServeCommandTests.binary

    func configure(_ directory: TemporaryDirectory, pki: TestPKI) throws -> String {
        let root = packageRoot()
        try writeFile(directory.file("departments.json"), try readFile("\(root)/config/departments.json"))
        try writeFile(directory.file("catalog.json"), try readFile("\(root)/config/catalog.json"))
        try directory.write("heyan.json", RunningService.configuration(pki: pki))
        return directory.file("heyan.json")
    }

    func port(of process: Subprocess) throws -> Int {
        let line = try #require(ServeCommandTests().waitForLine(process, containing: #""event":"listening""#))
        let portText = try #require(line.split(separator: ",").first { $0.contains(#""port":"#) })
        return try #require(Int(portText.split(separator: ":").last!.filter(\.isNumber)))
    }

    @Test func aSecondServerOnTheSameDatabaseRefusesToStartAndTheFirstServesOn() throws {
        let pki = try TestPKI()
        let directory = TemporaryDirectory()
        let config = try configure(directory, pki: pki)
        let database = directory.file("db/heyan.sqlite")
        let first = try Subprocess([Self.binary, "serve", "--config", config, "--database", database])
        defer { first.signal(SIGKILL) }
        let port = try port(of: first)

        let second = try Subprocess.run([Self.binary, "serve", "--config", config, "--database", database], timeout: 60)
        #expect(second.status == 1)
        #expect(second.stderr.contains("database.in-use"), "\(second.stderr)")
        #expect(second.stderr.contains("the database \(database) is in use by heyan process \(first.pid)"), "\(second.stderr)")
        #expect(second.stderr.contains(database + ".lock"))
        #expect(!second.stderr.contains(#""event":"listening""#))

        // The first still serves, writes included.
        let files = try pki.department("housing-fund")
        let context = try TLSClientContext(certificate: files.certificate, key: files.key, trust: pki.caFile)
        let connection = try TLSClientConnection(port: port, context: context)
        #expect(try connection.request("GET", "/healthz").status == 200)
        let submitted = try connection.request(
            "POST", "/v1/verifications", headers: [("Content-Type", "application/json")],
            body: Array(TestSubjects.verificationBody(subject: TestSubjects.residentID(7)).utf8))
        #expect(submitted.status == 202)

        // Once it has stopped, the database is free again.
        first.signal(SIGTERM)
        #expect(first.wait(timeout: 20).status == 0)
        let third = try Subprocess([Self.binary, "serve", "--config", config, "--database", database])
        defer { third.signal(SIGKILL) }
        _ = try self.port(of: third)
        third.signal(SIGTERM)
        #expect(third.wait(timeout: 20).status == 0)
    }

    /// Runs `arguments` with `directory` as the working directory.
    func run(in directory: TemporaryDirectory, _ arguments: [String]) throws -> Subprocess.Result {
        let quoted = arguments.map { "'" + $0.replacingOccurrences(of: "'", with: "'\\''") + "'" }.joined(separator: " ")
        return try Subprocess.run(["/bin/sh", "-c", "cd '\(directory.path)' && exec \(quoted)"], timeout: 60)
    }

    func entries(_ directory: TemporaryDirectory) -> [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: directory.path)) ?? []).sorted()
    }

    @Test func aPostgreSQLAddressWithAPasswordIsRefusedNotTakenAsAPath() throws {
        let pki = try TestPKI()
        let configDirectory = TemporaryDirectory()
        let config = try configure(configDirectory, pki: pki)
        let work = TemporaryDirectory()
        let address = "postgresql://heyan:s3cret@db.example:5432/heyan"

        let served = try run(in: work, [Self.binary, "serve", "--config", config, "--database", address])
        #expect(served.status == 1)
        #expect(served.stderr.contains("holds a password"), "\(served.stderr)")
        #expect(served.stderr.contains("postgresql://heyan:***@db.example:5432/heyan"))
        #expect(!served.stderr.contains("s3cret"))
        #expect(entries(work).isEmpty, "created \(entries(work))")

        // The same in heyan.json (there a relative path is relative to the file's folder).
        var text = String(decoding: try readFile(config), as: UTF8.self)
        text = text.replacingOccurrences(of: #""database": "var/heyan.sqlite""#, with: #""database": "mysql://root@db/heyan""#)
        try configDirectory.write("heyan.json", text)
        let configured = try run(in: work, [Self.binary, "serve", "--config", config])
        #expect(configured.status == 1)
        #expect(configured.stderr.contains("heyan.json: database: 'mysql://root@db/heyan' is a URI with the scheme 'mysql'"), "\(configured.stderr)")
        #expect(!FileManager.default.fileExists(atPath: configDirectory.file("mysql:")))

        // The offline tools refuse it too, as a usage error, and create nothing.
        for arguments in [
            ["audit", "verify", "--database", address],
            ["stats", "--database", address, "--format", "json"],
            ["catalog", "publish", "--format", "json", "--database", "file:heyan.sqlite"],
        ] {
            let result = try run(in: work, [Self.binary] + arguments)
            #expect(result.status == 2, "\(arguments): \(result.status) \(result.stdout) \(result.stderr)")
            #expect((result.stdout + result.stderr).contains("not a file path") || (result.stdout + result.stderr).contains("holds a password"), "\(arguments)")
            #expect(!(result.stdout + result.stderr).contains("s3cret"))
        }
        #expect(entries(work).isEmpty, "created \(entries(work))")
    }
}
