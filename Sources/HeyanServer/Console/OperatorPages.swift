import HeyanDomain
import HeyanHTTP
import HeyanPresentation

/// The operator's pages (docs/console.md): catalog versions and a change form, complaints to
/// handle, the credit list with removal. Each calls the API's handler (``CatalogRoutes``,
/// ``ComplaintRoutes``, ``CreditRoutes``) as a call of the same department, with the form turned
/// into the API's JSON body, and renders its answer; a 422 is shown next to the field.
struct OperatorPages: ConsolePageGroup {
    let pages: ConsolePages

    init(call: ConsoleCall) { pages = ConsolePages(call: call) }
    private init(pages: ConsolePages) { self.pages = pages }

    static func register(page: ConsolePageRoute, form: ConsoleFormRoute) {
        page("/console/catalog") { OperatorPages(call: $0).versions() }
        page("/console/catalog/change") { OperatorPages(call: $0).changeForm(nil, problem: nil) }
        form("/console/catalog/change") { OperatorPages(call: $0).change($1) }
        page("/console/catalog/{version}") { OperatorPages(call: $0).version() }
        page("/console/complaints") { OperatorPages(call: $0).complaints(problem: nil, at: nil, form: nil) }
        form("/console/complaints/{id}/handle") { OperatorPages(call: $0).handle($1) }
        page("/console/credit") { OperatorPages(call: $0).creditForm(nil, problem: nil) }
        form("/console/credit") { OperatorPages(call: $0).credit(subject: $1.text("subject"), notice: nil, problem: nil, form: $1) }
        form("/console/credit/remove") { OperatorPages(call: $0).removeCredit($1) }
    }

    // MARK: Catalog

    /// `GET /v1/catalog/versions`: every version, when it takes effect, why and by whom.
    func versions() -> Reply {
        if let refusal = pages.forbidden(unlessAnyOf: [.operator]) { return refusal }
        let reply = ConsoleCall.calling { CatalogRoutes(context).versions(call.apiGet("/v1/catalog/versions")) }
        let pages = self.pages
        return call.renderingJSON(reply, refused: { pages.refusal($0) }) { json in
            let lang = pages.lang
            let rows: [HTML] = (json["versions"]?.elements ?? []).reversed().map { version in
                let number = version["version"]?.text ?? ""
                return """
                    <tr class="\(version["status"]?.text)"><td><a href="\(pages.link("/console/catalog/\(number)"))">\(lang.t("第", "version ")) \(number) \(lang.t("版", ""))</a></td>\
                    <td>\(version["status"]?.text)</td><td>\(ConsolePages.beijing(version["effectiveAt"]))</td>\
                    <td>\(version["reason"]?.text)</td><td>\(version["legalBasis"]?.text)</td><td>\(pages.departmentName(version["actor"]?.text))</td>\
                    <td>\((version["changedCodes"]?.elements ?? []).compactMap(\.text).joined(separator: ", "))</td></tr>
                    """
            }
            let body: HTML = """
                <p>\(lang.t("现行版本", "In effect")): <strong class="active-version">\(json["active"]?.text)</strong> · \
                <a href="\(pages.link("/console/catalog/change"))">\(lang.t("变更目录", "Change the catalog"))</a></p>\
                <table class="versions"><thead><tr><th>\(lang.t("版本", "Version"))</th><th>\(lang.t("状态", "Status"))</th>\
                <th>\(lang.t("生效时间", "Effective"))</th><th>\(lang.t("变更理由", "Reason"))</th><th>\(lang.t("依据", "Legal basis"))</th>\
                <th>\(lang.t("变更部门", "By"))</th><th>\(lang.t("变更事项", "Changed"))</th></tr></thead><tbody>\(rows)</tbody></table>
                """
            return pages.shown(lang.t("证明事项目录版本", "Catalog versions"), body)
        }
    }

