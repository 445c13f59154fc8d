import HeyanCrypto
import HeyanDomain
import HeyanHTTP
import HeyanPresentation
import HeyanTransparencyLog

/// The auditor's pages (docs/console.md): the audit search, the checkpoint and its verification,
/// statistics with server-drawn charts and their CSV, and the subject access report. Each calls
/// the API's handler (``AuditRoutes``, ``TransparencyLogRoutes``, ``StatisticsRoutes``,
/// ``SubjectAccessRoutes``) as a call of the same department and renders its answer.
struct AuditorPages: ConsolePageGroup {
    let pages: ConsolePages

    init(call: ConsoleCall) { pages = ConsolePages(call: call) }
    private init(pages: ConsolePages) { self.pages = pages }

    static func register(page: ConsolePageRoute, form: ConsoleFormRoute) {
        page("/console/audit") { AuditorPages(call: $0).search(nil) }
        form("/console/audit") { AuditorPages(call: $0).search($1) }
        page("/console/audit/checkpoint") { AuditorPages(call: $0).checkpoint() }
        page("/console/stats") { AuditorPages(call: $0).statistics(csv: false) }
        page("/console/stats.csv") { AuditorPages(call: $0).statistics(csv: true) }
        page("/console/access-report") { AuditorPages(call: $0).accessReportForm(nil, problem: nil) }
        form("/console/access-report") { AuditorPages(call: $0).accessReport($1) }
    }

    // MARK: Audit search

    /// The actions an auditor can pick (any other is reachable through the API).
    static let actions: [AuditAction] = [
        .verificationSubmitted, .verificationQueued, .queueLeased, .verificationAnswered, .attestationIssued,
        .attestationRevoked, .queueOverdue, .recordPut, .recordDeleted, .commitmentSubmitted, .spotCheckQueued,
        .spotCheckAnswered, .creditListed, .creditRemoved, .catalogChanged, .complaintFiled, .complaintHandled,
        SubjectAccessReport.action, AuditRetention.action, .requestRefused, .requestRefusedAggregate,
    ]

    static let pageSize = 50

    /// The search form, and with `form` the page of entries it asks for (`GET /v1/audit` with the
    /// same filters; the subject travels in the form body, never in a URL).
    func search(_ form: ConsoleForm?) -> Reply {
        if let refusal = pages.forbidden(unlessAnyOf: [.auditor]) { return refusal }
        let title = lang.t("审计日志查询", "Audit log search")
        guard let form else { return pages.shown(title, searchForm(nil, problem: nil)) }
        func given(_ name: String) -> String? { form.text(name).isEmpty ? nil : form.text(name) }
        let query: [(String, String?)] = [
            ("subject", given("subject")), ("department", given("department")), ("type", given("type")),
            ("action", given("action")), ("from", given("from").map(BeijingTime.rfc3339(local:))),
            ("to", given("to").map(BeijingTime.rfc3339(local:))), ("limit", given("limit") ?? String(Self.pageSize)), ("cursor", given("cursor")),
        ]
        let apiCall = call.apiGet("/v1/audit", query: query)
        let reply = ConsoleCall.calling { try AuditRoutes(context).entries(apiCall) }
        let pages = self.pages
        let formHTML = searchForm(form, problem: nil)
        return call.renderingJSON(reply, refused: { problem in
            pages.shown(title, AuditorPages(pages: pages).searchForm(form, problem: problem), problem: problem)
        }) { json in
            pages.shown(title, HTML.join([formHTML, AuditorPages(pages: pages).results(json, form: form)]))
        }
    }

