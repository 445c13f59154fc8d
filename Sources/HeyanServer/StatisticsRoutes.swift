import HeyanDomain
import HeyanHTTP

/// `GET /v1/stats[?from=&to=][&format=csv]` for auditors and the operator (docs/statistics.md).
struct StatisticsRoutes {
    let context: ServiceContext
    init(_ context: ServiceContext) { self.context = context }

    func register(in router: inout Router<HeyanService.Handler>) {
        router.add("GET", "/v1/stats") { call in statistics(call) }
    }

    func statistics(_ call: ServiceCall) {
        guard call.department.has(.auditor) || call.department.has(.operator) else {
            return call.fail(
                .forbidden(detail: "Statistics are for auditors and the operator; '\(call.code)' has neither role."))
        }
        var window = StatisticsWindow()
        for name in ["from", "to"] {
            guard let text = call.request.queryValue(name) else { continue }
            guard let value = Timestamp.parse(text) else {
                return call.fail(.badRequest(detail: "Query parameter '\(name)' must be an RFC 3339 time such as 2026-11-23T09:00:00Z."))
            }
            if name == "from" { window.from = value } else { window.to = value }
        }
        let format = call.request.queryValue("format") ?? "json"
        guard format == "json" || format == "csv" else {
            return call.fail(.badRequest(detail: "Query parameter 'format' must be 'json' or 'csv'."))
        }
        let now = context.now()
        do {
            let data = try context.governance.statisticsData(window: window)
            let report = StatisticsAssembler.report(
                data: data, catalog: context.catalogs.active(at: now).catalog,
                window: window, generatedAt: now)
            if format == "csv" {
                call.respond(.text(200, report.csv, contentType: "text/csv; charset=utf-8; header=present"))
            } else {
                call.respond(json: 200, report.json)
            }
        } catch {
            call.fail(error, log: context.log)
        }
    }
}