    /// `GET /v1/catalog?version=N`: the items of one version.
    func version() -> Reply {
        if let refusal = pages.forbidden(unlessAnyOf: [.operator]) { return refusal }
        let number = call.call.parameter("version")
        let reply = ConsoleCall.calling { try CatalogRoutes(context).list(call.apiGet("/v1/catalog", query: [("version", number)])) }
        let pages = self.pages
        return call.renderingJSON(reply, refused: { pages.refusal($0) }) { json in
            let lang = pages.lang
            let rows: [HTML] = (json["items"]?.elements ?? []).map { item in
                let name = (lang == .zh ? item["name"]?["zh"]?.text : item["name"]?["en"]?.text) ?? ""
                let requesters = (item["requesters"]?.elements ?? []).map { grant in
                    "\(pages.departmentName(grant["department"]?.text)) (\((grant["matterCodes"]?.elements ?? []).compactMap(\.text).joined(separator: ", ")))"
                }
                return """
                    <tr><td><code>\(item["code"]?.text)</code></td><td>\(name)</td><td>\(pages.departmentName(item["owner"]?.text))</td>\
                    <td>\(item["method"]?.text)</td><td>\(item["timeLimitWorkingDays"]?.text)</td><td>\(item["legalBasis"]?.text)</td>\
                    <td>\(requesters.joined(separator: "; "))</td></tr>
                    """
            }
            let body: HTML = """
                <p><a href="\(pages.link("/console/catalog"))">\(lang.t("全部版本", "All versions"))</a></p>\
                <table class="catalog"><thead><tr><th>\(lang.t("编码", "Code"))</th><th>\(lang.t("名称", "Name"))</th>\
                <th>\(lang.t("出证部门", "Owner"))</th><th>\(lang.t("方式", "Method"))</th><th>\(lang.t("时限（工作日）", "Working days"))</th>\
                <th>\(lang.t("设定依据", "Legal basis"))</th><th>\(lang.t("用证部门（事项编码）", "Requesters (matter codes)"))</th></tr></thead>\
                <tbody>\(rows)</tbody></table>
                """
            return pages.shown(lang.t("目录第 \(json["version"]?.text ?? number) 版", "Catalog version \(json["version"]?.text ?? number)"), body)
        }
    }

    /// The change form: one change (add, amend or cancel) with the version's reason and basis.
    func changeForm(_ form: ConsoleForm?, problem: Problem?) -> Reply {
        if let refusal = pages.forbidden(unlessAnyOf: [.operator]) { return refusal }
        func value(_ name: String) -> String { form?.text(name) ?? "" }
        func error(_ field: String, _ matches: @escaping (String) -> Bool) -> HTML { pages.fieldError(problem, field, paths: matches) }
        let known: (String) -> Bool = { path in
            ["reason", "legalBasis", "effectiveAt", "changes", "changes[0]", "changes[0].op", "changes[0].code", "changes[0].reason"]
                .contains(path) || path.hasPrefix("changes[0].fields") || path.hasPrefix("changes[0].item")
        }
        let chosen = value("op").isEmpty ? "amend" : value("op")
        let ops: [HTML] = [("amend", "修改事项", "amend an item"), ("add", "新增事项", "add an item"), ("cancel", "取消事项", "cancel an item")].map {
            op, zh, en in "<option value=\"\(op)\"\(chosen == op ? " selected" as HTML : .empty)>\(lang.t(zh, en)) (\(op))</option>"
        }
        let codes: [HTML] = context.catalogs.latest.catalog.items.map { item in
            "<option value=\"\(item.code)\"\(value("code") == item.code ? " selected" as HTML : .empty)>\(item.code) — \(lang.name(item.name))</option>"
        }
        let base = form?.text("baseVersion") ?? String(context.catalogs.latest.version)
        let body: HTML = """
            \(pages.problemBox(problem))\(error("other") { !known($0) })\
            <form class="stack" method="post" action="\(pages.link("/console/catalog/change"))">\(pages.csrfField)\
            <input type="hidden" name="baseVersion" value="\(base)">\
            <p class="muted">\(lang.t("基于第 \(base) 版；校验规则与 POST /v1/catalog/changes 相同。", "Based on version \(base); checked exactly as POST /v1/catalog/changes."))</p>\
            <label for="reason">\(lang.t("变更理由", "Reason"))</label><textarea id="reason" name="reason" rows="2">\(value("reason"))</textarea>\(error("reason") { $0 == "reason" })\
            <label for="legalBasis">\(lang.t("变更依据", "Legal basis"))</label><input type="text" id="legalBasis" name="legalBasis" value="\(value("legalBasis"))">\(error("legalBasis") { $0 == "legalBasis" })\
            <label for="effectiveAt">\(lang.t("生效时间（北京时间，留空即时生效）", "Takes effect (Beijing time; empty: now)"))</label>\
            <input type="datetime-local" id="effectiveAt" name="effectiveAt" value="\(value("effectiveAt"))">\(error("effectiveAt") { $0 == "effectiveAt" })\
            <label for="op">\(lang.t("变更类型", "Change"))</label><select id="op" name="op">\(ops)</select>\
            \(error("op") { ["changes", "changes[0]", "changes[0].op"].contains($0) })\
            <label for="code">\(lang.t("事项编码（修改、取消）", "Item code (amend, cancel)"))</label>\
            <select id="code" name="code"><option value="">—</option>\(codes)</select>\(error("code") { $0 == "changes[0].code" })\
            <label for="json">\(lang.t("修改的字段或新事项（JSON 对象）", "Fields to change, or the new item (a JSON object)"))</label>\
            <textarea id="json" name="json" rows="6" placeholder="{&quot;timeLimitWorkingDays&quot;: 2}">\(value("json"))</textarea>\
            \(error("json") { $0.hasPrefix("changes[0].fields") || $0.hasPrefix("changes[0].item") })\
            <label for="cancelReason">\(lang.t("取消理由（取消）", "Why it is cancelled (cancel)"))</label>\
            <input type="text" id="cancelReason" name="cancelReason" value="\(value("cancelReason"))">\(error("cancelReason") { $0 == "changes[0].reason" })\
            <p><button type="submit">\(lang.t("提交变更", "Submit the change"))</button></p></form>
            """
        return pages.shown(lang.t("变更目录", "Change the catalog"), body, problem: problem)
    }