    private func searchForm(_ form: ConsoleForm?, problem: Problem?) -> HTML {
        func value(_ name: String) -> String { form?.text(name) ?? "" }
        func select(_ name: String, _ options: [(value: String, label: String)]) -> HTML {
            let current = value(name)
            let rows: [HTML] = options.map {
                "<option value=\"\($0.value)\"\(current == $0.value ? " selected" as HTML : .empty)>\($0.label)</option>"
            }
            return "<select id=\"\(name)\" name=\"\(name)\"><option value=\"\">\(lang.t("（全部）", "(any)"))</option>\(rows)</select>"
        }
        let departments = context.directory.departments.map { ($0.code, "\(lang.name($0.name)) (\($0.code))") }
        let types = context.catalog.items.map { ($0.code, "\(lang.name($0.name)) (\($0.code))") }
        let actions = Self.actions.map { ($0.rawValue, $0.rawValue) }
        return """
            \(pages.problemBox(problem))<form class="stack search" method="post" action="\(pages.link("/console/audit"))">\(pages.csrfField)\
            <label for="subject">\(lang.t("核验对象证件号码", "Subject ID"))</label>\
            <input type="text" id="subject" name="subject" value="\(value("subject"))" autocomplete="off">\
            <label for="department">\(lang.t("部门", "Department"))</label>\(select("department", departments))\
            <label for="type">\(lang.t("证明事项", "Certificate type"))</label>\(select("type", types))\
            <label for="action">\(lang.t("操作", "Action"))</label>\(select("action", actions))\
            <label for="from">\(lang.t("起（北京时间）", "From (Beijing time)"))</label>\
            <input type="datetime-local" id="from" name="from" value="\(value("from"))">\
            <label for="to">\(lang.t("止（北京时间）", "To (Beijing time)"))</label>\
            <input type="datetime-local" id="to" name="to" value="\(value("to"))">\
            <p><button type="submit">\(lang.t("查询", "Search"))</button></p></form>
            """
    }

    /// One page of entries, and a button for the next page (the same filters, the API's cursor).
    private func results(_ json: JSONValue, form: ConsoleForm) -> HTML {
        let entries = json["entries"]?.elements ?? []
        let rows: [HTML] = entries.map { entry in
            let index = entry["seq"]?.double.map { String(Int64($0) - 1) } ?? ""
            let detail: [HTML] = {
                guard case .object(let fields)? = entry["detail"] else { return [] }
                return fields.map { "<li><code>\($0.0)</code>: \($0.1.text ?? "")</li>" }
            }()
            return """
                <tr><td class="num">\(index)</td><td>\(ConsolePages.beijing(entry["time"]))</td>\
                <td><code>\(entry["action"]?.text)</code></td><td>\(entry["actor"]?.text)</td>\
                <td>\(entry["requester"]?.text)</td><td>\(entry["owner"]?.text)</td>\
                <td>\(entry["certificateType"]?.text)</td><td><code>\(entry["subjectId"]?.text)</code></td>\
                <td><code>\(entry["verification"]?.text ?? entry["attestation"]?.text)</code></td><td><ul class="detail">\(detail)</ul></td></tr>
                """
        }
        var next: HTML = .empty
        if let cursor = json["nextCursor"]?.text {
            let kept: [HTML] = ["subject", "department", "type", "action", "from", "to", "limit"].map { name in
                "<input type=\"hidden\" name=\"\(name)\" value=\"\(form.text(name))\">"
            }
            next = """
                <form method="post" action="\(pages.link("/console/audit"))" class="next">\(pages.csrfField)\(kept)\
                <input type="hidden" name="cursor" value="\(cursor)"><button type="submit">\(lang.t("下一页", "Next page"))</button></form>
                """
        }
        let count = entries.count
        return """
            <h2>\(lang.t("查询结果", "Entries"))</h2><p class="result-count">\(lang.t("本页", "This page")): <strong>\(count)</strong></p>\
            <table class="audit"><thead><tr><th>\(lang.t("日志索引", "Log index"))</th><th>\(lang.t("时间", "Time"))</th>\
            <th>\(lang.t("操作", "Action"))</th><th>\(lang.t("操作部门", "Actor"))</th><th>\(lang.t("用证部门", "Requester"))</th>\
            <th>\(lang.t("出证部门", "Owner"))</th><th>\(lang.t("证明事项", "Type"))</th><th>\(lang.t("核验对象", "Subject"))</th>\
            <th>\(lang.t("核验/凭证", "Verification"))</th><th>\(lang.t("详情", "Detail"))</th></tr></thead><tbody>\(rows)</tbody></table>\(next)
            """
    }

    // MARK: Checkpoint

