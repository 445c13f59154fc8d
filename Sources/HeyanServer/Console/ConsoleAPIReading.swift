import HeyanDomain
import HeyanHTTP
import HeyanPresentation

/// How the auditor's and operator's pages (docs/console.md) use the API: a page is the API's own
/// handler called as a ``ServiceCall`` of the same department — the same validation,
/// authorization, audit entry and problem types — and its answer (JSON, or the checkpoint note's
/// text) rendered. Nothing here decides what a department may see.
extension ConsoleCall {
    /// A `GET` of the API route `template` with `parameters` and `query` (absent values left out;
    /// names and values percent-encoded). The target never leaves the process.
    func apiGet(_ template: String, parameters: [String: String] = [:], query: [(String, String?)] = []) -> ServiceCall {
        let base = apiCall("GET", template, parameters: parameters, json: .null)
        let pairs = query.compactMap { name, value in value.map { "\(Self.queryEncoded(name))=\(Self.queryEncoded($0))" } }
        let target = pairs.isEmpty ? base.request.path : base.request.path + "?" + pairs.joined(separator: "&")
        return ServiceCall(
            request: HTTPRequest(method: "GET", target: target), context: base.context, department: base.department,
            route: base.route, attribution: base.attribution)
    }

    /// `application/x-www-form-urlencoded` encoding of a query name or value.
    static func queryEncoded(_ text: String) -> String {
        var out = ""
        for byte in text.utf8 {
            switch byte {
            case 0x30...0x39, 0x41...0x5A, 0x61...0x7A, UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "_"), UInt8(ascii: "~"):
                out.unicodeScalars.append(Unicode.Scalar(byte))
            default:
                let hex = Array("0123456789ABCDEF".utf8)
                out += "%" + String(decoding: [hex[Int(byte >> 4)], hex[Int(byte & 0x0F)]], as: UTF8.self)
            }
        }
        return out
    }

    /// The reply of an API handler (a thrown problem becomes its reply).
    static func calling(_ handler: () throws -> Reply) -> Reply {
        do { return try handler() } catch { return Reply(thrown: error) }
    }

    /// `reply` once final: a 2xx answer handed to `render`, a problem to `refused` — also the
    /// 503/500 the API answers a failure with (logged as the API logs it), so a store that cannot
    /// do what is asked is a page too.
    func rendering(
        _ reply: Reply, refused: @escaping @Sendable (Problem) -> Reply, _ render: @escaping @Sendable (HTTPResponse) -> Reply
    ) -> Reply {
        let log = context.log
        let route = call.route.template
        return reply.then { final in
            switch final {
            case .response(let response) where (200..<300).contains(response.status): render(response)
            case .problem(let problem): refused(problem)
            case .failure(let error): refused(log.problem(for: error, route: route))
            default: final
            }
        }
    }

    /// ``rendering(_:refused:_:)`` of a JSON answer.
    func renderingJSON(
        _ reply: Reply, refused: @escaping @Sendable (Problem) -> Reply, _ render: @escaping @Sendable (JSONValue) -> Reply
    ) -> Reply {
        rendering(reply, refused: refused) { response in
            do { return render(try JSONValue(parsing: response.body)) } catch { return .failure(error) }
        }
    }
}

/// How a group of console pages registers its routes (``ConsoleRoutes/register(in:)`` hands
/// these over): a page (GET) and a form post (CSRF-checked).
typealias ConsolePageRoute = (String, @escaping @Sendable (ConsoleCall) throws -> Reply) -> Void
typealias ConsoleFormRoute = (String, @escaping @Sendable (ConsoleCall, ConsoleForm) throws -> Reply) -> Void

/// A group of console pages (the auditor's, the operator's) built on ``ConsolePages``' pieces.
protocol ConsolePageGroup {
    var pages: ConsolePages { get }
}

extension ConsolePageGroup {
    var call: ConsoleCall { pages.call }
    var lang: ConsoleLanguage { pages.lang }
    var context: ServiceContext { pages.context }
}

/// Pieces the auditor's and operator's pages share.
extension ConsolePages {
    /// The 403 page unless the department has one of `roles` (the page's own check; the API's
    /// handler decides again).
    func forbidden(unlessAnyOf roles: [Role]) -> Reply? {
        guard !roles.contains(where: department.has) else { return nil }
        let names = roles.map(roleName).joined(separator: lang.t("或", " or "))
        return refusal(.forbidden(detail: lang.t(
            "本部门（\(department.code)）没有\(names)角色，不能使用此页面。",
            "Department '\(department.code)' has no \(names) role; this page is not for it.")))
    }

