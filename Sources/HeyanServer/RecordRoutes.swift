import HeyanDomain
import HeyanHTTP

/// The facts an owner shares for `data-sharing` types (数据共享): one at a time or in batches of up
/// to 10,000 in one transaction.
struct RecordRoutes {
    let context: ServiceContext
    init(_ context: ServiceContext) { self.context = context }

    func register(in router: inout Router<HeyanService.Handler>) {
        router.add("PUT", "/v1/records/{type}/{subjectId}") { call in put(call) }
        router.add("DELETE", "/v1/records/{type}/{subjectId}") { call in delete(call) }
        router.add("POST", "/v1/records:batch") { call in batch(call) }
    }

    func put(_ call: ServiceCall) {
        let now = context.now()
        let record: SharedRecord
        switch RecordRules.put(
            body: call.request.body, certificateType: call.parameter("type"), subjectID: call.parameter("subjectId"),
            caller: call.department, catalog: context.catalog, today: context.today(now), now: now)
        {
        case .failure(let refusal): return call.respond(refusal)
        case .success(let value): record = value
        }
        let log = context.log
        context.store.putRecords([record], actor: call.code, now: now) { result in
            switch result {
            case .success(let results):
                call.respond(json: results.first == .created ? 201 : 200, APIView.record(record))
            case .failure(let error):
                call.fail(error, log: log)
            }
        }
    }

    func delete(_ call: ServiceCall) {
        let type = call.parameter("type")
        let subjectID = call.parameter("subjectId")
        if case .failure(let refusal) = RecordRules.authorize(
            certificateType: type, caller: call.department, catalog: context.catalog)
        {
            return call.respond(refusal)
        }
        let log = context.log
        context.store.deleteRecord(certificateType: type, subjectID: subjectID, actor: call.code, now: context.now()) { result in
            switch result {
            case .success(true): call.respond(HTTPResponse(status: 204))
            case .success(false): call.fail(.notFound(detail: "No \(type) record for this subject."))
            case .failure(let error): call.fail(error, log: log)
            }
        }
    }

    func batch(_ call: ServiceCall) {
        let now = context.now()
        let records: [SharedRecord]
        switch RecordRules.batch(
            body: call.request.body, caller: call.department, catalog: context.catalog, today: context.today(now), now: now)
        {
        case .failure(let refusal): return call.respond(refusal)
        case .success(let value): records = value
        }
        let log = context.log
        context.store.putRecords(records, actor: call.code, now: now) { result in
            switch result {
            case .success(let results):
                let created = results.filter { $0 == .created }.count
                call.respond(json: 200, .object([
                    ("written", .int(Int64(results.count))), ("created", .int(Int64(created))),
                    ("updated", .int(Int64(results.count - created))),
                ]))
            case .failure(let error):
                call.fail(error, log: log)
            }
        }
    }
}