    /// The newest signed checkpoint note (`GET /v1/audit/log/checkpoint`) verified here with the
    /// log's verifier key, its cosignatures checked against the configured witnesses' keys, and
    /// the JWS checkpoint (`GET /v1/audit/checkpoint`) verified with the service's signing certificate.
    func checkpoint() -> Reply {
        if let refusal = pages.forbidden(unlessAnyOf: [.auditor]) { return refusal }
        let title = lang.t("审计日志检查点", "Audit log checkpoint")
        let pages = self.pages
        let noteReply = ConsoleCall.calling { try TransparencyLogRoutes(context).checkpoint() }
        let noteSection: HTML
        switch noteReply {
        case .response(let response) where response.status == 200:
            noteSection = noteFacts(String(decoding: response.body, as: UTF8.self))
        case .problem(let problem):
            noteSection = "<h2>\(lang.t("签名检查点", "Signed checkpoint note"))</h2>\(pages.problemBox(problem))"
        case .failure(let error):
            return pages.refusal(context.log.problem(for: error, route: call.call.route.template))
        default:
            return noteReply
        }
        let jwsReply = ConsoleCall.calling { try AuditRoutes(context).checkpoint(call.apiGet("/v1/audit/checkpoint")) }
        return call.renderingJSON(jwsReply, refused: { pages.refusal($0) }) { json in
            pages.shown(title, HTML.join([noteSection, AuditorPages(pages: pages).jwsFacts(json)]))
        }
    }

    private func noteFacts(_ text: String) -> HTML {
        let ok = lang.t("验证通过", "verified")
        var verdict: HTML
        var size = "", root = "", signatures: [HTML] = []
        let vkey = context.transparencyLog?.vkey
        do {
            let note = try SignedNote(parsing: text)
            let key = try vkey.map { try NoteVerifierKey(vkey: $0) }
            if let key {
                let checkpoint = try Checkpoint(body: try key.verify(note))
                size = String(checkpoint.size)
                root = checkpoint.root.base64
                verdict = "<span class=\"badge answered verdict\" data-verified=\"true\">\(ok)</span>"
            } else {
                verdict = "<span class=\"badge overdue verdict\">\(lang.t("未配置日志密钥", "no log key configured"))</span>"
            }
            let witnesses = context.transparencyLog?.witnesses?.targets.map(\.key) ?? []
            for line in note.signatures where !(key.map { line.name == $0.name && line.keyID == $0.keyID } ?? false) {
                let state: String
                if let witness = witnesses.first(where: { $0.name == line.name && $0.keyID == line.keyID }) {
                    if let time = try? witness.verifiedTime(of: note) {
                        state = lang.t("见证方副签，验证通过，", "cosigned, verified, at ") + BeijingTime.format(Millis(time) * 1000)
                    } else {
                        state = lang.t("见证方副签未通过验证", "cosignature does not verify")
                    }
                } else {
                    state = lang.t("未知签名（按 C2SP 规则忽略）", "unknown signature (ignored under C2SP rules)")
                }
                signatures.append("<li><code>\(line.name)</code> — \(state)</li>")
            }
        } catch {
            verdict = "<span class=\"badge overdue verdict\" data-verified=\"false\">\(lang.t("验证失败：", "does not verify: "))\(String(describing: error))</span>"
        }
        return """
            <h2>\(lang.t("签名检查点（C2SP）", "Signed checkpoint note (C2SP)"))</h2><dl class="facts">\
            <dt>\(lang.t("验证结果", "Verification"))</dt><dd>\(verdict)</dd>\
            <dt>\(lang.t("树大小", "Tree size"))</dt><dd class="tree-size">\(size)</dd>\
            <dt>\(lang.t("根哈希", "Root hash"))</dt><dd><code>\(root)</code></dd>\
            <dt>\(lang.t("日志公钥", "Log verifier key"))</dt><dd><code>\(vkey)</code></dd>\
            <dt>\(lang.t("副签", "Cosignatures"))</dt><dd>\(signatures.isEmpty ? lang.t("无", "none") : "")<ul class="cosignatures">\(signatures)</ul></dd></dl>\
            <h3>\(lang.t("签名文本", "The signed note"))</h3><pre class="note">\(text)</pre>\
            <p class="muted">\(lang.t(
                "验证使用本服务配置的日志公钥；请与公布的公钥核对。",
                "Verified with this service's configured log key; compare it with the key published to you."))</p>
            """
    }

