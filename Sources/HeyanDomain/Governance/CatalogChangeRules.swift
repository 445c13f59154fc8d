import FoundationEssentials

/// An accepted `POST /v1/catalog/changes`: the next catalog and what to record about it.
public struct CatalogChangePlan: Sendable, Equatable {
    /// The new catalog, numbered one above the base.
    public var catalog: Catalog
    public var effectiveAt: Millis
    public var reason: String
    public var legalBasis: String
    /// In request order.
    public var changes: [(op: CatalogChangeOperation, code: String)]

    public var changedCodes: [String] { changes.map(\.code) }

    public static func == (lhs: Self, rhs: Self) -> Bool {
        lhs.catalog == rhs.catalog && lhs.effectiveAt == rhs.effectiveAt && lhs.reason == rhs.reason
            && lhs.legalBasis == rhs.legalBasis && lhs.changes.elementsEqual(rhs.changes) { $0 == $1 }
    }
}

/// What one change does to the catalog.
public enum CatalogChangeOperation: String, Sendable, CaseIterable {
    /// A new item (`item`: a whole catalog entry).
    case add
    /// Replaces some top-level fields of an item (`code`, `fields`: an object of catalog-entry
    /// fields; `null` removes an optional field).
    case amend
    /// The item is cancelled (`code`, `reason`): nobody may ask for it any more.
    case cancel
}

/// The rules of `POST /v1/catalog/changes`:
///
///     {"baseVersion"?: N, "effectiveAt"?: RFC 3339, "reason": "…", "legalBasis": "…",
///      "changes": [{"op": "add", "item": {…}},
///                  {"op": "amend", "code": "CIV-MARRIAGE", "fields": {"timeLimitWorkingDays": 2}},
///                  {"op": "cancel", "code": "PSB-KINSHIP", "reason": "直接取消"}]}
///
/// The resulting items are checked with the same rules as `catalog.json` at start
/// (``CertificateType/validationIssues(at:departments:)``), every problem reported with its path
/// in the request (`changes[0].item.owner`, `changes[1].fields.timeLimitWorkingDays`). A change
/// never takes effect in the past: `effectiveAt` earlier than now (less a minute of clock skew) is
/// refused, and it may not precede the effective time of the newest version (so versions take
/// effect in the order they are numbered). docs/catalog-governance.md explains the choices.
public enum CatalogChangeRules {
    static let fieldNames = ["baseVersion", "effectiveAt", "reason", "legalBasis", "changes"]
    public static let maximumReasonCharacters = 500
    public static let maximumLegalBasisCharacters = 500
    public static let maximumChanges = 200
    /// How far in the past `effectiveAt` may be (clock skew between the operator and heyan).
    public static let pastToleranceMillis: Millis = 60_000