    /// The form as the API's body, handed to `POST /v1/catalog/changes`; back to the new version.
    func change(_ form: ConsoleForm) -> Reply {
        if let refusal = pages.forbidden(unlessAnyOf: [.operator]) { return refusal }
        let op = form.text("op")
        // The JSON the operator typed; text that is not JSON goes as a string, for the API to refuse.
        let typed = (try? JSONValue(parsing: Array(form.text("json").utf8))) ?? .string(form.text("json"))
        var change: [(String, JSONValue)] = [("op", .string(op))]
        switch op {
        case "add": change.append(("item", typed))
        case "cancel": change += [("code", .string(form.text("code"))), ("reason", .string(form.text("cancelReason")))]
        default: change += [("code", .string(form.text("code"))), ("fields", typed)]
        }
        var body: [(String, JSONValue)] = []
        if let base = Int64(form.text("baseVersion")) { body.append(("baseVersion", .int(base))) }
        if !form.text("effectiveAt").isEmpty { body.append(("effectiveAt", .string(BeijingTime.rfc3339(local: form.text("effectiveAt"))))) }
        body += [("reason", .string(form.text("reason"))), ("legalBasis", .string(form.text("legalBasis"))), ("changes", .array([.object(change)]))]
        let apiCall = call.apiCall("POST", "/v1/catalog/changes", json: .object(body))
        let reply = ConsoleCall.calling { try CatalogRoutes(context).change(apiCall) }
        let pages = self.pages
        return call.renderingJSON(reply, refused: { OperatorPages(pages: pages).changeForm(form, problem: $0) }) { json in
            .page(ConsoleRoutes.redirect(pages.lang.link("/console/catalog/\(json["version"]?.text ?? "")")), problemType: nil)
        }
    }

    // MARK: Complaints

