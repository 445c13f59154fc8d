import Foundation
import HeyanDomain
import Testing

/// One of the three configuration files.
enum ConfigurationFile: String, Sendable {
    case service = "heyan.json"
    case departments = "departments.json"
    case catalog = "catalog.json"

    var examplePath: String { "config/\(rawValue)" }
    var schemaPath: String {
        switch self {
        case .service: "schemas/heyan.config.schema.json"
        case .departments: "schemas/departments.schema.json"
        case .catalog: "schemas/catalog.schema.json"
        }
    }

    /// Decodes with the production entry point, returning the error if any.
    func decode(_ bytes: [UInt8]) throws -> ConfigurationError? {
        do {
            switch self {
            case .service: _ = try ServiceConfiguration.decode(bytes, file: rawValue)
            case .departments: _ = try DepartmentDirectory.decode(bytes, file: rawValue)
            case .catalog: _ = try Catalog.decode(bytes, file: rawValue, departments: try exampleDepartments())
            }
            return nil
        } catch let error as ConfigurationError {
            return error
        }
    }
}

/// An example file with one thing broken, the message heyan must give, and whether the JSON
/// Schema alone can see the problem (cross-references and uniqueness it cannot).
struct BrokenConfiguration: Sendable, CustomTestStringConvertible {
    let file: ConfigurationFile
    let change: String
    let edit: @Sendable (inout Any) -> Void
    let message: String
    let schemaRejects: Bool

    var testDescription: String { "\(file.rawValue): \(change)" }

    func bytes() throws -> [UInt8] { try editedJSON(try packageFile(file.examplePath), edit) }

    static let all: [BrokenConfiguration] = service + departments + catalog

    static let service: [BrokenConfiguration] = [
        .init(
            file: .service, change: "no listen", edit: { set(&$0, ["listen"], to: nil) },
            message: "heyan.json: listen: missing field", schemaRejects: true),
        .init(
            file: .service, change: "port 00", edit: { set(&$0, ["listen"], to: "127.0.0.1:00") },
            message: "heyan.json: listen: '127.0.0.1:00' is not host:port: the port must be a number from 0 to 65535",
            schemaRejects: true),
        .init(
            file: .service, change: "port 65536", edit: { set(&$0, ["listen"], to: "127.0.0.1:65536") },
            message:
                "heyan.json: listen: '127.0.0.1:65536' is not host:port: the port must be a number from 0 to 65535",
            schemaRejects: true),
        .init(
            file: .service, change: "no port", edit: { set(&$0, ["listen"], to: "localhost") },
            message: "heyan.json: listen: 'localhost' is not host:port: missing ':port'", schemaRejects: true),
        .init(
            file: .service, change: "IPv6 without brackets", edit: { set(&$0, ["listen"], to: "::1:8443") },
            message:
                "heyan.json: listen: '::1:8443' is not host:port: a host is a name or an IPv4 address; write an IPv6 address in brackets",
            schemaRejects: true),
        .init(
            file: .service, change: "misspelt field",
            edit: {
                set(&$0, ["databse"], to: "x.sqlite")
            },
            message: "heyan.json: databse: unknown field, did you mean 'database'?", schemaRejects: true),
        .init(
            file: .service, change: "unknown nested field", edit: { set(&$0, ["tls", "ciphers"], to: "HIGH") },
            message: "heyan.json: tls.ciphers: unknown field; expected one of: certificate, privateKey, clientCA, crl",
            schemaRejects: true),
        .init(
            file: .service, change: "no CRL", edit: { set(&$0, ["tls", "crl"], to: nil) },
            message: "heyan.json: tls.crl: missing field", schemaRejects: true),
        .init(
            file: .service, change: "workers as a string", edit: { set(&$0, ["workers"], to: "4") },
            message: "heyan.json: workers: expected an integer, found '4'", schemaRejects: true),
        .init(
            file: .service, change: "fractional limit", edit: { set(&$0, ["limits", "bodyBytes"], to: 1.5) },
            message: "heyan.json: limits.bodyBytes: expected an integer, found 1.5", schemaRejects: true),
        .init(
            file: .service, change: "zero limit", edit: { set(&$0, ["limits", "headerCount"], to: 0) },
            message: "heyan.json: limits.headerCount: must be at least 1", schemaRejects: true),
        .init(
            file: .service, change: "batch limit below body limit",
            edit: { set(&$0, ["limits", "batchBodyBytes"], to: 1024) },
            message: "heyan.json: limits.batchBodyBytes: must be at least limits.bodyBytes (1048576)",
            schemaRejects: false),
        .init(
            file: .service, change: "unknown log level", edit: { set(&$0, ["log", "level"], to: "verbose") },
            message:
                "heyan.json: log.level: unknown value 'verbose'; expected one of: 'trace', 'debug', 'info', 'notice', 'warning', 'error', 'critical'",
            schemaRejects: true),
        .init(
            file: .service, change: "chain as a string", edit: { set(&$0, ["signing", "chain"], to: "ca.pem") },
            message: "heyan.json: signing.chain: expected an array, found 'ca.pem'", schemaRejects: true),
        .init(
            file: .service, change: "null path", edit: { set(&$0, ["database"], to: NSNull()) },
            message: "heyan.json: database: expected a string, found null", schemaRejects: true),
        .init(
            file: .service, change: "PostgreSQL address with a password as database",
            edit: { set(&$0, ["database"], to: "postgresql://heyan:secret@db.example:5432/heyan") },
            message:
                "heyan.json: database: postgresql://heyan:***@db.example:5432/heyan holds a password: heyan keeps no password in its own files; put it in libpq's password file (~/.pgpass or PGPASSFILE) or use a client certificate (sslcert, sslkey)",
            schemaRejects: true),
        .init(
            file: .service, change: "30 February as a holiday",
            edit: { set(&$0, ["calendar", "holidays", 0], to: "2025-02-30") },
            message: "heyan.json: calendar.holidays[0]: expected a real date as yyyy-mm-dd, found '2025-02-30'",
            schemaRejects: true),  // by the "date" format, which the schema test asserts
    ]