    /// Checks the body against `latest` (the newest stored version, possibly not yet effective).
    public static func evaluate(
        body: [UInt8], latest: CatalogVersion, departments: DepartmentDirectory, now: Millis
    ) -> Result<CatalogChangePlan, Refusal> {
        let root: RequestObject
        switch RequestObject.parse(body) {
        case .success(let object): root = object
        case .failure(let refusal): return .failure(refusal)
        }
        var issues: [ValidationIssue] = []
        root.refuseUnknownFields(known: fieldNames, into: &issues)
        let reason = root.string("reason", into: &issues)
        let legalBasis = root.string("legalBasis", into: &issues)
        if let reason {
            TextRules.check(reason, at: "reason", maximum: maximumReasonCharacters, allowsLineBreaks: true, into: &issues)
        }
        if let legalBasis {
            TextRules.check(legalBasis, at: "legalBasis", maximum: maximumLegalBasisCharacters, into: &issues)
        }
        if let base = root["baseVersion"] {
            if case .number(let literal) = base, let number = Int(literal) {
                if number != latest.version {
                    return .failure(
                        Refusal(
                            status: 409, slug: "catalog-version-conflict", title: "Catalog version conflict",
                            detail: "The change was written against version \(number), but the newest is \(latest.version).",
                            extra: [("latestVersion", .int(Int64(latest.version)))]))
                }
            } else {
                issues.append(ValidationIssue(path: "baseVersion", message: "expected an integer, found \(base.foundDescription)"))
            }
        }
        var effectiveAt = now
        if let text = root.string("effectiveAt", required: false, into: &issues) {
            if let value = Timestamp.parse(text) {
                if value < now - pastToleranceMillis {
                    issues.append(
                        ValidationIssue(
                            path: "effectiveAt",
                            message: "must not be in the past: a verification already decided stays decided under its version"))
                } else if max(value, now) < latest.effectiveAt {
                    issues.append(
                        ValidationIssue(
                            path: "effectiveAt",
                            message: "must not be before \(Timestamp.rfc3339(latest.effectiveAt)), when version \(latest.version) takes effect"))
                }
                effectiveAt = max(value, now)
            } else {
                issues.append(ValidationIssue(path: "effectiveAt", message: "expected an RFC 3339 time such as 2026-11-23T09:00:00Z"))
            }
        }
        if effectiveAt < latest.effectiveAt { effectiveAt = latest.effectiveAt }

        var items = latest.catalog.items
        var changes: [(op: CatalogChangeOperation, code: String)] = []
        switch root["changes"] {
        case nil:
            issues.append(ValidationIssue(path: "changes", message: "missing field"))
        case .array(let elements)?:
            if elements.isEmpty { issues.append(ValidationIssue(path: "changes", message: "must list at least one change")) }
            if elements.count > maximumChanges {
                issues.append(ValidationIssue(path: "changes", message: "at most \(maximumChanges) changes at once"))
            }
            let cancelledOn = CalendarDate(daysSince1970: Int((effectiveAt / 1000 + Int64(CalendarDate.chinaStandardTimeOffset)) / 86_400))
            for (index, element) in elements.prefix(maximumChanges).enumerated() {
                let path = "changes[\(index)]"
                guard case .object(let fields) = element else {
                    issues.append(ValidationIssue(path: path, message: "expected an object, found \(element.foundDescription)"))
                    continue
                }
                let change = RequestObject(fields: fields, path: path)
                if let applied = apply(change, to: &items, cancelledOn: cancelledOn, departments: departments, into: &issues) {
                    if changes.contains(where: { $0.code == applied.code }) {
                        issues.append(
                            ValidationIssue(path: path, message: "'\(applied.code)' is changed twice in one request; send one change per item"))
                    }
                    changes.append(applied)
                }
            }
        case let other?:
            issues.append(ValidationIssue(path: "changes", message: "expected an array, found \(other.foundDescription)"))
        }
        guard issues.isEmpty, let reason, let legalBasis else { return .failure(.validationFailed(issues)) }

        let catalog = Catalog(version: latest.version + 1, items: items)
        // The items were checked one by one; this catches what only the whole list can show.
        let whole = catalog.validationIssues(departments: departments)
        guard whole.isEmpty else { return .failure(.validationFailed(whole)) }
        return .success(
            CatalogChangePlan(catalog: catalog, effectiveAt: effectiveAt, reason: reason, legalBasis: legalBasis, changes: changes))
    }

    /// Applies one change to `items`; returns what it did, or nil with issues.
    private static func apply(
        _ change: RequestObject, to items: inout [CertificateType], cancelledOn: CalendarDate,
        departments: DepartmentDirectory, into issues: inout [ValidationIssue]
    ) -> (op: CatalogChangeOperation, code: String)? {
        let path = change.path
        guard let opName = change.string("op", into: &issues) else { return nil }
        guard let op = CatalogChangeOperation(rawValue: opName) else {
            issues.append(
                ValidationIssue(
                    path: change.pathOf("op"),
                    message: "unknown value \(JSONSyntaxValue.string(opName).foundDescription); expected one of: 'add', 'amend', 'cancel'"))
            return nil
        }
        let before = issues.count
        switch op {
        case .add:
            change.refuseUnknownFields(known: ["op", "item"], into: &issues)
            guard let value = change["item"] else {
                issues.append(ValidationIssue(path: change.pathOf("item"), message: "missing field"))
                return nil
            }
            guard let item = decodeItem(value, at: change.pathOf("item"), into: &issues) else { return nil }
            if items.contains(where: { $0.code == item.code }) {
                issues.append(
                    ValidationIssue(
                        path: change.pathOf("item") + ".code",
                        message: "'\(item.code)' is already in the catalog; amend or cancel it instead"))
            }
            issues += item.validationIssues(at: change.pathOf("item"), departments: departments)
            guard issues.count == before else { return nil }
            items.append(item)
            return (op, item.code)

        case .amend:
            change.refuseUnknownFields(known: ["op", "code", "fields"], into: &issues)
            guard let code = change.string("code", into: &issues),
                let index = indexOf(code, in: items, at: change.pathOf("code"), into: &issues)
            else { return nil }
            guard let fields = change.object("fields", into: &issues) else { return nil }
            if fields.fields.isEmpty {
                issues.append(ValidationIssue(path: fields.path, message: "must change at least one field"))
                return nil
            }
            if let newCode = fields["code"], newCode != .string(code) {
                issues.append(
                    ValidationIssue(path: fields.pathOf("code"), message: "a code never changes; add a new item and cancel this one"))
                return nil
            }
            guard var merged = encodedFields(items[index]) else {
                issues.append(ValidationIssue(path: path, message: "the stored item could not be re-read"))
                return nil
            }
            for (name, value) in fields.fields {
                merged.removeAll { $0.0 == name }
                if value != .null { merged.append((name, value)) }
            }
            guard let item = decodeItem(.object(merged), at: fields.path, into: &issues) else { return nil }
            issues += item.validationIssues(at: fields.path, departments: departments)
            guard issues.count == before else { return nil }
            items[index] = item
            return (op, code)

        case .cancel:
            change.refuseUnknownFields(known: ["op", "code", "reason"], into: &issues)
            let code = change.string("code", into: &issues)
            let reason = change.string("reason", into: &issues)
            if let reason {
                TextRules.check(reason, at: change.pathOf("reason"), maximum: maximumReasonCharacters, into: &issues)
            }
            guard let code, let index = indexOf(code, in: items, at: change.pathOf("code"), into: &issues) else {
                return nil
            }
            if items[index].method == .cancelled {
                issues.append(ValidationIssue(path: change.pathOf("code"), message: "'\(code)' is already cancelled"))
            }
            guard issues.count == before, let reason else { return nil }
            var item = items[index]
            item.method = .cancelled
            item.requesters = []
            item.timeLimitWorkingDays = nil
            item.validityDays = nil
            item.fallback = nil
            item.commitment = nil
            item.cancellation = Cancellation(reason: reason, effectiveDate: cancelledOn)
            items[index] = item
            return (op, code)
        }
    }

