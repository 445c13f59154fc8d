import HeyanDomain
import HeyanHTTP

/// `GET /v1/subjects/{id}/access-report?reason=…`: the subject access report of PIPL Art. 44–45
/// (docs/audit.md, "Subject access report") for the operator, acting on a citizen's request, and
/// auditors. The reason is required; the access is itself audited (`subject.access-report`, with
/// the subject and the reason) and the report is sent only once that entry is committed.
struct SubjectAccessRoutes {
    let context: ServiceContext
    init(_ context: ServiceContext) { self.context = context }

    func register(in router: inout Router<HeyanService.Handler>) {
        router.add("GET", "/v1/subjects/{id}/access-report") { call in try report(call) }
    }

    func report(_ call: ServiceCall) throws -> Reply {
        guard call.department.has(.operator) || call.department.has(.auditor) else {
            throw Problem.forbidden(detail: "Subject access reports are for the operator and auditors; '\(call.code)' has neither role.")
        }
        let subject = call.parameter("id")
        guard !subject.isEmpty, subject.utf8.count <= 64, subject.utf8.allSatisfy({ $0 > 0x20 && $0 < 0x7F }) else {
            throw Problem.badRequest(detail: "The subject ID is 1 to 64 printable ASCII characters.")
        }
        let reason = call.request.queryValue("reason")?.trimmingCharacters(in: [" "]) ?? ""
        guard !reason.isEmpty, reason.utf8.count <= 500, !reason.unicodeScalars.contains(where: { $0.value < 0x20 }) else {
            throw Problem.badRequest(
                detail: "Query parameter 'reason' is required: why the report is made (e.g. the citizen's request number), 1 to 500 bytes.")
        }
        // Read first (on this thread, not the writer's), then audit the access; the report leaves
        // only after the access entry is committed. It lists earlier accesses, not this one.
        let entries = try SubjectAccessReport.entries(subjectID: subject, from: context.store)
        let now = context.now()
        let event = AuditEvent(
            action: SubjectAccessReport.action, actor: call.code, subjectID: subject, clerk: call.clerk,
            detail: ["reason": reason, "entries": String(entries.count)])
        return .awaiting({ [context] in context.store.recordRefusal(event, at: now, completion: $0) }) { result in
            result.reply { _ in .json(200, SubjectAccessReport.json(subjectID: subject, generatedAt: now, entries: entries)) }
        }
    }
}