    static let departments: [BrokenConfiguration] = [
        .init(
            file: .departments, change: "duplicate code",
            edit: { set(&$0, ["departments", 1, "code"], to: "housing-fund") },
            message: "departments.json: departments[1].code: duplicate department code 'housing-fund'",
            schemaRejects: false),
        .init(
            file: .departments, change: "unknown role",
            edit: { set(&$0, ["departments", 0, "roles", 0], to: "admin") },
            message:
                "departments.json: departments[0].roles[0]: unknown value 'admin'; expected one of: 'requester', 'owner', 'auditor', 'operator'",
            schemaRejects: true),
        .init(
            file: .departments, change: "code with capitals and underscore",
            edit: { set(&$0, ["departments", 2, "code"], to: "Civil_Affairs") },
            message:
                "departments.json: departments[2].code: 'Civil_Affairs' is not a department code: 1-64 lowercase letters and digits, single hyphens between them",
            schemaRejects: true),
        .init(
            file: .departments, change: "no English name",
            edit: { set(&$0, ["departments", 0, "name", "en"], to: nil) },
            message: "departments.json: departments[0].name.en: missing field", schemaRejects: true),
        .init(
            file: .departments, change: "role instead of roles",
            edit: {
                set(&$0, ["departments", 3, "roles"], to: nil)
                set(&$0, ["departments", 3, "role"], to: "owner")
            },
            message: "departments.json: departments[3].role: unknown field, did you mean 'roles'?", schemaRejects: true),
        .init(
            file: .departments, change: "no roles", edit: { set(&$0, ["departments", 0, "roles"], to: [String]()) },
            message: "departments.json: departments[0].roles: must name at least one role", schemaRejects: true),
        .init(
            file: .departments, change: "zero burst",
            edit: { set(&$0, ["departments", 0, "rateLimit", "burst"], to: 0) },
            message: "departments.json: departments[0].rateLimit.burst: must be at least 1", schemaRejects: true),
        .init(
            file: .departments, change: "bare array",
            edit: { tree in tree = (tree as! [String: Any])["departments"]! },
            message: "departments.json: expected an object, found an array", schemaRejects: true),
    ]