    func roleName(_ role: Role) -> String {
        switch role {
        case .owner: lang.t("数据所有方（核验）", "owner (answers verifications)")
        case .requester: lang.t("用证方（发起核验）", "requester (asks for verifications)")
        case .auditor: lang.t("审计方", "auditor")
        case .operator: lang.t("运营方", "operator")
        }
    }

    /// The menu items of the auditor's and operator's pages for the home page.
    var auditAndOperatorMenu: [HTML] {
        var items: [(String, String, String)] = []
        if department.has(.auditor) {
            items += [
                ("/console/audit", "审计日志查询", "Audit log search"),
                ("/console/audit/checkpoint", "审计日志检查点及验证", "Audit log checkpoint"),
                ("/console/stats", "统计与图表", "Statistics"),
            ]
        }
        if department.has(.auditor) || department.has(.operator) {
            items.append(("/console/access-report", "个人信息查阅记录报告", "Subject access report"))
        }
        if department.has(.operator) {
            items += [
                ("/console/catalog", "证明事项目录版本", "Catalog versions"),
                ("/console/catalog/change", "变更目录", "Change the catalog"),
                ("/console/complaints", "监督投诉处理", "Complaints to handle"),
                ("/console/credit", "信用记录", "Credit list"),
            ]
        }
        return items.map { path, zh, en in "<li><a href=\"\(link(path))\">\(lang.t(zh, en))</a></li>" }
    }

    /// A problem above a form: its title, status and detail.
    func problemBox(_ problem: Problem?) -> HTML {
        problem.map { "<div class=\"problem\"><strong>\($0.title)</strong> (\($0.status)): \($0.detail)</div>" } ?? .empty
    }

    /// The messages of `problem` for the form field `field` (its API path), next to the field.
    func fieldError(_ problem: Problem?, _ field: String, paths: (String) -> Bool) -> HTML {
        let messages = (problem?.errors ?? []).filter { paths($0.path) }.map { error in
            error.path == field ? error.message : "\(error.path): \(error.message)"
        }
        return messages.isEmpty ? .empty : "<span class=\"error\" data-field=\"\(field)\">\(messages.joined(separator: "; "))</span>"
    }

    /// The messages of `problem` at exactly `field`, next to the field.
    func fieldError(_ problem: Problem?, _ field: String) -> HTML { fieldError(problem, field) { $0 == field } }

    /// A page answered with `status`, its 4xx audited (on a form route) as `problem`.
    func shown(_ title: String, _ body: HTML, problem: Problem? = nil) -> Reply {
        .page(page(title, body, status: problem?.status ?? 200), problemType: problem?.type)
    }

    /// A department by its name in the page's language, or its code.
    func departmentName(_ code: String?) -> String {
        guard let code else { return "" }
        return context.directory[code].map { lang.name($0.name) } ?? code
    }

    /// An RFC 3339 time from the API in Beijing time.
    static func beijing(_ json: JSONValue?) -> String {
        guard let text = json?.text else { return "" }
        return Timestamp.parse(text).map(BeijingTime.format) ?? text
    }
}

extension BeijingTime {
    /// A browser's `datetime-local` value (`yyyy-MM-ddTHH:mm[:ss]`, read as Beijing time) as
    /// RFC 3339 for the API; any other text is passed on as typed, for the API to refuse.
    static func rfc3339(local text: String) -> String {
        let bytes = Array(text.utf8)
        guard bytes.count >= 10, !text.hasSuffix("Z"), !text.contains("+") else { return text }
        switch bytes.count {
        case 10: return text + "T00:00:00+08:00"
        case 16: return text + ":00+08:00"
        case 19: return text + "+08:00"
        default: return text
        }
    }
}

extension ConsoleStyle {
    /// The auditor's and operator's additions: charts, dense tables, the printable report.
    static let auditAndOperator = """
        svg.chart{display:block;margin:.5em 0;max-width:100%;height:auto;font-size:12px}svg.chart .bar{fill:#9b1c1c}\
        svg.chart .chart-title{font-weight:bold}.charts{display:flex;flex-wrap:wrap;gap:1em}
        table.audit,table.report,table.stats,table.catalog{font-size:13px}td.num{text-align:right;font-variant-numeric:tabular-nums}
        ul.detail{margin:0;padding-left:1em}section.complaint{border:1px solid #ccd;padding:.3em 1em;margin:1em 0}
        .notice{border-left:4px solid #0e9f6e;background:#f3faf7;padding:.5em 1em}form.remove input[type=text]{width:14em}
        table.stats{display:block;overflow-x:auto}form.inline-form input{width:auto}form.next{margin-top:1em}pre.note{max-width:60em}
        @media print{table.report{font-size:9pt}table.report th,table.report td{padding:.15em .3em}}
        """
}