    fileprivate func jwsFacts(_ json: JSONValue) -> HTML {
        let jws = json["jws"]?.text ?? ""
        let verdict: HTML
        do {
            _ = try JWSVerifier.verify(jws, signer: context.signer.chain[0])
            verdict = "<span class=\"badge answered\">\(lang.t("验证通过", "verified"))</span>"
        } catch {
            verdict = "<span class=\"badge overdue\">\(lang.t("无法用当前签名证书验证：", "not verifiable with the current signing certificate: "))\(String(describing: error))</span>"
        }
        return """
            <h2>\(lang.t("JWS 检查点", "JWS checkpoint"))</h2><dl class="facts">\
            <dt>\(lang.t("验证结果", "Verification"))</dt><dd>\(verdict)</dd>\
            <dt>\(lang.t("条目数", "Entries"))</dt><dd>\(json["size"]?.text)</dd>\
            <dt>\(lang.t("树根（十六进制）", "Tree root (hex)"))</dt><dd><code>\(json["treeRoot"]?.text)</code></dd>\
            <dt>\(lang.t("时间", "Time"))</dt><dd>\(ConsolePages.beijing(json["time"]))</dd></dl>\
            <details><summary>JWS</summary><pre>\(jws)</pre></details>
            """
    }

    // MARK: Statistics

    /// `GET /v1/stats` for the chosen days (Beijing time): charts drawn here as SVG, every table,
    /// and the same report as CSV (`stats.csv`, the API's `format=csv`).
    func statistics(csv: Bool) -> Reply {
        if let refusal = pages.forbidden(unlessAnyOf: [.auditor, .operator]) { return refusal }
        let from = call.request.queryValue("from").flatMap { $0.isEmpty ? nil : $0 }
        let to = call.request.queryValue("to").flatMap { $0.isEmpty ? nil : $0 }
        // `to` is a day: the window ends at the end of it.
        let end = to.map { day in CalendarDate(iso8601: day).map { "\($0.adding(days: 1))T00:00:00+08:00" } ?? day }
        let query: [(String, String?)] = [
            ("from", from.map(BeijingTime.rfc3339(local:))), ("to", end), ("format", csv ? "csv" : nil),
        ]
        let reply = ConsoleCall.calling { try StatisticsRoutes(context).statistics(call.apiGet("/v1/stats", query: query)) }
        let pages = self.pages
        let title = lang.t("统计与图表", "Statistics")
        let refused: @Sendable (Problem) -> Reply = { problem in
            pages.shown(title, HTML.join([pages.problemBox(problem), AuditorPages(pages: pages).statisticsForm(from, to)]), problem: problem)
        }
        if csv {
            return call.rendering(reply, refused: refused) { response in
                var download = response
                download.headers.replace("Content-Disposition", "attachment; filename=\"heyan-statistics.csv\"")
                ConsoleRoutes.secure(&download)
                return .page(download, problemType: nil)
            }
        }
        return call.renderingJSON(reply, refused: refused) { json in
            let me = AuditorPages(pages: pages)
            return pages.shown(title, HTML.join([me.statisticsForm(from, to), me.statisticsBody(json, from: from, to: to)]))
        }
    }

    private func statisticsForm(_ from: String?, _ to: String?) -> HTML {
        """
        <form class="inline-form noprint" method="get" action="\(pages.link("/console/stats"))">\
        \(lang == .en ? "<input type=\"hidden\" name=\"lang\" value=\"en\">" as HTML : .empty)\
        <label for="from">\(lang.t("起始日", "From"))</label> <input type="date" id="from" name="from" value="\(from)"> \
        <label for="to">\(lang.t("截止日", "To"))</label> <input type="date" id="to" name="to" value="\(to)"> \
        <button type="submit">\(lang.t("统计", "Show"))</button></form>
        """
    }

