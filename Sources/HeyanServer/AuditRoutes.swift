import HeyanDomain
import HeyanHTTP

/// The audit log for auditors: filtered, paged entries and a signed checkpoint.
struct AuditRoutes {
    let context: ServiceContext
    init(_ context: ServiceContext) { self.context = context }

    func register(in router: inout Router<HeyanService.Handler>) {
        router.add("GET", "/v1/audit") { call in entries(call) }
        router.add("GET", "/v1/audit/checkpoint") { call in checkpoint(call) }
    }

    private func requireAuditor(_ call: ServiceCall) -> Bool {
        guard call.department.has(.auditor) else {
            call.fail(.forbidden(detail: "The audit log is for auditors; '\(call.code)' has no auditor role."))
            return false
        }
        return true
    }

    func entries(_ call: ServiceCall) {
        guard requireAuditor(call) else { return }
        let request = call.request
        for name in ["subject", "department", "type", "action"] where request.queryValue(name)?.isEmpty == true {
            return call.fail(.badRequest(detail: "Query parameter '\(name)' must not be empty; leave it out to match any."))
        }
        if let department = request.queryValue("department"), !CodeSyntax.isDepartmentCode(department) {
            return call.fail(.badRequest(detail: "Query parameter 'department' is not a department code: \(CodeSyntax.departmentCodeRule)"))
        }
        if let type = request.queryValue("type"), !CodeSyntax.isCertificateTypeCode(type) {
            return call.fail(.badRequest(detail: "Query parameter 'type' is not a certificate type code: \(CodeSyntax.certificateTypeCodeRule)"))
        }
        var filter = AuditFilter()
        filter.subjectID = request.queryValue("subject")
        filter.department = request.queryValue("department")
        filter.certificateType = request.queryValue("type")
        filter.action = request.queryValue("action").map(AuditAction.init(rawValue:))
        for name in ["from", "to"] {
            guard let text = request.queryValue(name) else { continue }
            guard let value = Timestamp.parse(text) else {
                return call.fail(.badRequest(detail: "Query parameter '\(name)' must be an RFC 3339 time such as 2026-11-23T09:00:00Z."))
            }
            if name == "from" { filter.from = value } else { filter.to = value }
        }
        guard let limit = context.queryInteger(call, "limit", default: 100, range: 1...1000),
            let cursor = context.queryInteger(call, "cursor", default: 0, range: 0...Int.max)
        else { return }
        do {
            let entries = try context.store.auditEntries(matching: filter, after: Int64(cursor), limit: limit)
            var fields: [(String, JSONValue)] = [("entries", .array(entries.map(APIView.auditEntry)))]
            if entries.count == limit, let last = entries.last { fields.append(("nextCursor", .string(String(last.sequence)))) }
            call.respond(json: 200, .object(fields))
        } catch {
            call.fail(error, log: context.log)
        }
    }

    func checkpoint(_ call: ServiceCall) {
        guard requireAuditor(call) else { return }
        let log = context.log
        context.store.checkpoint(now: context.now(), sign: context.signCheckpoint) { result in
            switch result {
            case .success(let checkpoint): call.respond(json: 200, APIView.checkpoint(checkpoint))
            case .failure(let error): call.fail(error, log: log)
            }
        }
    }
}