    static let catalog: [BrokenConfiguration] = [
        .init(
            file: .catalog, change: "owner typo", edit: { set(&$0, ["items", 0, "owner"], to: "civil-afairs") },
            message: "catalog.json: items[0].owner: unknown department 'civil-afairs'", schemaRejects: false),
        .init(
            file: .catalog, change: "owner without the owner role",
            edit: { set(&$0, ["items", 0, "owner"], to: "housing-fund") },
            message: "catalog.json: items[0].owner: department 'housing-fund' does not have the role 'owner'",
            schemaRejects: false),
        .init(
            file: .catalog, change: "unknown requester",
            edit: { set(&$0, ["items", 1, "requesters", 0, "department"], to: "hr") },
            message: "catalog.json: items[1].requesters[0].department: unknown department 'hr'", schemaRejects: false),
        .init(
            file: .catalog, change: "requester without the requester role",
            edit: { set(&$0, ["items", 0, "requesters", 1, "department"], to: "civil-affairs") },
            message:
                "catalog.json: items[0].requesters[1].department: department 'civil-affairs' does not have the role 'requester'",
            schemaRejects: false),
        .init(
            file: .catalog, change: "disclose of a non-claim",
            edit: { set(&$0, ["items", 0, "requesters", 0, "disclose", 0], to: "maritalState") },
            message: "catalog.json: items[0].requesters[0].disclose[0]: 'maritalState' is not a claim of this type",
            schemaRejects: false),
        .init(
            file: .catalog, change: "duplicate item code",
            edit: { set(&$0, ["items", 1, "code"], to: "CIV-MARRIAGE") },
            message: "catalog.json: items[1].code: duplicate certificate type code 'CIV-MARRIAGE'", schemaRejects: false
        ),
        .init(
            file: .catalog, change: "no legal basis", edit: { set(&$0, ["items", 0, "legalBasis"], to: nil) },
            message: "catalog.json: items[0].legalBasis: missing field", schemaRejects: true),
        .init(
            file: .catalog, change: "unknown method", edit: { set(&$0, ["items", 0, "method"], to: "verification") },
            message:
                "catalog.json: items[0].method: unknown value 'verification'; expected one of: 'data-sharing', 'department-verification', 'commitment', 'cancelled'",
            schemaRejects: true),
        .init(
            file: .catalog, change: "category as a number", edit: { set(&$0, ["items", 0, "category"], to: 3) },
            message: "catalog.json: items[0].category: expected a string, found 3", schemaRejects: true),
        .init(
            file: .catalog, change: "misspelt field",
            edit: {
                set(&$0, ["items", 1, "owner"], to: nil)
                set(&$0, ["items", 1, "ownr"], to: "public-security")
            },
            message: "catalog.json: items[1].ownr: unknown field, did you mean 'owner'?", schemaRejects: true),
        .init(
            file: .catalog, change: "department verification without a time limit",
            edit: { set(&$0, ["items", 0, "timeLimitWorkingDays"], to: nil) },
            message:
                "catalog.json: items[0].timeLimitWorkingDays: missing field (required for 'department-verification')",
            schemaRejects: true),
        .init(
            file: .catalog, change: "data sharing with a time limit but no queue",
            edit: { set(&$0, ["items", 1, "timeLimitWorkingDays"], to: 2) },
            message:
                "catalog.json: items[1].timeLimitWorkingDays: only for 'department-verification' or 'data-sharing' with fallback 'queue', not 'data-sharing'",
            schemaRejects: true),
        .init(
            file: .catalog, change: "fallback queue without a time limit",
            edit: { set(&$0, ["items", 1, "fallback"], to: "queue") },
            message:
                "catalog.json: items[1].timeLimitWorkingDays: missing field (required for 'data-sharing' with fallback 'queue')",
            schemaRejects: true),
        .init(
            file: .catalog, change: "fallback on department verification",
            edit: { set(&$0, ["items", 0, "fallback"], to: "queue") },
            message: "catalog.json: items[0].fallback: only for 'data-sharing', not 'department-verification'",
            schemaRejects: true),
        .init(
            file: .catalog, change: "cancelled without a cancellation",
            edit: { set(&$0, ["items", 2, "cancellation"], to: nil) },
            message:
                "catalog.json: items[2].cancellation: missing field (required for 'cancelled': the reason and effective date)",
            schemaRejects: true),
        .init(
            file: .catalog, change: "cancelled with requesters",
            edit: {
                set(&$0, ["items", 2, "requesters"], to: [["department": "hrss", "matterCodes": ["HR-RECRUIT-001"]]])
            },
            message: "catalog.json: items[2].requesters: a cancelled type takes no requesters: nobody may ask for it",
            schemaRejects: true),
        .init(
            file: .catalog, change: "commitment block on data sharing",
            edit: { tree in
                let items = (tree as! [String: Any])["items"] as! [[String: Any]]
                set(&tree, ["items", 1, "commitment"], to: items[9]["commitment"]!)
            },
            message: "catalog.json: items[1].commitment: only for 'commitment', not 'data-sharing'", schemaRejects: true
        ),
        .init(
            file: .catalog, change: "spot-check rate above 1",
            edit: { set(&$0, ["items", 9, "commitment", "spotCheckRate"], to: 1.5) },
            message: "catalog.json: items[9].commitment.spotCheckRate: must be between 0 and 1", schemaRejects: true),
        .init(
            file: .catalog, change: "no matter codes",
            edit: { set(&$0, ["items", 0, "requesters", 0, "matterCodes"], to: [String]()) },
            message: "catalog.json: items[0].requesters[0].matterCodes: must list at least one matter code",
            schemaRejects: true),
        .init(
            file: .catalog, change: "matter code with a space",
            edit: { set(&$0, ["items", 0, "requesters", 0, "matterCodes", 0], to: "HF WITHDRAW") },
            message:
                "catalog.json: items[0].requesters[0].matterCodes[0]: 'HF WITHDRAW' is not a matter code: 1-64 letters, digits, '.', '_' or '-', starting with a letter or digit",
            schemaRejects: true),
        .init(
            file: .catalog, change: "enum on a boolean claim",
            edit: { set(&$0, ["items", 1, "claims", "hasCriminalRecord", "enum"], to: ["yes", "no"]) },
            message:
                "catalog.json: items[1].claims.hasCriminalRecord.enum: only a claim of type 'string' may list allowed values",
            schemaRejects: true),
        .init(
            file: .catalog, change: "unknown claim type",
            edit: { set(&$0, ["items", 1, "claims", "hasCriminalRecord", "type"], to: "number") },
            message:
                "catalog.json: items[1].claims.hasCriminalRecord.type: unknown value 'number'; expected one of: 'boolean', 'string', 'integer', 'date'",
            schemaRejects: true),
        .init(
            file: .catalog, change: "month 13 in a cancellation date",
            edit: { set(&$0, ["items", 2, "cancellation", "effectiveDate"], to: "2019-13-01") },
            message:
                "catalog.json: items[2].cancellation.effectiveDate: expected a real date as yyyy-mm-dd, found '2019-13-01'",
            schemaRejects: true),
        .init(
            file: .catalog, change: "no owner on a live type", edit: { set(&$0, ["items", 0, "owner"], to: nil) },
            message: "catalog.json: items[0].owner: missing field (only a cancelled type may have no owner)",
            schemaRejects: true),
        .init(
            file: .catalog, change: "lowercase item code",
            edit: { set(&$0, ["items", 0, "code"], to: "civ-marriage") },
            message:
                "catalog.json: items[0].code: 'civ-marriage' is not a certificate type code: 1-64 uppercase letters and digits, single hyphens between them",
            schemaRejects: true),
        .init(
            file: .catalog, change: "version 0", edit: { set(&$0, ["version"], to: 0) },
            message: "catalog.json: version: must be at least 1", schemaRejects: true),
    ]
}