    private func statisticsBody(_ json: JSONValue, from: String?, to: String?) -> HTML {
        let sections = json["sections"]?.elements ?? []
        func section(_ name: String) -> JSONValue? { sections.first { $0["name"]?.text == name } }
        let requests = section("requests")?["rows"]?.elements ?? []
        func label(_ row: JSONValue) -> String {
            "\(pages.departmentName(row["department"]?.text)) · \(row["certificateType"]?.text ?? "")"
        }
        // Answer times: the median per department and type, in a unit that suits the largest.
        let answered = requests.filter { $0["medianAnswerMs"]?.double != nil }
        let largest = answered.compactMap { $0["medianAnswerMs"]?.double }.max() ?? 0
        let (divisor, unit): (Double, String) =
            largest >= 7_200_000 ? (3_600_000, lang.t("小时", "h")) : largest >= 120_000 ? (60_000, lang.t("分钟", "min")) : (1000, lang.t("秒", "s"))
        let times = BarChart(
            title: lang.t("答复用时中位数（按出证部门和证明事项）", "Median answer time by owner and type"), unit: unit,
            bars: answered.map { BarChart.Bar(label($0), ($0["medianAnswerMs"]?.double ?? 0) / divisor) })
        let overdue = BarChart(
            title: lang.t("超期未答复（按出证部门和证明事项）", "Overdue, unanswered, by owner and type"), unit: lang.t("件", ""),
            bars: requests.map { BarChart.Bar(label($0), $0["overdue"]?.double ?? 0) })
        var methods: [(String, Double)] = []
        for row in section("exemptions")?["rows"]?.elements ?? [] {
            let method = (lang == .zh ? row["methodZh"]?.text : row["method"]?.text) ?? ""
            if let index = methods.firstIndex(where: { $0.0 == method }) { methods[index].1 += 1 } else { methods.append((method, 1)) }
        }
        let exemptions = BarChart(
            title: lang.t("证明材料免提交清单（按免提交方式）", "Exemption table by method"), unit: lang.t("项", ""),
            bars: methods.map { BarChart.Bar($0.0, $0.1) })
        let tables: [HTML] = sections.map { section in
            let columns = section["columns"]?.elements.compactMap(\.text) ?? []
            let head: [HTML] = columns.map { "<th>\($0)</th>" }
            let rows: [HTML] = (section["rows"]?.elements ?? []).map { row in
                let cells: [HTML] = columns.map { "<td>\(row[$0]?.text ?? "")</td>" }
                return "<tr>\(cells)</tr>"
            }
            return """
                <h3>\(section["title"]?.text) <code>\(section["name"]?.text)</code></h3>\
                <table class="stats" data-section="\(section["name"]?.text)"><thead><tr>\(head)</tr></thead><tbody>\(rows)</tbody></table>
                """
        }
        let csvLink = lang.link(
            "/console/stats.csv" + (from.map { "?from=\(ConsoleCall.queryEncoded($0))" } ?? "")
                + (to.map { "\(from == nil ? "?" : "&")to=\(ConsoleCall.queryEncoded($0))" } ?? ""))
        return """
            <p class="muted">\(lang.t("生成于", "Generated")) \(ConsolePages.beijing(json["generatedAt"])) · \
            \(lang.t("目录版本", "Catalog version")) \(json["catalogVersion"]?.text)</p>\
            <p><a class="csv-link" href="\(HTML.path(csvLink) ?? .empty)">\(lang.t("下载 CSV（与下列各表相同）", "Download CSV (the same tables)"))</a></p>\
            <div class="charts">\(times.html)\(overdue.html)\(exemptions.html)</div>\(tables)
            """
    }

    // MARK: Subject access report

    /// The form: subject ID and the reason (the citizen's request), sent by POST.
    func accessReportForm(_ form: ConsoleForm?, problem: Problem?) -> Reply {
        if let refusal = pages.forbidden(unlessAnyOf: [.auditor, .operator]) { return refusal }
        let body: HTML = """
            \(pages.problemBox(problem))<p class="muted">\(lang.t(
                "依《个人信息保护法》第四十四、四十五条，列出与该证件号码有关的全部核验、承诺和记录变更（不含所核验的内容），每条附审计日志索引。本次查阅本身将连同事由记入审计日志。",
                "Under PIPL Art. 44–45: every verification, commitment and record change about this subject (never the values), each with its log index. This access is itself audited with the reason."))</p>\
            <form class="stack" method="post" action="\(pages.link("/console/access-report"))">\(pages.csrfField)\
            <label for="subject">\(lang.t("证件号码", "Subject ID"))</label>\
            <input type="text" id="subject" name="subject" value="\(form?.text("subject"))" autocomplete="off">\
            <label for="reason">\(lang.t("查阅事由（如申请编号）", "Reason (e.g. the citizen's request number)"))</label>\
            <input type="text" id="reason" name="reason" value="\(form?.text("reason"))">\
            <p><button type="submit">\(lang.t("生成报告", "Make the report"))</button></p></form>
            """
        return pages.shown(lang.t("个人信息查阅记录报告", "Subject access report"), body, problem: problem)
    }

