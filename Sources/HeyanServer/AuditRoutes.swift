import HeyanDomain
import HeyanHTTP

/// The audit log for auditors: filtered, paged entries and a signed checkpoint.
struct AuditRoutes {
    let context: ServiceContext
    init(_ context: ServiceContext) { self.context = context }

    func register(in router: inout Router<HeyanService.Handler>) {
        router.add("GET", "/v1/audit") { call in try entries(call) }
        router.add("GET", "/v1/audit/checkpoint") { call in try checkpoint(call) }
    }

    private func requireAuditor(_ call: ServiceCall) throws(Problem) {
        guard call.department.has(.auditor) else {
            throw .forbidden(detail: "The audit log is for auditors; '\(call.code)' has no auditor role.")
        }
    }

    func entries(_ call: ServiceCall) throws -> Reply {
        try requireAuditor(call)
        let request = call.request
        for name in ["subject", "department", "type", "action"] where request.queryValue(name)?.isEmpty == true {
            throw Problem.badRequest(detail: "Query parameter '\(name)' must not be empty; leave it out to match any.")
        }
        if let department = request.queryValue("department"), !CodeSyntax.isDepartmentCode(department) {
            throw Problem.badRequest(detail: "Query parameter 'department' is not a department code: \(CodeSyntax.departmentCodeRule)")
        }
        if let type = request.queryValue("type"), !CodeSyntax.isCertificateTypeCode(type) {
            throw Problem.badRequest(detail: "Query parameter 'type' is not a certificate type code: \(CodeSyntax.certificateTypeCodeRule)")
        }
        var filter = AuditFilter()
        filter.subjectID = request.queryValue("subject")
        filter.department = request.queryValue("department")
        filter.certificateType = request.queryValue("type")
        filter.action = request.queryValue("action").map(AuditAction.init(rawValue:))
        filter.from = try Self.timeQuery(call, "from")
        filter.to = try Self.timeQuery(call, "to")
        let limit = try context.queryInteger(call, "limit", default: 100, range: 1...1000)
        let cursor = try context.queryInteger(call, "cursor", default: 0, range: 0...Int.max)
        let entries = try context.store.auditEntries(matching: filter, after: Int64(cursor), limit: limit)
        var fields: [(String, JSONValue)] = [("entries", .array(entries.map(APIView.auditEntry)))]
        if entries.count == limit, let last = entries.last { fields.append(("nextCursor", .string(String(last.sequence)))) }
        return .json(200, .object(fields))
    }

    /// An RFC 3339 time query parameter (`from`, `to`), nil when absent; 400 when malformed.
    static func timeQuery(_ call: ServiceCall, _ name: String) throws(Problem) -> Millis? {
        guard let text = call.request.queryValue(name) else { return nil }
        guard let value = Timestamp.parse(text) else {
            throw .badRequest(detail: "Query parameter '\(name)' must be an RFC 3339 time such as 2026-11-23T09:00:00Z.")
        }
        return value
    }

    func checkpoint(_ call: ServiceCall) throws -> Reply {
        try requireAuditor(call)
        return .awaiting({ [context] in context.store.checkpoint(now: context.now(), sign: context.signCheckpoint, completion: $0) }) {
            result in result.reply { .json(200, APIView.checkpoint($0)) }
        }
    }
}
