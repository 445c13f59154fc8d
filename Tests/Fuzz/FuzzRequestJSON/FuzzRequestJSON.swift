import FoundationEssentials
import HeyanDomain

#if canImport(Glibc)
import Glibc
#endif

/// libFuzzer target for the JSON decoding of every request body (docs/fuzzing.md): the same rule functions the
/// routes call, with the example configuration (`config/`, or `$HEYAN_FUZZ_CONFIG_DIR`) read once at start.
///
/// Input: byte 0 picks the decoder (and byte 1 the caller or path parameters); the rest is the body.
/// Checked: a refusal has a status the API documents, a 4xx; its problem body (which echoes client-supplied
/// field names and values) serializes to valid JSON; a success satisfies the limits the rules promise.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzRequestJSON(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    guard size >= 2 else { return 0 }
    let selector = data[0]
    let variant = Int(data[1])
    let body = Array(UnsafeBufferPointer(start: data + 2, count: size - 2))
    let fixture = Fixture.shared
    let today = CalendarDate(year: 2026, month: 1, day: 15)!

    switch selector % 5 {
    case 0:  // POST /v1/verifications
        let requesters = ["housing-fund", "hrss", "public-security", "civil-affairs", "audit-office"]
        let requester = fixture.departments[requesters[variant % requesters.count]]!
        switch VerificationRequestRules.evaluate(
            body: body, requester: requester, catalog: fixture.catalog, today: today)
        {
        case .success(let draft):
            if draft.claims.isEmpty { fatalError("a verification draft without claims") }
            checkRoundTrip(draft.claims)
            if draft.purpose.unicodeScalars.count > VerificationRequestRules.maximumPurposeCharacters {
                fatalError("purpose over the limit passed")
            }
        case .failure(let refusal): check(refusal)
        }

    case 1:  // POST /v1/queue/{id}/answer
        let verification = fixture.queuedVerifications[variant % fixture.queuedVerifications.count]
        switch OwnerAnswerRules.evaluate(
            body: body, verification: verification, certificateType: fixture.catalog[verification.certificateType]!)
        {
        case .success(let draft):
            if draft.leaseToken.isEmpty { fatalError("empty lease token passed") }
            if draft.outcome == .cannotDetermine && !draft.disclosed.isEmpty {
                fatalError("disclosure with cannot-determine passed")
            }
            for name in draft.disclosed.keys where verification.claims[name] == nil {
                fatalError("disclosed a claim the requester did not state: \(name)")
            }
        case .failure(let refusal): check(refusal)
        }

    case 2:  // PUT /v1/records/{type}/{subjectId}
        let (type, subjectID, owner) = fixture.recordTargets[variant % fixture.recordTargets.count]
        switch RecordRules.put(
            body: body, certificateType: type, subjectID: subjectID, caller: fixture.departments[owner]!,
            catalog: fixture.catalog, today: today, now: 1_768_435_200_000)
        {
        case .success(let record):
            if record.owner != owner || record.certificateType != type { fatalError("record \(record)") }
            checkRoundTrip(record.claims)
        case .failure(let refusal): check(refusal)
        }

    case 3:  // POST /v1/records:batch
        let owners = ["natural-resources", "market-regulation", "public-security", "housing-fund"]
        let caller = fixture.departments[owners[variant % owners.count]]!
        switch RecordRules.batch(
            body: body, caller: caller, catalog: fixture.catalog, today: today, now: 1_768_435_200_000)
        {
        case .success(let records):
            if records.isEmpty || records.count > RecordRules.maximumBatchRecords { fatalError("\(records.count) records") }
            for record in records {
                if record.owner != caller.code { fatalError("record of another owner") }
                checkRoundTrip(record.claims)
            }
        case .failure(let refusal): check(refusal)
        }

    default:  // POST /v1/attestations/{id}/revoke
        switch RevocationRules.evaluate(body: body) {
        case .success(let reason):
            if reason.unicodeScalars.count > RevocationRules.maximumReasonCharacters { fatalError("reason too long") }
        case .failure(let refusal): check(refusal)
        }
    }
    return 0
}

/// Claims are stored as their canonical JSON and read back: the two must agree.
private func checkRoundTrip(_ claims: ClaimSet) {
    let bytes = claims.canonicalJSON.jsonBytes()
    guard let back = try? ClaimSet.decode(canonical: bytes), back == claims else {
        fatalError("claims do not survive storage: \(claims) -> \(String(decoding: bytes, as: UTF8.self))")
    }
}