@Suite struct BrokenConfigurationTests {
    @Test(arguments: BrokenConfiguration.all)
    func isRefusedWithFileFieldAndProblem(_ broken: BrokenConfiguration) throws {
        let error = try #require(try broken.file.decode(try broken.bytes()), "accepted a broken file")
        #expect(error.code == "config.invalid")
        #expect(error.file == broken.file.rawValue)
        #expect(error.message == broken.message)
    }

    /// Every problem with a catalog is reported at once, not one per restart.
    @Test func allSemanticProblemsAreReportedTogether() throws {
        let bytes = try editedJSON(try packageFile("config/catalog.json")) {
            set(&$0, ["items", 0, "owner"], to: "civil-afairs")
            set(&$0, ["items", 1, "requesters", 0, "department"], to: "hr")
        }
        let error = try #require(try ConfigurationFile.catalog.decode(bytes))
        #expect(
            error.issues == [
                ValidationIssue(path: "items[0].owner", message: "unknown department 'civil-afairs'"),
                ValidationIssue(path: "items[1].requesters[0].department", message: "unknown department 'hr'"),
            ])
        #expect(
            error.message
                == "catalog.json: items[0].owner: unknown department 'civil-afairs'; catalog.json: items[1].requesters[0].department: unknown department 'hr'"
        )
    }

    @Test func defaultsApplyWhenOptionalBlocksAreAbsent() throws {
        let bytes = try editedJSON(try packageFile("config/heyan.json")) {
            for key in ["workers", "limits", "log", "calendar", "$schema"] { set(&$0, [.key(key)], to: nil) }
            set(&$0, ["signing", "chain"], to: nil)
        }
        let configuration = try ServiceConfiguration.decode(bytes, file: "heyan.json")
        #expect(configuration.workers == 0)
        #expect(configuration.limits.requestLineBytes == 8192)
        #expect(configuration.limits.headerBytes == 16384)
        #expect(configuration.limits.headerCount == 100)
        #expect(configuration.limits.bodyBytes == 1_048_576)
        #expect(configuration.limits.batchBodyBytes == 16_777_216)
        #expect(configuration.limits.handshakeTimeoutSeconds == 10)
        #expect(configuration.limits.idleTimeoutSeconds == 60)
        #expect(configuration.limits.requestTimeoutSeconds == 30)
        #expect(configuration.limits.longPollMaxSeconds == 60)
        #expect(configuration.limits.maxConnections == 10000)
        #expect(configuration.log.level == .info)
        #expect(configuration.signing.chain == [])
        #expect(configuration.calendar.holidays == [])

        let partial = try editedJSON(bytes) { set(&$0, ["limits"], to: ["bodyBytes": 2048]) }
        let limits = try ServiceConfiguration.decode(partial, file: "heyan.json").limits
        #expect(limits.bodyBytes == 2048)
        #expect(limits.headerCount == 100)
    }

    @Test func schemaKeyIsAcceptedOnlyAtTheTop() throws {
        let bytes = try editedJSON(try packageFile("config/heyan.json")) {
            set(&$0, ["tls", "$schema"], to: "x")
        }
        let error = try #require(try ConfigurationFile.service.decode(bytes))
        #expect(
            error.issues.map(\.description) == [
                "tls.$schema: unknown field; expected one of: certificate, privateKey, clientCA, crl"
            ])
    }
}
