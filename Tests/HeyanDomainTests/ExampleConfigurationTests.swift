import HeyanDomain
import Testing

/// The files in `config/` are what `make run` uses and what operators copy: they must load.
@Suite struct ExampleConfigurationTests {
    @Test func serviceConfigurationLoads() throws {
        let configuration = try ServiceConfiguration.decode(try packageFile("config/heyan.json"), file: "heyan.json")
        #expect(configuration.listen == (try ListenAddress(parsing: "127.0.0.1:8443")))
        #expect(configuration.listen.host == "127.0.0.1")
        #expect(configuration.listen.port == 8443)
        #expect(configuration.database == "../var/heyan.sqlite")
        #expect(configuration.departments == "departments.json")
        #expect(configuration.catalog == "catalog.json")
        #expect(
            configuration.tls
                == TLSFiles(
                    certificate: "../certs/dev/server.pem", privateKey: "../certs/dev/server.key",
                    clientCA: "../certs/dev/ca.pem", crl: "../certs/dev/crl.pem"))
        #expect(
            configuration.signing
                == SigningFiles(
                    certificate: "../certs/dev/signing.pem", privateKey: "../certs/dev/signing.key",
                    chain: ["../certs/dev/ca.pem"]))
        #expect(configuration.limits == ServiceLimits())
        #expect(configuration.log.level == .info)
        #expect(configuration.calendar.holidays.contains(CalendarDate(year: 2025, month: 10, day: 1)!))
    }

    @Test func departmentsLoad() throws {
        let directory = try exampleDepartments()
        let expected: [(String, String, Role)] = [
            ("housing-fund", "住房公积金管理中心", .requester),
            ("hrss", "人力资源和社会保障局", .requester),
            ("civil-affairs", "民政局", .owner),
            ("public-security", "公安局", .owner),
            ("audit-office", "审计局", .auditor),
            ("data-office", "政务服务和数据管理局", .operator),
            ("market-regulation", "市场监督管理局", .owner),
            ("natural-resources", "自然资源局", .owner),
            ("education", "教育局", .owner),
            ("health", "卫生健康委员会", .owner),
        ]
        for (code, name, role) in expected {
            let department = try #require(directory[code], "missing department \(code)")
            #expect(department.name.zh == name)
            #expect(department.has(role), "\(code) should have role \(role)")
        }
        #expect(directory["housing-fund"]?.rateLimit == RateLimit(requestsPerSecond: 50, burst: 100))
        #expect(directory["no-such-department"] == nil)
    }

    @Test func catalogLoads() throws {
        let catalog = try Catalog.decode(
            try packageFile("config/catalog.json"), file: "catalog.json", departments: try exampleDepartments())
        #expect(catalog.version == 1)
        #expect(catalog.items.count >= 10)
        #expect(Set(catalog.items.map(\.category)) == Set(CertificateCategory.allCases))
        #expect(Set(catalog.items.map(\.method)) == Set(VerificationMethod.allCases))
        #expect(catalog.items.filter { $0.method == .cancelled }.count >= 2)

        let marriage = try #require(catalog["CIV-MARRIAGE"])
        #expect(marriage.name.zh == "婚姻状况证明")
        #expect(marriage.category == .legalRelationship)
        #expect(marriage.owner == "civil-affairs")
        #expect(marriage.method == .departmentVerification)
        #expect(marriage.subjectTypes == [.residentID])
        #expect(marriage.timeLimitWorkingDays == 1)
        #expect(
            marriage.claims["maritalStatus"]
                == ClaimSchema(
                    type: .string, allowedValues: ["unmarried", "married", "divorced", "widowed"],
                    description: "婚姻登记机关记载的当前婚姻状况"))
        #expect(marriage.fallback == nil)
        let grant = try #require(
            catalog.grant(for: "housing-fund", matterCode: "HF-WITHDRAW-001", certificateType: "CIV-MARRIAGE"))
        #expect(grant.disclose == ["maritalStatus"])
        #expect(
            catalog.grant(for: "housing-fund", matterCode: "HR-RECRUIT-001", certificateType: "CIV-MARRIAGE") == nil)
        #expect(catalog.grant(for: "hrss", matterCode: "HF-WITHDRAW-001", certificateType: "CIV-MARRIAGE") == nil)

        let criminal = try #require(catalog["PSB-NO-CRIMINAL-RECORD"])
        #expect(criminal.category == .otherStatus)
        #expect(criminal.owner == "public-security")
        #expect(criminal.method == .dataSharing)
        #expect(criminal.claims["hasCriminalRecord"]?.type == .boolean)
        #expect(criminal.fallback == .cannotDetermine, "the default fallback of data-sharing")
        #expect(criminal.grant(for: "hrss", matterCode: "HR-RECRUIT-001")?.disclose == [])

        let alive = try #require(catalog["COMM-ALIVE"])
        #expect(alive.name.zh == "生存证明")
        #expect(alive.method == .cancelled)
        #expect(alive.category == .otherStatus)
        #expect(alive.cancellation?.reason == "通过部门间信息共享核查")
        #expect(alive.requesters.isEmpty)

        let license = try #require(catalog["MKT-BUSINESS-LICENSE"])
        #expect(license.subjectTypes == [.uscc])
        #expect(
            catalog.grants(for: "housing-construction", matterCode: "HC-PURCHASE-QUAL-001").map(\.0.code).sorted()
                == ["CIV-MARRIAGE", "NR-REAL-ESTATE", "PSB-HOUSEHOLD-REGISTRATION"])
    }

    @Test func relativePathsResolveAgainstTheConfigurationFolder() throws {
        let configuration = try ServiceConfiguration.decode(try packageFile("config/heyan.json"), file: "heyan.json")
        var absolute = configuration
        absolute.database = "/var/lib/heyan/heyan.sqlite"
        let resolved = absolute.resolvingPaths(relativeTo: "/etc/heyan")
        #expect(resolved.database == "/var/lib/heyan/heyan.sqlite")
        #expect(resolved.departments == "/etc/heyan/departments.json")
        #expect(resolved.catalog == "/etc/heyan/catalog.json")
        #expect(resolved.tls.certificate == "/etc/heyan/../certs/dev/server.pem")
        #expect(resolved.tls.privateKey == "/etc/heyan/../certs/dev/server.key")
        #expect(resolved.tls.clientCA == "/etc/heyan/../certs/dev/ca.pem")
        #expect(resolved.tls.crl == "/etc/heyan/../certs/dev/crl.pem")
        #expect(resolved.signing.certificate == "/etc/heyan/../certs/dev/signing.pem")
        #expect(resolved.signing.privateKey == "/etc/heyan/../certs/dev/signing.key")
        #expect(resolved.signing.chain == ["/etc/heyan/../certs/dev/ca.pem"])
        #expect(configuration.resolvingPaths(relativeTo: "config/").catalog == "config/catalog.json")
        #expect(configuration.resolvingPaths(relativeTo: "") == configuration)
    }

    /// Encoding and decoding again gives the same values: the models can be written back, for
    /// example by `POST /v1/catalog/changes`.
    @Test func catalogRoundTripsThroughJSON() throws {
        let departments = try exampleDepartments()
        let catalog = try Catalog.decode(
            try packageFile("config/catalog.json"), file: "catalog.json", departments: departments)
        let encoded = try JSONEncoderForTests.encode(catalog)
        #expect(try Catalog.decode(encoded, file: "round-trip.json", departments: departments) == catalog)
        let configuration = try ServiceConfiguration.decode(try packageFile("config/heyan.json"), file: "heyan.json")
        #expect(
            try ServiceConfiguration.decode(try JSONEncoderForTests.encode(configuration), file: "x") == configuration)
        #expect(try DepartmentDirectory.decode(try JSONEncoderForTests.encode(departments), file: "x") == departments)
    }
}