    /// `GET /v1/complaints?status=`: open complaints each with a form to handle it, or the
    /// handled ones with their replies. `problem` is shown at complaint `id`'s form.
    func complaints(problem: Problem?, at id: String?, form: ConsoleForm?) -> Reply {
        if let refusal = pages.forbidden(unlessAnyOf: [.operator]) { return refusal }
        let status = call.request.queryValue("status") == "handled" ? "handled" : "open"
        let reply = ConsoleCall.calling {
            try ComplaintRoutes(context).list(call.apiGet("/v1/complaints", query: [("status", status)]))
        }
        let pages = self.pages
        return call.renderingJSON(reply, refused: { pages.refusal($0) }) { json in
            let lang = pages.lang
            let items: [HTML] = (json["complaints"]?.elements ?? []).map { complaint in
                let complaintID = complaint["id"]?.text ?? ""
                let facts: HTML = """
                    <dl class="facts"><dt>\(lang.t("投诉部门", "Filed by"))</dt><dd>\(pages.departmentName(complaint["filedBy"]?.text))\
                    \(complaint["onBehalfOfCitizen"] == .bool(true) ? " (\(lang.t("代群众", "for a citizen")))" : "")</dd>\
                    <dt>\(lang.t("被投诉部门", "Against"))</dt><dd>\(pages.departmentName(complaint["againstDepartment"]?.text))</dd>\
                    <dt>\(lang.t("索要的证明", "Certificate demanded"))</dt><dd>\(complaint["certificateDemanded"]?.text) \
                    <span class="badge">\(complaint["catalogStanding"]?.text)</span></dd>\
                    <dt>\(lang.t("事项编码", "Matter code"))</dt><dd>\(complaint["matterCode"]?.text)</dd>\
                    <dt>\(lang.t("投诉内容", "Complaint"))</dt><dd class="description">\(complaint["description"]?.text)</dd>\
                    <dt>\(lang.t("提交时间", "Filed"))</dt><dd>\(ConsolePages.beijing(complaint["createdAt"]))</dd></dl>
                    """
                guard status == "open" else {
                    return """
                        <section class="complaint" id="\(complaintID)"><h3><code>\(complaintID)</code></h3>\(facts)\
                        <p><strong>\(lang.t("答复", "Reply"))</strong> (\(pages.departmentName(complaint["handledBy"]?.text)), \
                        \(ConsolePages.beijing(complaint["handledAt"]))): \(complaint["reply"]?.text)</p></section>
                        """
                }
                let here = id == complaintID ? problem : nil
                return """
                    <section class="complaint" id="\(complaintID)"><h3><code>\(complaintID)</code></h3>\(facts)\
                    \(id == complaintID ? pages.problemBox(problem) : .empty)\
                    <form class="stack" method="post" action="\(pages.link("/console/complaints/\(complaintID)/handle"))">\(pages.csrfField)\
                    <label for="reply-\(complaintID)">\(lang.t("处理答复", "Reply"))</label>\
                    <textarea id="reply-\(complaintID)" name="reply" rows="3">\(id == complaintID ? form?.text("reply") : nil)</textarea>\
                    \(pages.fieldError(here, "reply") { $0 == "reply" })\
                    <p><button type="submit">\(lang.t("办结", "Mark handled"))</button></p></form></section>
                    """
            }
            let tabs: HTML = """
                <p class="tabs"><a href="\(pages.link("/console/complaints"))">\(lang.t("待处理", "Open"))</a> · \
                <a href="\(pages.link("/console/complaints?status=handled"))">\(lang.t("已处理", "Handled"))</a></p>
                """
            let empty: HTML = items.isEmpty ? "<p class=\"muted\">\(lang.t("没有投诉。", "No complaints."))</p>" : .empty
            return pages.shown(
                status == "open" ? lang.t("待处理的监督投诉", "Complaints to handle") : lang.t("已处理的监督投诉", "Handled complaints"),
                "\(tabs)\(empty)\(items)", problem: problem)
        }
    }

    /// `POST /v1/complaints/{id}/handle` with the reply; back to the list.
    func handle(_ form: ConsoleForm) -> Reply {
        if let refusal = pages.forbidden(unlessAnyOf: [.operator]) { return refusal }
        let id = call.call.parameter("id")
        let apiCall = call.apiCall("POST", "/v1/complaints/{id}/handle", parameters: ["id": id], json: .object([("reply", .string(form.text("reply")))]))
        let reply = ConsoleCall.calling { try ComplaintRoutes(context).handle(apiCall) }
        let pages = self.pages
        return call.rendering(reply, refused: { OperatorPages(pages: pages).complaints(problem: $0, at: id, form: form) }) { _ in
            .page(ConsoleRoutes.redirect(pages.lang.link("/console/complaints")), problemType: nil)
        }
    }

    // MARK: Credit list

    func creditForm(_ form: ConsoleForm?, problem: Problem?) -> Reply {
        if let refusal = pages.forbidden(unlessAnyOf: [.operator]) { return refusal }
        let body: HTML = """
            \(pages.problemBox(problem))<form class="stack" method="post" action="\(pages.link("/console/credit"))">\(pages.csrfField)\
            <label for="subject">\(lang.t("证件号码", "Subject ID"))</label>\
            <input type="text" id="subject" name="subject" value="\(form?.text("subject"))" autocomplete="off">\
            <p><button type="submit">\(lang.t("查询信用记录", "Look up"))</button></p></form>
            """
        return pages.shown(lang.t("信用记录", "Credit list"), body, problem: problem)
    }

