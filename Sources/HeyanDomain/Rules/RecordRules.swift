/// The rules of the routes where an owner shares the facts of a `data-sharing` type (数据共享):
/// `PUT /v1/records/{type}/{subjectId}` with `{"claims": {...}}`, `POST /v1/records:batch` with
/// `{"records": [{"certificateType", "subjectId", "claims"}]}`, and `DELETE
/// /v1/records/{type}/{subjectId}` (``authorize(certificateType:caller:catalog:)`` only).
///
/// Order for one record: unknown type → 404 `not-found`; the caller is not the type's owner →
/// 403 `not-owner`; the type is not `data-sharing` → 409 `not-data-sharing` (the catalog, not the
/// request, is in the way: the same request succeeds once the type is shared); then the body: 400
/// `malformed-request`, 422 `validation-failed` for the shape, `subjectId` and every claim (all
/// claims of the schema must be present: a record is complete).
///
/// A batch is all or nothing: 400, then 422 for the shape (1–10,000 records, unknown types at
/// `records[i].certificateType`), 403 for the first record of a type the caller does not own, 409
/// for the first of a type that is not `data-sharing`, then 422 for every value
/// (`records[i].subjectId`, `records[i].claims.X`, a subject repeated for the same type), at most
/// ``maximumListedIssues`` listed.
public enum RecordRules {
    public static let maximumBatchRecords = 10_000
    /// A 422 for a batch lists at most this many problems (the detail gives the total).
    public static let maximumListedIssues = 100

    /// The type, if `caller` may share or withdraw records of it.
    public static func authorize(certificateType code: String, caller: Department, catalog: Catalog)
        -> Result<CertificateType, Refusal>
    {
        guard let type = catalog[code] else { return .failure(.notFound("No certificate type '\(code)' in the catalog.")) }
        if let refusal = refusal(type: type, caller: caller, at: nil) { return .failure(refusal) }
        return .success(type)
    }

    /// `PUT /v1/records/{type}/{subjectId}`.
    ///
    /// - Parameters:
    ///   - today: the date in China Standard Time, for the birth date in a resident ID.
    ///   - now: the record's `updatedAt`.
    public static func put(
        body: [UInt8], certificateType code: String, subjectID: String, caller: Department, catalog: Catalog,
        today: CalendarDate, now: Millis
    ) -> Result<SharedRecord, Refusal> {
        let type: CertificateType
        switch authorize(certificateType: code, caller: caller, catalog: catalog) {
        case .success(let found): type = found
        case .failure(let refusal): return .failure(refusal)
        }
        let root: RequestObject
        switch RequestObject.parse(body) {
        case .success(let object): root = object
        case .failure(let refusal): return .failure(refusal)
        }
        var issues: [ValidationIssue] = []
        root.refuseUnknownFields(known: ["claims"], into: &issues)
        let claimsObject = root.object("claims", into: &issues)
        if let issue = subjectIDIssue(subjectID, for: type, at: "subjectId", today: today) { issues.append(issue) }
        var claims: ClaimSet = [:]
        if let claimsObject {
            claims = ClaimRules.claims(claimsObject, of: type, requireAll: true, into: &issues)
        }
        guard issues.isEmpty else { return .failure(.validationFailed(issues)) }
        return .success(
            SharedRecord(certificateType: type.code, subjectID: subjectID, owner: caller.code, claims: claims, updatedAt: now))
    }

