import Foundation
import HeyanDomain
import Testing

/// The schemas repeat the decoder's keywords and code patterns; these tests keep the two equal.
@Suite struct SchemaAgreementTests {
    static func schema(_ path: String) throws -> [String: Any] {
        try #require(try JSONSerialization.jsonObject(with: Data(try packageFile(path))) as? [String: Any])
    }

    /// Follows object keys through a parsed schema.
    static func value(_ root: [String: Any], _ keys: String...) -> Any? {
        var current: Any? = root
        for key in keys { current = (current as? [String: Any])?[key] }
        return current
    }

    static func enumeration(_ root: [String: Any], _ keys: String...) -> [String]? {
        var current: Any? = root
        for key in keys { current = (current as? [String: Any])?[key] }
        return (current as? [String: Any])?["enum"] as? [String]
    }

    @Test func keywordsMatchTheSwiftEnumerations() throws {
        let catalog = try Self.schema("schemas/catalog.schema.json")
        let item = "certificateType"
        #expect(
            Self.enumeration(catalog, "$defs", item, "properties", "method")
                == VerificationMethod.allCases.map(\.rawValue))
        #expect(
            Self.enumeration(catalog, "$defs", item, "properties", "category")
                == CertificateCategory.allCases.map(\.rawValue))
        #expect(
            Self.enumeration(catalog, "$defs", item, "properties", "fallback")
                == DataSharingFallback.allCases.map(\.rawValue))
        #expect(
            Self.enumeration(catalog, "$defs", item, "properties", "subjectTypes", "items")
                == SubjectIDType.allCases.map(\.rawValue))
        #expect(Self.enumeration(catalog, "$defs", "claim", "properties", "type") == ClaimType.allCases.map(\.rawValue))

        let departments = try Self.schema("schemas/departments.schema.json")
        #expect(
            Self.enumeration(departments, "$defs", "department", "properties", "roles", "items")
                == Role.allCases.map(\.rawValue))

        let service = try Self.schema("schemas/heyan.config.schema.json")
        #expect(
            Self.enumeration(service, "properties", "log", "properties", "level") == LogLevel.allCases.map(\.rawValue))
    }

    @Test func defaultLimitsMatch() throws {
        let service = try Self.schema("schemas/heyan.config.schema.json")
        let limits = try #require(Self.value(service, "properties", "limits", "properties") as? [String: Any])
        let encoded = try #require(
            try JSONSerialization.jsonObject(with: Data(try JSONEncoderForTests.encode(ServiceLimits())))
                as? [String: Int])
        #expect(Set(limits.keys) == Set(encoded.keys))
        for (name, value) in encoded {
            #expect((limits[name] as? [String: Any])?["default"] as? Int == value, "limits.\(name)")
        }
    }

    /// Strings on both sides of each rule, judged by the Swift check and by the schema's pattern.
    static let samples = [
        "civil-affairs", "hrss", "a", "9", "a-b-c", "-a", "a-", "a--b", "Civil", "civil_affairs", "民政", "a b", "",
        "CIV-MARRIAGE", "PSB-NO-CRIMINAL-RECORD", "CIV--X", "civ-marriage", "X1", "HF-WITHDRAW-001",
        "11330100002494891X4000117101001",
        "hf.withdraw_1", ".x", "_x", "maritalStatus", "has_record", "1abc", "abc def", "ａ",
        String(repeating: "a", count: 64),
        String(repeating: "a", count: 65), String(repeating: "A", count: 65),
    ]

    @Test(arguments: [
        ("departmentCode", CodeSyntax.isDepartmentCode as @Sendable (String) -> Bool),
        ("matterCode", CodeSyntax.isMatterCode),
        ("claimName", CodeSyntax.isClaimName),
    ])
    func patternsAgree(_ definition: String, _ check: @Sendable (String) -> Bool) throws {
        let catalog = try Self.schema("schemas/catalog.schema.json")
        let rule = try #require(Self.value(catalog, "$defs", definition) as? [String: Any])
        let regex = try NSRegularExpression(pattern: try #require(rule["pattern"] as? String))
        let maximum = rule["maxLength"] as? Int ?? Int.max
        for sample in Self.samples {
            let range = NSRange(sample.startIndex..., in: sample)
            let schemaAccepts = regex.firstMatch(in: sample, range: range) != nil && sample.count <= maximum
            #expect(schemaAccepts == check(sample), "\(definition): '\(sample)'")
        }
    }

    @Test func certificateTypeCodePatternAgrees() throws {
        let catalog = try Self.schema("schemas/catalog.schema.json")
        let rule = try #require(Self.value(catalog, "$defs", "certificateType", "properties", "code") as? [String: Any])
        let regex = try NSRegularExpression(pattern: try #require(rule["pattern"] as? String))
        for sample in Self.samples {
            let schemaAccepts =
                regex.firstMatch(in: sample, range: NSRange(sample.startIndex..., in: sample)) != nil
                && sample.count <= (rule["maxLength"] as? Int ?? Int.max)
            #expect(schemaAccepts == CodeSyntax.isCertificateTypeCode(sample), "'\(sample)'")
        }
    }

    @Test(arguments: [
        "127.0.0.1:8443", "[::1]:8443", "0.0.0.0:1", "host.example:65535", "localhost:65536", "localhost:0", "localhost:00",
        "localhost:08443", "localhost", ":8443", "::1:8443", "[::1]8443", "[]:80", "a b:80", "[zz]:80", "host:-1",
    ])
    func listenPatternAgrees(_ sample: String) throws {
        let service = try Self.schema("schemas/heyan.config.schema.json")
        let pattern = try #require(Self.value(service, "properties", "listen", "pattern") as? String)
        let regex = try NSRegularExpression(pattern: pattern)
        let schemaAccepts = regex.firstMatch(in: sample, range: NSRange(sample.startIndex..., in: sample)) != nil
        let decoderAccepts = (try? ListenAddress(parsing: sample)) != nil
        #expect(schemaAccepts == decoderAccepts)
    }
}
