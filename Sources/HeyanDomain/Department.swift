/// What a department may do in heyan. A department may hold several roles.
public enum Role: String, Codable, Sendable, CaseIterable {
    /// Asks for facts it needs for a public-service matter (用证部门).
    case requester
    /// Owns facts: answers verifications, shares records, issues attestations (出证部门).
    case owner
    /// Reads the audit log and statistics (审计).
    case auditor
    /// Runs the exchange: amends the catalog, revokes attestations, keeps the credit list.
    case `operator`

    public init(from decoder: any Decoder) throws { self = try decoder.decodeKeyword(Self.self) }
}

/// A name in Chinese (authoritative) and English.
public struct LocalizedName: Codable, Hashable, Sendable {
    public var zh: String
    public var en: String

    public init(zh: String, en: String) {
        self.zh = zh
        self.en = en
    }

    enum CodingKeys: String, CodingKey, CaseIterable { case zh, en }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.strictContainer(keyedBy: CodingKeys.self)
        zh = try container.decode(String.self, forKey: .zh)
        en = try container.decode(String.self, forKey: .en)
    }

    func issues(at path: String) -> [ValidationIssue] {
        var issues: [ValidationIssue] = []
        if zh.allSatisfy(\.isWhitespace) { issues.append(.init(path: path + ".zh", message: "must not be empty")) }
        if en.allSatisfy(\.isWhitespace) { issues.append(.init(path: path + ".en", message: "must not be empty")) }
        return issues
    }
}

/// A per-department token bucket: `requestsPerSecond` refill, at most `burst` at once.
public struct RateLimit: Codable, Hashable, Sendable {
    public var requestsPerSecond: Double
    public var burst: Int

    public init(requestsPerSecond: Double, burst: Int) {
        self.requestsPerSecond = requestsPerSecond
        self.burst = burst
    }

    enum CodingKeys: String, CodingKey, CaseIterable { case requestsPerSecond, burst }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.strictContainer(keyedBy: CodingKeys.self)
        requestsPerSecond = try container.decode(Double.self, forKey: .requestsPerSecond)
        burst = try container.decodeInteger(forKey: .burst)
    }
}

/// An organisation that holds a client certificate with SAN URI `urn:heyan:dept:<code>`.
public struct Department: Codable, Hashable, Sendable {
    /// Lowercase letters, digits and single inner hyphens: `civil-affairs`.
    public var code: String
    public var name: LocalizedName
    public var roles: [Role]
    /// Overrides the service's default per-department limit when present.
    public var rateLimit: RateLimit?

    public init(code: String, name: LocalizedName, roles: [Role], rateLimit: RateLimit? = nil) {
        self.code = code
        self.name = name
        self.roles = roles
        self.rateLimit = rateLimit
    }

    public func has(_ role: Role) -> Bool { roles.contains(role) }

    enum CodingKeys: String, CodingKey, CaseIterable { case code, name, roles, rateLimit }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.strictContainer(keyedBy: CodingKeys.self)
        code = try container.decode(String.self, forKey: .code)
        name = try container.decode(LocalizedName.self, forKey: .name)
        roles = try container.decode([Role].self, forKey: .roles)
        rateLimit = try container.decodeStrictIfPresent(RateLimit.self, forKey: .rateLimit)
    }

    func issues(at path: String) -> [ValidationIssue] {
        var issues: [ValidationIssue] = []
        if !CodeSyntax.isDepartmentCode(code) {
            issues.append(
                .init(
                    path: path + ".code",
                    message: "'\(code)' is not a department code: \(CodeSyntax.departmentCodeRule)"))
        }
        issues += name.issues(at: path + ".name")
        if roles.isEmpty { issues.append(.init(path: path + ".roles", message: "must name at least one role")) }
        for (index, role) in roles.enumerated() where roles[..<index].contains(role) {
            issues.append(.init(path: path + ".roles[\(index)]", message: "duplicate role '\(role.rawValue)'"))
        }
        if let rateLimit {
            if !(rateLimit.requestsPerSecond > 0 && rateLimit.requestsPerSecond.isFinite) {
                issues.append(.init(path: path + ".rateLimit.requestsPerSecond", message: "must be greater than 0"))
            }
            if rateLimit.burst < 1 {
                issues.append(.init(path: path + ".rateLimit.burst", message: "must be at least 1"))
            }
        }
        return issues
    }
}

/// The departments heyan knows (`departments.json`), looked up by code.
public struct DepartmentDirectory: Codable, Hashable, Sendable {
    /// In file order.
    public let departments: [Department]
    private let indexByCode: [String: Int]

    public init(departments: [Department]) {
        self.departments = departments
        var index: [String: Int] = [:]
        for (offset, department) in departments.enumerated() where index[department.code] == nil {
            index[department.code] = offset
        }
        indexByCode = index
    }