    /// `GET /v1/credit/{subjectId}` (the subject from the form body): the entries, each active one
    /// with a removal form. `problem` is shown at entry `form["entry"]`'s form.
    func credit(subject: String, notice: HTML?, problem: Problem?, form: ConsoleForm?) -> Reply {
        if let refusal = pages.forbidden(unlessAnyOf: [.operator]) { return refusal }
        let reply = ConsoleCall.calling {
            try CreditRoutes(context).list(call.apiGet("/v1/credit/{subjectId}", parameters: ["subjectId": subject]))
        }
        let pages = self.pages
        return call.renderingJSON(reply, refused: { OperatorPages(pages: pages).creditForm(form, problem: $0) }) { json in
            let lang = pages.lang
            let failing = form?.text("entry")
            let rows: [HTML] = (json["entries"]?.elements ?? []).map { entry in
                let entryID = entry["id"]?.text ?? ""
                let removal: HTML
                if entry["active"] == .bool(true) {
                    let here = failing == entryID ? problem : nil
                    removal = """
                        <form method="post" action="\(pages.link("/console/credit/remove"))" class="remove">\(pages.csrfField)\
                        <input type="hidden" name="subject" value="\(subject)"><input type="hidden" name="entry" value="\(entryID)">\
                        <label for="reason-\(entryID)">\(lang.t("移出理由（必填）", "Reason (required)"))</label> \
                        <input type="text" id="reason-\(entryID)" name="reason" value="\(failing == entryID ? form?.text("reason") : nil)">\
                        \(pages.fieldError(here, "reason") { $0 == "reason" || $0.isEmpty })\
                        <button type="submit">\(lang.t("移出信用名单", "Remove"))</button></form>
                        """
                } else {
                    removal = """
                        \(lang.t("已移出", "Removed")) \(ConsolePages.beijing(entry["removedAt"])) \
                        (\(pages.departmentName(entry["removedBy"]?.text))): \(entry["removalReason"]?.text)
                        """
                }
                return """
                    <tr><td><code>\(entryID)</code></td><td>\(entry["certificateType"]?.text)</td><td><code>\(entry["commitment"]?.text)</code></td>\
                    <td>\(entry["reason"]?.text)</td><td>\(entry["evidence"]?.text)</td><td>\(pages.departmentName(entry["recordedBy"]?.text)) \
                    \(ConsolePages.beijing(entry["recordedAt"]))</td><td>\(removal)</td></tr>
                    """
            }
            let listed = json["listed"] == .bool(true)
            let body: HTML = """
                \(notice ?? .empty)\(failing == nil ? pages.problemBox(problem) : .empty)\
                <p>\(lang.t("证件号码", "Subject ID")): <code>\(subject)</code> · \
                <strong class="listed">\(listed ? lang.t("在信用名单上", "listed") : lang.t("不在信用名单上", "not listed"))</strong></p>\
                <table class="credit"><thead><tr><th>\(lang.t("编号", "Entry"))</th><th>\(lang.t("证明事项", "Type"))</th>\
                <th>\(lang.t("承诺", "Commitment"))</th><th>\(lang.t("列入理由", "Reason"))</th><th>\(lang.t("证据", "Evidence"))</th>\
                <th>\(lang.t("列入", "Recorded"))</th><th>\(lang.t("移出", "Removal"))</th></tr></thead><tbody>\(rows)</tbody></table>\
                <p><a href="\(pages.link("/console/credit"))">\(lang.t("查询其他证件号码", "Another subject"))</a></p>
                """
            return pages.shown(lang.t("信用记录", "Credit list"), body, problem: problem)
        }
    }

    /// `POST /v1/credit/{subjectId}/entries/{entryId}/remove` with the reason; the list again.
    func removeCredit(_ form: ConsoleForm) -> Reply {
        if let refusal = pages.forbidden(unlessAnyOf: [.operator]) { return refusal }
        let subject = form.text("subject")
        let apiCall = call.apiCall(
            "POST", "/v1/credit/{subjectId}/entries/{entryId}/remove", parameters: ["subjectId": subject, "entryId": form.text("entry")],
            json: .object([("reason", .string(form.text("reason")))]))
        let reply = ConsoleCall.calling { try CreditRoutes(context).remove(apiCall) }
        let pages = self.pages
        return call.rendering(reply, refused: { OperatorPages(pages: pages).credit(subject: subject, notice: nil, problem: $0, form: form) }) {
            _ in
            let notice: HTML = "<p class=\"notice\">\(pages.lang.t("已移出。", "Removed."))</p>"
            return OperatorPages(pages: pages).credit(subject: subject, notice: notice, problem: nil, form: nil)
        }
    }
}