/// A refusal is a documented 4xx whose problem body is valid JSON.
private func check(_ refusal: Refusal) {
    guard [400, 403, 404, 409, 410, 413, 422].contains(refusal.status) else {
        fatalError("refusal with status \(refusal.status): \(refusal)")
    }
    let problem: JSONValue = .object(
        [
            ("type", .string("urn:heyan:problem:" + refusal.slug)), ("title", .string(refusal.title)),
            ("status", .int(Int64(refusal.status))), ("detail", .string(refusal.detail)),
            (
                "errors",
                .array(refusal.errors.map { .object([("path", .string($0.path)), ("message", .string($0.message))]) })
            ),
        ] + refusal.extra)
    let bytes = problem.jsonBytes()
    do {
        _ = try JSONDecoder().decode(AnyJSON.self, from: Data(bytes))
    } catch {
        fatalError("problem body is not JSON: \(String(decoding: bytes, as: UTF8.self))")
    }
}

/// Decodes any JSON value (to check that serialized output parses).
private enum AnyJSON: Decodable {
    case scalar
    case array([AnyJSON])
    case object([String: AnyJSON])

    init(from decoder: any Decoder) throws {
        if let object = try? decoder.container(keyedBy: FieldKey.self) {
            var members: [String: AnyJSON] = [:]
            for key in object.allKeys { members[key.stringValue] = try object.decode(AnyJSON.self, forKey: key) }
            self = .object(members)
        } else if var array = try? decoder.unkeyedContainer() {
            var elements: [AnyJSON] = []
            while !array.isAtEnd { elements.append(try array.decode(AnyJSON.self)) }
            self = .array(elements)
        } else {
            _ = try decoder.singleValueContainer()
            self = .scalar
        }
    }
}

/// The example configuration, read once.
private struct Fixture: Sendable {
    let departments: DepartmentDirectory
    let catalog: Catalog
    let queuedVerifications: [Verification]
    let recordTargets: [(String, String, String)]

    static let shared = Fixture()

    init() {
        let directory = getenv("HEYAN_FUZZ_CONFIG_DIR").map { String(cString: $0) } ?? "config"
        do {
            departments = try DepartmentDirectory.decode(
                try readFile("\(directory)/departments.json"), file: "departments.json")
            catalog = try Catalog.decode(
                try readFile("\(directory)/catalog.json"), file: "catalog.json", departments: departments)
        } catch {
            fatalError("cannot load the example configuration from \(directory): \(error)")
        }
        let subject = Subject(idType: .residentID, id: "11010519491231002X", name: "张三")
        queuedVerifications = [
            Verification(
                id: "ver_01", certificateType: "CIV-MARRIAGE", method: .departmentVerification,
                requester: "housing-fund", owner: "civil-affairs", matterCode: "HF-WITHDRAW-001", purpose: "提取住房公积金",
                subject: subject, claims: ["maritalStatus": .string("married")], state: .pending, createdAt: 0,
                catalogVersion: 1),
            Verification(
                id: "ver_02", certificateType: "NR-REAL-ESTATE", method: .dataSharing, requester: "housing-fund",
                owner: "natural-resources", matterCode: "HF-LOAN-001", purpose: "公积金贷款",
                subject: subject, claims: ["ownsProperty": .bool(true), "residentialPropertyCount": .integer(1)],
                state: .pending, createdAt: 0, catalogVersion: 1),
        ]
        recordTargets = [
            ("NR-REAL-ESTATE", "11010519491231002X", "natural-resources"),
            ("MKT-BUSINESS-LICENSE", "91350100M000100Y43", "market-regulation"),
            ("PSB-NO-CRIMINAL-RECORD", "11010519491231002X", "public-security"),
            ("NR-REAL-ESTATE", "91350100M000100Y43", "natural-resources"),
            ("CIV-MARRIAGE", "not-an-id", "civil-affairs"),
        ]
    }
}

private func readFile(_ path: String) throws -> [UInt8] {
    guard let file = fopen(path, "rb") else { throw FixtureError(path: path) }
    defer { fclose(file) }
    var bytes: [UInt8] = []
    var chunk = [UInt8](repeating: 0, count: 65536)
    while true {
        let count = fread(&chunk, 1, chunk.count, file)
        if count == 0 { break }
        bytes.append(contentsOf: chunk[0..<count])
    }
    return bytes
}
private struct FixtureError: Error { let path: String }