    /// `GET /v1/subjects/{id}/access-report?reason=` as the printable report.
    func accessReport(_ form: ConsoleForm) -> Reply {
        if let refusal = pages.forbidden(unlessAnyOf: [.auditor, .operator]) { return refusal }
        let apiCall = call.apiGet(
            "/v1/subjects/{id}/access-report", parameters: ["id": form.text("subject")], query: [("reason", form.text("reason"))])
        let reply = ConsoleCall.calling { try SubjectAccessRoutes(context).report(apiCall) }
        let pages = self.pages
        let reason = form.text("reason")
        return call.renderingJSON(reply, refused: { AuditorPages(pages: pages).accessReportForm(form, problem: $0) }) { json in
            AuditorPages(pages: pages).reportPage(json, reason: reason)
        }
    }

    private func reportPage(_ json: JSONValue, reason: String) -> Reply {
        let entries = json["entries"]?.elements ?? []
        let rows: [HTML] = entries.map { entry in
            """
            <tr><td class="num">\(entry["logIndex"]?.text)</td><td>\(ConsolePages.beijing(entry["time"]))</td>\
            <td><code>\(entry["action"]?.text)</code></td><td>\(pages.departmentName(entry["actor"]?.text))</td>\
            <td>\(pages.departmentName(entry["requester"]?.text))</td><td>\(pages.departmentName(entry["owner"]?.text))</td>\
            <td>\(entry["certificateType"]?.text)</td><td>\(entry["matterCode"]?.text)</td><td>\(entry["purpose"]?.text)</td>\
            <td>\(entry["method"]?.text)</td><td>\(entry["outcome"]?.text ?? entry["reason"]?.text)</td></tr>
            """
        }
        let body: HTML = """
            <dl class="facts"><dt>\(lang.t("证件号码", "Subject ID"))</dt><dd><code class="subject">\(json["subjectId"]?.text)</code></dd>\
            <dt>\(lang.t("查阅事由", "Reason"))</dt><dd>\(reason)</dd>\
            <dt>\(lang.t("查阅部门", "Made by"))</dt><dd>\(pages.departmentName(call.code))</dd>\
            <dt>\(lang.t("生成时间", "Made at"))</dt><dd>\(ConsolePages.beijing(json["generatedAt"]))</dd>\
            <dt>\(lang.t("条目数", "Entries"))</dt><dd class="count">\(json["count"]?.text)</dd></dl>\
            <table class="report"><thead><tr><th>\(lang.t("日志索引", "Log index"))</th><th>\(lang.t("时间", "Time"))</th>\
            <th>\(lang.t("操作", "Action"))</th><th>\(lang.t("操作部门", "Actor"))</th><th>\(lang.t("用证部门", "Requester"))</th>\
            <th>\(lang.t("出证部门", "Owner"))</th><th>\(lang.t("证明事项", "Type"))</th><th>\(lang.t("事项编码", "Matter"))</th>\
            <th>\(lang.t("用途", "Purpose"))</th><th>\(lang.t("方式", "Method"))</th><th>\(lang.t("结果/事由", "Outcome / reason"))</th></tr></thead>\
            <tbody>\(rows)</tbody></table>\
            <p class="muted">\(lang.t(
                "本报告不含所核验的内容。每条记录可凭日志索引对照已签名的审计日志检查点核验；本次查阅已记入审计日志。",
                "The report holds none of the values verified. Each entry can be checked against a signed checkpoint by its log index; this access is itself in the audit log."))</p>\
            <p class="noprint">\(lang.t("用浏览器的打印功能（Ctrl+P）打印本页。", "Print this page with the browser (Ctrl+P)."))\
             <a href="\(pages.link("/console/access-report"))">\(lang.t("新的报告", "Another report"))</a></p>
            """
        return pages.shown(lang.t("个人信息查阅记录报告", "Subject access report"), body)
    }
}
