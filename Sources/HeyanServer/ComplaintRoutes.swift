import HeyanDomain
import HeyanHTTP

/// Complaints (监督投诉): `POST /v1/complaints` (any department; the operator also on behalf of
/// a citizen), `GET /v1/complaints?status=` (the operator sees all, a department those it filed),
/// `POST /v1/complaints/{id}/handle` (operator, with a reply). Every change is audited.
struct ComplaintRoutes {
    let context: ServiceContext
    init(_ context: ServiceContext) { self.context = context }

    func register(in router: inout Router<HeyanService.Handler>) {
        router.add("POST", "/v1/complaints") { call in try file(call) }
        router.add("GET", "/v1/complaints") { call in try list(call) }
        router.add("POST", "/v1/complaints/{id}/handle") { call in try handle(call) }
    }

    func file(_ call: ServiceCall) throws -> Reply {
        let now = context.now()
        let catalog = context.catalogs.active(at: now).catalog
        let draft = try ComplaintRules.evaluate(
            body: call.request.body, filer: call.department, departments: context.directory, catalog: catalog
        ).get()
        let complaint = Complaint(
            id: context.newIdentifier(Complaint.idPrefix, now), filedBy: call.code,
            onBehalfOfCitizen: draft.onBehalfOfCitizen, againstDepartment: draft.againstDepartment,
            certificateDemanded: draft.certificateDemanded, standing: draft.standing, catalogVersion: catalog.version,
            matterCode: draft.matterCode, description: draft.description, createdAt: now)
        return .awaiting({ [context] in context.store.fileComplaint(complaint, completion: $0) }) { result in
            result.reply { _ in
                .response(
                    HTTPResponse.created(
                        status: 201, body: complaint.json.jsonBytes(), location: "/v1/complaints?status=open"))
            }
        }
    }

    func list(_ call: ServiceCall) throws -> Reply {
        var filter = ComplaintFilter()
        if let status = call.request.queryValue("status") {
            guard let value = Complaint.Status(rawValue: status) else {
                throw Problem.badRequest(detail: "Query parameter 'status' must be 'open' or 'handled'.")
            }
            filter.status = value
        }
        if !call.department.has(.operator) { filter.filedBy = call.code }
        let limit = try context.queryInteger(call, "limit", default: 100, range: 1...1000)
        let cursor = call.request.queryValue("cursor")
        let complaints = try context.store.complaints(matching: filter, after: cursor, limit: limit)
        var fields: [(String, JSONValue)] = [("complaints", .array(complaints.map(\.json)))]
        if complaints.count == limit, let last = complaints.last { fields.append(("nextCursor", .string(last.id))) }
        return .json(200, .object(fields))
    }

    func handle(_ call: ServiceCall) throws -> Reply {
        guard call.department.has(.operator) else { throw Refusal.roleRequired(.operator, department: call.code) }
        let reply = try ComplaintRules.evaluateHandling(body: call.request.body).get()
        let id = call.parameter("id")
        let now = context.now()
        return .awaiting({ [context] in
            context.store.handleComplaint(id: id, reply: reply, actor: call.code, now: now, completion: $0)
        }) { result in
            result.reply { handled in
                switch handled {
                case .handled(let complaint):
                    return .json(200, complaint.json)
                case .alreadyHandled(let complaint):
                    return .problem(
                        .conflict(
                            detail: "Complaint '\(id)' was already handled by \(complaint.handledBy ?? "the operator").",
                            extra: [("complaint", complaint.json)]))
                case .notFound:
                    return .problem(.notFound(detail: "No complaint '\(id)'."))
                }
            }
        }
    }
}