    private static func indexOf(
        _ code: String, in items: [CertificateType], at path: String, into issues: inout [ValidationIssue]
    ) -> Int? {
        if let index = items.firstIndex(where: { $0.code == code }) { return index }
        issues.append(
            RequestObject.unknownNameIssue(code, path: path, known: items.map(\.code), what: "no such item in the catalog"))
        return nil
    }

    /// Decodes a catalog entry with the configuration decoder, its issue paths put below `path`.
    private static func decodeItem(
        _ value: JSONSyntaxValue, at path: String, into issues: inout [ValidationIssue]
    ) -> CertificateType? {
        guard case .object = value else {
            issues.append(ValidationIssue(path: path, message: "expected an object, found \(value.foundDescription)"))
            return nil
        }
        do {
            return try StrictJSON.decode(CertificateType.self, from: value.jsonBytes())
        } catch {
            let inner = error.path
            let joined = inner.isEmpty ? path : (inner.hasPrefix("[") ? path + inner : path + "." + inner)
            issues.append(ValidationIssue(path: joined, message: error.message))
            return nil
        }
    }

    /// The item's top-level fields as JSON, for merging an amendment.
    private static func encodedFields(_ item: CertificateType) -> [(String, JSONSyntaxValue)]? {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        guard let data = try? encoder.encode(item),
            case .object(let fields)? = try? JSONSyntax.parse(Array(data))
        else { return nil }
        return fields
    }
}

extension JSONSyntaxValue {
    /// The value as JSON text; numbers keep the literal they were written with.
    func jsonBytes() -> [UInt8] {
        var buffer: [UInt8] = []
        serialize(into: &buffer)
        return buffer
    }

    private func serialize(into buffer: inout [UInt8]) {
        switch self {
        case .null: buffer.append(contentsOf: "null".utf8)
        case .bool(let value): buffer.append(contentsOf: (value ? "true" : "false").utf8)
        case .number(let literal): buffer.append(contentsOf: literal.utf8)
        case .string(let text): JSONText.appendString(text, to: &buffer)
        case .array(let elements):
            buffer.append(UInt8(ascii: "["))
            for (index, element) in elements.enumerated() {
                if index > 0 { buffer.append(UInt8(ascii: ",")) }
                element.serialize(into: &buffer)
            }
            buffer.append(UInt8(ascii: "]"))
        case .object(let fields):
            buffer.append(UInt8(ascii: "{"))
            for (index, field) in fields.enumerated() {
                if index > 0 { buffer.append(UInt8(ascii: ",")) }
                JSONText.appendKey(field.0, to: &buffer)
                field.1.serialize(into: &buffer)
            }
            buffer.append(UInt8(ascii: "}"))
        }
    }
}