    /// `POST /v1/records:batch`: every record valid, or none stored.
    public static func batch(body: [UInt8], caller: Department, catalog: Catalog, today: CalendarDate, now: Millis)
        -> Result<[SharedRecord], Refusal>
    {
        let root: RequestObject
        switch RequestObject.parse(body) {
        case .success(let object): root = object
        case .failure(let refusal): return .failure(refusal)
        }

        // Shape.
        var issues: [ValidationIssue] = []
        root.refuseUnknownFields(known: ["records"], into: &issues)
        var elements: [JSONSyntaxValue] = []
        switch root["records"] {
        case nil:
            issues.append(ValidationIssue(path: "records", message: "missing field"))
        case .array(let array)?:
            elements = array
            if array.isEmpty {
                issues.append(ValidationIssue(path: "records", message: "must hold at least one record"))
            } else if array.count > maximumBatchRecords {
                issues.append(
                    ValidationIssue(
                        path: "records", message: "too many records: \(array.count), at most \(maximumBatchRecords)"))
                elements = []
            }
        case let other?:
            issues.append(ValidationIssue(path: "records", message: "expected an array, found \(other.foundDescription)"))
        }
        struct Entry {
            var type: CertificateType
            var subjectID: String
            var claims: RequestObject
            var path: String
        }
        var entries: [Entry] = []
        entries.reserveCapacity(elements.count)
        for (index, element) in elements.enumerated() {
            let path = "records[\(index)]"
            guard case .object(let fields) = element else {
                issues.append(ValidationIssue(path: path, message: "expected an object, found \(element.foundDescription)"))
                continue
            }
            let record = RequestObject(fields: fields, path: path)
            record.refuseUnknownFields(known: ["certificateType", "subjectId", "claims"], into: &issues)
            let code = record.string("certificateType", into: &issues)
            let subjectID = record.string("subjectId", into: &issues)
            let claims = record.object("claims", into: &issues)
            var type: CertificateType?
            if let code {
                type = catalog[code]
                if type == nil {
                    issues.append(ValidationIssue(path: path + ".certificateType", message: "unknown certificate type '\(code)'"))
                }
            }
            if let type, let subjectID, let claims {
                entries.append(Entry(type: type, subjectID: subjectID, claims: claims, path: path))
            }
        }
        guard issues.isEmpty else { return .failure(listing(issues)) }

        // Authorization, for the whole batch.
        for entry in entries {
            if let refusal = refusal(type: entry.type, caller: caller, at: entry.path) { return .failure(refusal) }
        }

        // Values.
        var records: [SharedRecord] = []
        records.reserveCapacity(entries.count)
        var firstIndex: [String: Int] = [:]
        firstIndex.reserveCapacity(entries.count)
        for (index, entry) in entries.enumerated() {
            if let issue = subjectIDIssue(entry.subjectID, for: entry.type, at: entry.path + ".subjectId", today: today) {
                issues.append(issue)
            } else {
                let key = entry.type.code + "\u{0}" + entry.subjectID
                if let first = firstIndex[key] {
                    issues.append(
                        ValidationIssue(
                            path: entry.path + ".subjectId", message: "the same subject and type as records[\(first)]; send each once"))
                } else {
                    firstIndex[key] = index
                }
            }
            let claims = ClaimRules.claims(entry.claims, of: entry.type, requireAll: true, into: &issues)
            if issues.isEmpty {
                records.append(
                    SharedRecord(
                        certificateType: entry.type.code, subjectID: entry.subjectID, owner: caller.code,
                        claims: claims, updatedAt: now))
            }
        }
        guard issues.isEmpty else { return .failure(listing(issues)) }
        return .success(records)
    }

    /// 403 or 409 when `caller` may not share records of `type`.
    static func refusal(type: CertificateType, caller: Department, at path: String?) -> Refusal? {
        guard type.owner == caller.code else {
            return .notOwner(department: caller.code, certificateType: type.code, owner: type.owner, at: path)
        }
        guard type.method == .dataSharing else { return .notDataSharing(type, at: path) }
        return nil
    }

    /// `nil` when `subjectID` is valid for one of the type's subject types.
    static func subjectIDIssue(
        _ subjectID: String, for type: CertificateType, at path: @autoclosure () -> String, today: CalendarDate
    )
        -> ValidationIssue?
    {
        var reasons: [String] = []
        for idType in type.subjectTypes {
            do {
                _ = try SubjectIdentifier(validating: subjectID, as: idType, today: today)
                return nil
            } catch {
                reasons.append(type.subjectTypes.count == 1 ? error.message : "as \(idType.rawValue): \(error.message)")
            }
        }
        return ValidationIssue(
            path: path(), message: reasons.isEmpty ? "the type names no subject types" : reasons.joined(separator: "; "))
    }

    static func listing(_ issues: [ValidationIssue]) -> Refusal {
        guard issues.count > maximumListedIssues else { return .validationFailed(issues) }
        return .validationFailed(
            Array(issues.prefix(maximumListedIssues)),
            detail:
                "The request is well-formed but \(issues.count) problems were found; the first \(maximumListedIssues) are listed. Nothing was stored."
        )
    }
}
