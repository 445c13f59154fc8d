import HeyanDomain
import Testing

/// `audit` in heyan.json (docs/configuration.md): optional, defaults, and refused values.
@Suite struct AuditLogSettingsTests {
    @Test func optionalWithDefaultsAndResolvedPath() throws {
        let without = try editedJSON(try packageFile("config/heyan.json")) { set(&$0, ["audit"], to: nil) }
        #expect(try ServiceConfiguration.decode(without, file: "heyan.json").audit == nil)
        let minimal = try editedJSON(try packageFile("config/heyan.json")) {
            set(&$0, ["audit"], to: ["logKey": "keys/log.key"])
        }
        let audit = try #require(try ServiceConfiguration.decode(minimal, file: "heyan.json").audit)
        #expect(audit == AuditLogSettings(logKey: "keys/log.key", origin: "localhost/audit/v1", checkpointIntervalSeconds: 2))
        let resolved = try ServiceConfiguration.decode(minimal, file: "heyan.json").resolvingPaths(relativeTo: "/etc/heyan")
        #expect(resolved.audit?.logKey == "/etc/heyan/keys/log.key")
    }

    @Test(arguments: [
        (["logKey": "log.key", "origin": "heyan example/audit"], "audit.origin"),
        (["logKey": "log.key", "origin": "a+b"], "audit.origin"),
        (["logKey": ""], "audit.logKey"),
        (["logKey": "log.key", "checkpointIntervalSeconds": 0], "audit.checkpointIntervalSeconds"),
    ] as [([String: any Sendable], String)])
    func badValuesAreRefused(_ audit: [String: any Sendable], _ path: String) throws {
        let bytes = try editedJSON(try packageFile("config/heyan.json")) { set(&$0, ["audit"], to: audit) }
        #expect(throws: ConfigurationError.self) { try ServiceConfiguration.decode(bytes, file: "heyan.json") }
        do {
            _ = try ServiceConfiguration.decode(bytes, file: "heyan.json")
        } catch {
            #expect(error.message.contains(path))
        }
    }
}
