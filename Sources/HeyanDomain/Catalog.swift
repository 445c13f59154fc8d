/// The published list of certificate types (证明事项清单, `catalog.json`), looked up by code.
/// Whatever is not listed may not be demanded (清单之外无证明).
public struct Catalog: Codable, Hashable, Sendable {
    /// Increases with every published change.
    public let version: Int
    /// In file order.
    public let items: [CertificateType]
    private let indexByCode: [String: Int]

    public init(version: Int, items: [CertificateType]) {
        self.version = version
        self.items = items
        var index: [String: Int] = [:]
        for (offset, item) in items.enumerated() where index[item.code] == nil {
            index[item.code] = offset
        }
        indexByCode = index
    }

    /// The certificate type with this code, if listed.
    public subscript(code: String) -> CertificateType? { indexByCode[code].map { items[$0] } }

    /// The grant that lets `department` ask about `certificateType` for `matterCode`, or `nil` when
    /// the type is unknown or the catalog does not allow it.
    public func grant(for department: String, matterCode: String, certificateType: String) -> RequesterGrant? {
        self[certificateType]?.grant(for: department, matterCode: matterCode)
    }

    /// Every certificate type `department` may ask about for `matterCode`.
    public func grants(for department: String, matterCode: String) -> [(CertificateType, RequesterGrant)] {
        items.compactMap { item in item.grant(for: department, matterCode: matterCode).map { (item, $0) } }
    }

    /// Decodes and validates `catalog.json` against the department directory.
    ///
    /// - Throws: ``ConfigurationError`` naming the file, the field and the problem, such as
    ///   `catalog.json: items[2].owner: unknown department 'civil-afairs'`.
    public static func decode(_ bytes: [UInt8], file: String, departments: DepartmentDirectory)
        throws(ConfigurationError) -> Catalog
    {
        let catalog: Catalog
        do {
            catalog = try StrictJSON.decode(Catalog.self, from: bytes)
        } catch {
            throw ConfigurationError(file: file, issues: [error])
        }
        let issues = catalog.validationIssues(departments: departments)
        guard issues.isEmpty else { throw ConfigurationError(file: file, issues: issues) }
        return catalog
    }

    /// Every problem with the catalog: code syntax, duplicates, references to departments and
    /// their roles, claims, and the fields each method requires or forbids.
    public func validationIssues(departments: DepartmentDirectory) -> [ValidationIssue] {
        var issues: [ValidationIssue] = []
        if version < 1 { issues.append(.init(path: "version", message: "must be at least 1")) }
        var seen: Set<String> = []
        for (index, item) in items.enumerated() {
            let path = "items[\(index)]"
            if !seen.insert(item.code).inserted {
                issues.append(.init(path: path + ".code", message: "duplicate certificate type code '\(item.code)'"))
            }
            issues += item.validationIssues(at: path, departments: departments)
        }
        return issues
    }

    enum CodingKeys: String, CodingKey, CaseIterable { case version, items }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.strictContainer(keyedBy: CodingKeys.self, ignoring: ["$schema"])
        self.init(
            version: try container.decodeInteger(forKey: .version),
            items: try container.decode([CertificateType].self, forKey: .items))
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(version, forKey: .version)
        try container.encode(items, forKey: .items)
    }

    public static func == (lhs: Self, rhs: Self) -> Bool { lhs.version == rhs.version && lhs.items == rhs.items }
    public func hash(into hasher: inout Hasher) {
        hasher.combine(version)
        hasher.combine(items)
    }
}

