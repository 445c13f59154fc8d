#if canImport(Glibc)
import Glibc
#endif
import Foundation
import HeyanCrypto
import HeyanHTTP
import HeyanTestSupport
import Testing

/// `heyan serve` as a real process: start, answer, reload on SIGHUP, stop on SIGTERM, refuse bad
/// configuration with a clear message.
@Suite struct ServeCommandTests {
    static let binary = packageRoot() + "/.build/debug/heyan"

    /// Writes a config for `pki` into `directory`, optionally with a broken catalog.
    func configure(_ directory: TemporaryDirectory, pki: TestPKI, catalog: [UInt8]? = nil) throws -> String {
        let root = packageRoot()
        try writeFile(directory.file("departments.json"), try readFile("\(root)/config/departments.json"))
        try writeFile(directory.file("catalog.json"), try catalog ?? readFile("\(root)/config/catalog.json"))
        try directory.write("heyan.json", RunningService.configuration(pki: pki))
        return directory.file("heyan.json")
    }

    func waitForLine(_ process: Subprocess, containing text: String, timeout: Double = 20) -> String? {
        process.waitForLine(containing: text, timeout: timeout)
    }

    @Test func servesReloadsAndStopsGracefully() throws {
        let pki = try TestPKI()
        let directory = TemporaryDirectory()
        let config = try configure(directory, pki: pki)
        let process = try Subprocess([Self.binary, "serve", "--config", config, "--database", directory.file("db/heyan.sqlite")])
        let listening = try #require(waitForLine(process, containing: #""event":"listening""#))
        let portText = try #require(listening.split(separator: ",").first { $0.contains(#""port":"#) })
        let port = try #require(Int(portText.split(separator: ":").last!.filter(\.isNumber)))

        let files = try pki.department("hrss")
        let context = try TLSClientContext(certificate: files.certificate, key: files.key, trust: pki.caFile)
        let connection = try TLSClientConnection(port: port, context: context)
        #expect(try connection.request("GET", "/healthz").status == 200)

        process.signal(SIGHUP)
        #expect(waitForLine(process, containing: #""event":"tls-reloaded""#) != nil)
        #expect(try connection.request("GET", "/healthz").status == 200)

        process.signal(SIGTERM)
        let result = process.wait(timeout: 20)
        #expect(result.status == 0)
        #expect(result.stderr.contains(#""event":"stopped""#))
        #expect(access(directory.file("db/heyan.sqlite"), F_OK) == 0)
    }

    @Test func refusesAPrivateKeyReadableByOthers() throws {
        let pki = try TestPKI()
        chmod(pki.serverKeyFile, 0o644)
        let directory = TemporaryDirectory()
        let config = try configure(directory, pki: pki)
        let result = try Subprocess.run([Self.binary, "serve", "--config", config])
        #expect(result.status == 1)
        #expect(result.stderr.contains("key.permissions"))
        #expect(result.stderr.contains(pki.serverKeyFile))
    }

    @Test func refusesAnInvalidCatalogNamingFileFieldAndProblem() throws {
        let pki = try TestPKI()
        let directory = TemporaryDirectory()
        var catalog = String(decoding: try readFile(packageRoot() + "/config/catalog.json"), as: UTF8.self)
        catalog = catalog.replacingFirst(#""owner": "civil-affairs""#, with: #""owner": "civil-afairs""#)
        let config = try configure(directory, pki: pki, catalog: Array(catalog.utf8))
        let result = try Subprocess.run([Self.binary, "serve", "--config", config])
        #expect(result.status == 1)
        #expect(result.stderr.contains("catalog.json"))
        #expect(result.stderr.contains(".owner"))
        #expect(result.stderr.contains("civil-afairs"))
    }

    @Test func unknownCommandPrintsUsage() throws {
        let result = try Subprocess.run([Self.binary, "frobnicate"])
        #expect(result.status == 2)
        #expect(result.stdout.contains("serve --config FILE"))
    }
}

extension String {
    func replacingFirst(_ target: String, with replacement: String) -> String {
        guard let range = range(of: target) else { return self }
        return replacingCharacters(in: range, with: replacement)
    }
}
