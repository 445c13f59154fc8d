import HeyanDomain
import HeyanHTTP

/// The facts an owner shares for `data-sharing` types (数据共享): one at a time or in batches of up
/// to 10,000 in one transaction.
struct RecordRoutes {
    let context: ServiceContext
    init(_ context: ServiceContext) { self.context = context }

    func register(in router: inout Router<HeyanService.Handler>) {
        router.add("PUT", "/v1/records/{type}/{subjectId}") { call in try put(call) }
        router.add("DELETE", "/v1/records/{type}/{subjectId}") { call in try delete(call) }
        router.add("POST", "/v1/records:batch") { call in try batch(call) }
    }

    func put(_ call: ServiceCall) throws -> Reply {
        let now = context.now()
        let record = try RecordRules.put(
            body: call.request.body, certificateType: call.parameter("type"), subjectID: call.parameter("subjectId"),
            caller: call.department, catalog: context.catalog, today: context.today(now), now: now
        ).get()
        return .awaiting({ [context] in context.store.putRecords([record], actor: call.code, clerk: call.clerk, now: now, completion: $0) }) {
            result in result.reply { .json($0.first == .created ? 201 : 200, APIView.record(record)) }
        }
    }

    func delete(_ call: ServiceCall) throws -> Reply {
        let type = call.parameter("type")
        let subjectID = call.parameter("subjectId")
        _ = try RecordRules.authorize(certificateType: type, caller: call.department, catalog: context.catalog).get()
        let now = context.now()
        return .awaiting({ [context] in
            context.store.deleteRecord(
                certificateType: type, subjectID: subjectID, actor: call.code, clerk: call.clerk, now: now, completion: $0)
        }) { result in
            result.reply { deleted in
                deleted ? .response(HTTPResponse(status: 204)) : .problem(.notFound(detail: "No \(type) record for this subject."))
            }
        }
    }

    func batch(_ call: ServiceCall) throws -> Reply {
        let now = context.now()
        let records = try RecordRules.batch(
            body: call.request.body, caller: call.department, catalog: context.catalog, today: context.today(now), now: now
        ).get()
        return .awaiting({ [context] in context.store.putRecords(records, actor: call.code, clerk: call.clerk, now: now, completion: $0) }) {
            result in
            result.reply { results in
                let created = results.filter { $0 == .created }.count
                return .json(200, .object([
                    ("written", .int(Int64(results.count))), ("created", .int(Int64(created))),
                    ("updated", .int(Int64(results.count - created))),
                ]))
            }
        }
    }
}