extension CertificateType {
    /// Problems with this entry, with paths below `path` (such as `items[2]`).
    public func validationIssues(at path: String, departments: DepartmentDirectory) -> [ValidationIssue] {
        var issues: [ValidationIssue] = []
        func add(_ field: String, _ message: String) {
            issues.append(.init(path: field.isEmpty ? path : "\(path).\(field)", message: message))
        }
        let methodName = "'\(method.rawValue)'"

        if !CodeSyntax.isCertificateTypeCode(code) {
            add("code", "'\(code)' is not a certificate type code: \(CodeSyntax.certificateTypeCodeRule)")
        }
        issues += name.issues(at: path + ".name")
        if legalBasis.allSatisfy(\.isWhitespace) { add("legalBasis", "must not be empty") }

        // Owner.
        if let owner {
            if let department = departments[owner] {
                if !department.has(.owner) { add("owner", "department '\(owner)' does not have the role 'owner'") }
            } else {
                add("owner", "unknown department '\(owner)'")
            }
        } else if method != .cancelled {
            add("owner", "missing field (only a cancelled type may have no owner)")
        }

        // Subjects.
        if subjectTypes.isEmpty { add("subjectTypes", "must name at least one subject type") }
        for (index, type) in subjectTypes.enumerated() where subjectTypes[..<index].contains(type) {
            add("subjectTypes[\(index)]", "duplicate subject type '\(type.rawValue)'")
        }

        // Claims.
        if claims.isEmpty && method != .cancelled { add("claims", "must define at least one claim") }
        for (claimName, schema) in claims.sorted(by: { $0.key < $1.key }) {
            let claimPath = JSONPath.appending(claimName, to: "claims")
            if !CodeSyntax.isClaimName(claimName) {
                add(claimPath, "'\(claimName)' is not a claim name: \(CodeSyntax.claimNameRule)")
            }
            if let allowed = schema.allowedValues {
                if schema.type != .string {
                    add(claimPath + ".enum", "only a claim of type 'string' may list allowed values")
                } else if allowed.isEmpty {
                    add(claimPath + ".enum", "must list at least one value")
                }
                for (index, value) in allowed.enumerated() where allowed[..<index].contains(value) {
                    add(claimPath + ".enum[\(index)]", "duplicate value '\(value)'")
                }
            }
        }

        // Requesters.
        if method == .cancelled && !requesters.isEmpty {
            add("requesters", "a cancelled type takes no requesters: nobody may ask for it")
        }
        var grantedPairs: Set<[String]> = []
        for (grantIndex, grant) in requesters.enumerated() {
            let grantPath = "requesters[\(grantIndex)]"
            if let department = departments[grant.department] {
                if !department.has(.requester) {
                    add(
                        grantPath + ".department", "department '\(grant.department)' does not have the role 'requester'"
                    )
                }
            } else {
                add(grantPath + ".department", "unknown department '\(grant.department)'")
            }
            if grant.matterCodes.isEmpty { add(grantPath + ".matterCodes", "must list at least one matter code") }
            for (index, matter) in grant.matterCodes.enumerated() {
                if !CodeSyntax.isMatterCode(matter) {
                    add(
                        grantPath + ".matterCodes[\(index)]",
                        "'\(matter)' is not a matter code: \(CodeSyntax.matterCodeRule)")
                } else if !grantedPairs.insert([grant.department, matter]).inserted {
                    add(
                        grantPath + ".matterCodes[\(index)]",
                        "matter '\(matter)' is already granted to '\(grant.department)'")
                }
            }
            for (index, claimName) in grant.disclose.enumerated() {
                if claims[claimName] == nil {
                    add(grantPath + ".disclose[\(index)]", "'\(claimName)' is not a claim of this type")
                } else if grant.disclose[..<index].contains(claimName) {
                    add(grantPath + ".disclose[\(index)]", "duplicate claim '\(claimName)'")
                }
            }
        }

        // Fields that belong to one method.
        let ownerAnswers = method == .departmentVerification || (method == .dataSharing && fallback == .queue)
        if let days = timeLimitWorkingDays {
            if !ownerAnswers {
                add(
                    "timeLimitWorkingDays",
                    "only for 'department-verification' or 'data-sharing' with fallback 'queue', not \(methodName)")
            } else if !CertificateType.timeLimitRange.contains(days) {
                add("timeLimitWorkingDays", "must be between 1 and \(CertificateType.timeLimitRange.upperBound)")
            }
        } else if ownerAnswers {
            add(
                "timeLimitWorkingDays",
                "missing field (required for \(methodName)\(method == .dataSharing ? " with fallback 'queue'" : ""))")
        }
        if let days = validityDays {
            if method == .cancelled {
                add("validityDays", "a cancelled type issues no attestations")
            } else if !CertificateType.validityRange.contains(days) {
                add("validityDays", "must be between 1 and \(CertificateType.validityRange.upperBound)")
            }
        } else if method != .cancelled {
            add("validityDays", "missing field (the lifetime of an attestation)")
        }
        if fallback != nil && method != .dataSharing {
            add("fallback", "only for 'data-sharing', not \(methodName)")
        }
        if let cancellation {
            if method != .cancelled {
                add("cancellation", "only for 'cancelled', not \(methodName)")
            } else if cancellation.reason.allSatisfy(\.isWhitespace) {
                add("cancellation.reason", "must not be empty")
            }
        } else if method == .cancelled {
            add("cancellation", "missing field (required for 'cancelled': the reason and effective date)")
        }
        if let commitment {
            if method != .commitment {
                add("commitment", "only for 'commitment', not \(methodName)")
            } else {
                if !(0...1).contains(commitment.spotCheckRate) {
                    add("commitment.spotCheckRate", "must be between 0 and 1")
                }
                if !CertificateType.spotCheckDaysRange.contains(commitment.spotCheckWithinDays) {
                    add(
                        "commitment.spotCheckWithinDays",
                        "must be between 1 and \(CertificateType.spotCheckDaysRange.upperBound)")
                }
                let template = commitment.template
                for (field, text) in [
                    ("mustProve", template.mustProve), ("legalBasis", template.legalBasis),
                    ("obligation", template.obligation), ("liability", template.liability),
                ] where text.allSatisfy(\.isWhitespace) {
                    add("commitment.template.\(field)", "must not be empty")
                }
            }
        }
        return issues
    }
}
