import HeyanDomain
import HeyanHTTP

/// `GET /v1/stats[?from=&to=][&format=csv]` for auditors and the operator (docs/statistics.md).
struct StatisticsRoutes {
    let context: ServiceContext
    init(_ context: ServiceContext) { self.context = context }

    func register(in router: inout Router<HeyanService.Handler>) {
        router.add("GET", "/v1/stats") { call in try statistics(call) }
    }

    func statistics(_ call: ServiceCall) throws -> Reply {
        guard call.department.has(.auditor) || call.department.has(.operator) else {
            throw Problem.forbidden(detail: "Statistics are for auditors and the operator; '\(call.code)' has neither role.")
        }
        var window = StatisticsWindow()
        window.from = try AuditRoutes.timeQuery(call, "from")
        window.to = try AuditRoutes.timeQuery(call, "to")
        let format = call.request.queryValue("format") ?? "json"
        guard format == "json" || format == "csv" else {
            throw Problem.badRequest(detail: "Query parameter 'format' must be 'json' or 'csv'.")
        }
        let now = context.now()
        let data = try context.store.statisticsData(window: window)
        let report = StatisticsAssembler.report(
            data: data, catalog: context.catalogs.active(at: now).catalog, window: window, generatedAt: now)
        if format == "csv" {
            return .response(.text(200, report.csv, contentType: "text/csv; charset=utf-8; header=present"))
        }
        return .json(200, report.json)
    }
}