    /// The department with this code, if any.
    public subscript(code: String) -> Department? { indexByCode[code].map { departments[$0] } }

    /// Every problem with the directory: code syntax, duplicates, empty names, roles.
    public func validationIssues() -> [ValidationIssue] {
        var issues: [ValidationIssue] = []
        var seen: Set<String> = []
        for (index, department) in departments.enumerated() {
            let path = "departments[\(index)]"
            issues += department.issues(at: path)
            if !seen.insert(department.code).inserted {
                issues.append(.init(path: path + ".code", message: "duplicate department code '\(department.code)'"))
            }
        }
        return issues
    }

    /// Decodes and validates `departments.json`.
    ///
    /// - Parameters:
    ///   - bytes: the file's contents.
    ///   - file: the name used in error messages.
    /// - Throws: ``ConfigurationError`` naming the file, the field and the problem.
    public static func decode(_ bytes: [UInt8], file: String) throws(ConfigurationError) -> DepartmentDirectory {
        let directory: DepartmentDirectory
        do {
            directory = try StrictJSON.decode(DepartmentDirectory.self, from: bytes)
        } catch {
            throw ConfigurationError(file: file, issues: [error])
        }
        let issues = directory.validationIssues()
        guard issues.isEmpty else { throw ConfigurationError(file: file, issues: issues) }
        return directory
    }

    enum CodingKeys: String, CodingKey, CaseIterable { case departments }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.strictContainer(keyedBy: CodingKeys.self, ignoring: ["$schema"])
        self.init(departments: try container.decode([Department].self, forKey: .departments))
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(departments, forKey: .departments)
    }

    public static func == (lhs: Self, rhs: Self) -> Bool { lhs.departments == rhs.departments }
    public func hash(into hasher: inout Hasher) { hasher.combine(departments) }
}

/// The spelling rules for codes, shared by the decoder and the JSON Schemas in `schemas/`.
public enum CodeSyntax {
    public static let departmentCodeRule =
        "1-64 lowercase letters and digits, single hyphens between them"
    public static let certificateTypeCodeRule =
        "1-64 uppercase letters and digits, single hyphens between them"
    public static let matterCodeRule =
        "1-64 letters, digits, '.', '_' or '-', starting with a letter or digit"
    public static let claimNameRule = "1-64 ASCII letters, digits or '_', starting with a letter"
    public static let clerkIDRule =
        "1-64 letters, digits, '.', '_' or '-', starting with a letter or digit"

    /// `^[a-z0-9]+(-[a-z0-9]+)*$`, at most 64 characters.
    public static func isDepartmentCode(_ text: String) -> Bool {
        isHyphenated(text) { ("a"..."z").contains($0) || ("0"..."9").contains($0) }
    }

    /// `^[A-Z0-9]+(-[A-Z0-9]+)*$`, at most 64 characters.
    public static func isCertificateTypeCode(_ text: String) -> Bool {
        isHyphenated(text) { ("A"..."Z").contains($0) || ("0"..."9").contains($0) }
    }

    /// `^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$`.
    public static func isMatterCode(_ text: String) -> Bool {
        let scalars = Array(text.unicodeScalars)
        guard let first = scalars.first, scalars.count <= 64, isASCIIAlphanumeric(first) else { return false }
        return scalars.allSatisfy { isASCIIAlphanumeric($0) || $0 == "." || $0 == "_" || $0 == "-" }
    }

    /// A clerk's ID within its department (经办人工号; docs/console.md, "Clerks"):
    /// `^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$`, the spelling of a matter code.
    public static func isClerkID(_ text: String) -> Bool { isMatterCode(text) }

    /// `^[A-Za-z][A-Za-z0-9_]{0,63}$`.
    public static func isClaimName(_ text: String) -> Bool {
        let scalars = Array(text.unicodeScalars)
        guard let first = scalars.first, scalars.count <= 64, first.isASCII, first.properties.isAlphabetic
        else { return false }
        return scalars.allSatisfy { isASCIIAlphanumeric($0) || $0 == "_" }
    }

    private static func isASCIIAlphanumeric(_ scalar: Unicode.Scalar) -> Bool {
        ("a"..."z").contains(scalar) || ("A"..."Z").contains(scalar) || ("0"..."9").contains(scalar)
    }

    private static func isHyphenated(_ text: String, _ isWordCharacter: (Unicode.Scalar) -> Bool) -> Bool {
        let scalars = Array(text.unicodeScalars)
        guard !scalars.isEmpty, scalars.count <= 64, scalars.first != "-", scalars.last != "-" else { return false }
        for (index, scalar) in scalars.enumerated() {
            if scalar == "-" {
                if scalars[index - 1] == "-" { return false }
            } else if !isWordCharacter(scalar) {
                return false
            }
        }
        return true
    }
}
