import HeyanDomain
import HeyanHTTP

/// Complaints (监督投诉): `POST /v1/complaints` (any department; the operator also on behalf of
/// a citizen), `GET /v1/complaints?status=` (the operator sees all, a department those it filed),
/// `POST /v1/complaints/{id}/handle` (operator, with a reply). Every change is audited.
struct ComplaintRoutes {
    let context: ServiceContext
    init(_ context: ServiceContext) { self.context = context }

    func register(in router: inout Router<HeyanService.Handler>) {
        router.add("POST", "/v1/complaints") { call in file(call) }
        router.add("GET", "/v1/complaints") { call in list(call) }
        router.add("POST", "/v1/complaints/{id}/handle") { call in handle(call) }
    }

    func file(_ call: ServiceCall) {
        let now = context.now()
        let catalog = context.catalogs.active(at: now).catalog
        let draft: ComplaintDraft
        switch ComplaintRules.evaluate(
            body: call.request.body, filer: call.department, departments: context.directory, catalog: catalog)
        {
        case .failure(let refusal): return call.respond(refusal)
        case .success(let value): draft = value
        }
        let complaint = Complaint(
            id: context.newIdentifier("cmp_", now), filedBy: call.code, onBehalfOfCitizen: draft.onBehalfOfCitizen,
            againstDepartment: draft.againstDepartment, certificateDemanded: draft.certificateDemanded,
            standing: draft.standing, catalogVersion: catalog.version, matterCode: draft.matterCode,
            description: draft.description, createdAt: now)
        let log = context.log
        context.governance.fileComplaint(complaint) { result in
            switch result {
            case .success:
                var response = HTTPResponse.json(201, complaint.json.jsonBytes())
                response.headers.add("Location", "/v1/complaints?status=open")
                call.respond(response)
            case .failure(let error):
                call.fail(error, log: log)
            }
        }
    }

    func list(_ call: ServiceCall) {
        var filter = ComplaintFilter()
        if let status = call.request.queryValue("status") {
            guard let value = Complaint.Status(rawValue: status) else {
                return call.fail(.badRequest(detail: "Query parameter 'status' must be 'open' or 'handled'."))
            }
            filter.status = value
        }
        if !call.department.has(.operator) { filter.filedBy = call.code }
        guard let limit = context.queryInteger(call, "limit", default: 100, range: 1...1000) else { return }
        let cursor = call.request.queryValue("cursor")
        do {
            let complaints = try context.governance.complaints(matching: filter, after: cursor, limit: limit)
            var fields: [(String, JSONValue)] = [("complaints", .array(complaints.map(\.json)))]
            if complaints.count == limit, let last = complaints.last { fields.append(("nextCursor", .string(last.id))) }
            call.respond(json: 200, .object(fields))
        } catch {
            call.fail(error, log: context.log)
        }
    }

    func handle(_ call: ServiceCall) {
        guard call.department.has(.operator) else { return call.respond(.roleRequired(.operator, department: call.code)) }
        let reply: String
        switch ComplaintRules.evaluateHandling(body: call.request.body) {
        case .failure(let refusal): return call.respond(refusal)
        case .success(let value): reply = value
        }
        let id = call.parameter("id")
        let log = context.log
        context.governance.handleComplaint(id: id, reply: reply, actor: call.code, now: context.now()) { result in
            switch result {
            case .success(.handled(let complaint)):
                call.respond(json: 200, complaint.json)
            case .success(.alreadyHandled(let complaint)):
                call.fail(
                    .conflict(
                        detail: "Complaint '\(id)' was already handled by \(complaint.handledBy ?? "the operator").",
                        extra: [("complaint", complaint.json)]))
            case .success(.notFound):
                call.fail(.notFound(detail: "No complaint '\(id)'."))
            case .failure(let error):
                call.fail(error, log: log)
            }
        }
    }
}
