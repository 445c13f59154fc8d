import HeyanDomain
import HeyanHTTP

/// The credit list (信用记录): `GET /v1/credit/{subjectId}` for operator and auditor, and
/// `POST /v1/credit/{subjectId}/entries/{entryId}/remove` for the operator after credit repair.
struct CreditRoutes {
    let context: ServiceContext
    init(_ context: ServiceContext) { self.context = context }

    func register(in router: inout Router<HeyanService.Handler>) {
        router.add("GET", "/v1/credit/{subjectId}") { call in try list(call) }
        router.add("POST", "/v1/credit/{subjectId}/entries/{entryId}/remove") { call in try remove(call) }
    }

    func list(_ call: ServiceCall) throws -> Reply {
        guard call.department.has(.operator) || call.department.has(.auditor) else {
            throw Problem.forbidden(detail: "Only the operator and auditors read the credit list, not '\(call.code)'.")
        }
        let subjectID = call.parameter("subjectId")
        let entries = try context.store.creditEntries(subjectID: subjectID)
        return .json(
            200,
            .object([
                ("subjectId", .string(subjectID)),
                ("listed", .bool(entries.contains(where: \.isActive))),
                ("entries", .array(entries.map(APIView.creditEntry))),
            ]))
    }

    func remove(_ call: ServiceCall) throws -> Reply {
        guard call.department.has(.operator) else {
            throw Problem.forbidden(detail: "Only the operator removes credit entries, not '\(call.code)'.")
        }
        let reason = try RevocationRules.evaluate(body: call.request.body).get()
        let subjectID = call.parameter("subjectId")
        let entryID = call.parameter("entryId")
        let now = context.now()
        return .awaiting({ [context] in
            context.store.removeCreditEntry(
                subjectID: subjectID, entryID: entryID, actor: call.code, reason: reason, now: now, completion: $0)
        }) { result in
            result.reply { removed in
                switch removed {
                case .removed(let entry), .alreadyRemoved(let entry):
                    return .json(200, APIView.creditEntry(entry))
                case .notFound:
                    return .problem(.notFound(detail: "No credit entry '\(entryID)' about this subject."))
                }
            }
        }
    }
}
