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
        #expect(audit.witnesses.isEmpty && audit.witnessQuorum == 0)
        #expect(audit.retention == nil)  // kept unless configured
    }

    @Test func witnessesDecodeWithDefaultQuorumAndResolvedClientFiles() throws {
        let bytes = try editedJSON(try packageFile("config/heyan.json")) {
            set(&$0, ["audit"], to: [
                "logKey": "log.key",
                "witnesses": [["name": "audit-office.example/witness", "vkey": "audit-office.example/witness+01020304+BA==",
                               "url": "https://audit-office.example:8444/tlog/"]],
                "witnessClient": ["certificate": "heyan-log.pem", "privateKey": "heyan-log.key", "trust": "ca.pem"],
            ] as [String: any Sendable])
        }
        let audit = try #require(try ServiceConfiguration.decode(bytes, file: "heyan.json").resolvingPaths(relativeTo: "/etc/heyan").audit)
        #expect(audit.witnessQuorum == 1)
        let endpoint = try #require(audit.witnesses.first?.endpoint)
        #expect(endpoint.host == "audit-office.example" && endpoint.port == 8444 && endpoint.prefix == "/tlog")
        #expect(audit.witnessClient?.certificate == "/etc/heyan/heyan-log.pem")
        #expect(audit.witnessClient?.trust == "/etc/heyan/ca.pem")
    }

    @Test(arguments: [
        (["logKey": "log.key", "origin": "heyan example/audit"], "audit.origin"),
        (["logKey": "log.key", "origin": "a+b"], "audit.origin"),
        (["logKey": ""], "audit.logKey"),
        (["logKey": "log.key", "checkpointIntervalSeconds": 0], "audit.checkpointIntervalSeconds"),
        (["logKey": "log.key", "witnessQuorum": 1], "audit.witnessQuorum"),
        (["logKey": "log.key", "retention": ["accessRecordDays": 1094]], "audit.retention.accessRecordDays"),
        (["logKey": "log.key", "retention": ["securityLogDays": 182]], "audit.retention.securityLogDays"),
        (["logKey": "log.key", "witnesses": [["name": "w", "vkey": "w+00000000+AA==", "url": "https://w.example:8444"]]],
         "audit.witnessClient"),
        (["logKey": "log.key", "witnesses": [["name": "w", "vkey": "k", "url": "http://w.example:8444"]],
          "witnessClient": ["certificate": "c.pem", "privateKey": "c.key", "trust": "ca.pem"]], "audit.witnesses[0].url"),
        (["logKey": "log.key", "witnesses": [["name": "w", "vkey": "k", "url": "https://w.example"]],
          "witnessClient": ["certificate": "c.pem", "privateKey": "c.key", "trust": "ca.pem"]], "audit.witnesses[0].url"),
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
