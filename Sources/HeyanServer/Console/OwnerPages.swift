import HeyanDomain
import HeyanHTTP
import HeyanPresentation

/// The owner clerk's pages beyond the verification queue (docs/console.md): spot checks of
/// commitments (事后核查), the department's shared records (数据共享: look one up, add or correct
/// it, a CSV upload for many) and revoking an attestation the department issued. Every write is
/// the API's handler (``QueueRoutes``, ``RecordRoutes``, ``AttestationRoutes``) called with the
/// form as its JSON body, as a ``ServiceCall`` of the same department and clerk.
struct OwnerPages: ConsolePageGroup {
    let pages: ConsolePages

    init(call: ConsoleCall) { pages = ConsolePages(call: call) }

    static func register(page: ConsolePageRoute, form: ConsoleFormRoute) {
        page("/console/spot-checks") { try OwnerPages(call: $0).spotChecks() }
        form("/console/spot-checks/lease") { call, _ in try OwnerPages(call: call).leaseSpotCheck() }
        form("/console/spot-checks/{id}/answer") { try OwnerPages(call: $0).answerSpotCheck($1) }
        page("/console/records") { try OwnerPages(call: $0).records() }
        form("/console/records/find") { try OwnerPages(call: $0).findRecord($1) }
        form("/console/records/put") { try OwnerPages(call: $0).putRecord($1) }
        form("/console/records/upload") { try OwnerPages(call: $0).upload($1) }
        form("/console/attestations/{id}/revoke") { try OwnerPages(call: $0).revoke($1) }
    }

    /// The home page's links for an owner.
    static func menu(_ pages: ConsolePages) -> [HTML] {
        [
            "<li><a href=\"\(pages.link("/console/spot-checks"))\">\(pages.lang.t("承诺事后核查", "Spot checks of commitments"))</a></li>",
            "<li><a href=\"\(pages.link("/console/records"))\">\(pages.lang.t("本部门共享数据", "Shared records"))</a></li>",
        ]
    }

    private func guarded(_ body: () throws -> Reply) throws -> Reply { try guarded(.owner, body) }

    // MARK: Spot checks

    func spotChecks() throws -> Reply {
        try guarded {
            let count = try context.store.spotCheckQueueCounts().first { $0.owner == department.code }
            let body: HTML = """
                <p>\(lang.t("待核查", "Waiting")): <strong>\(count?.pending ?? 0)</strong> · \(lang.t("核查中", "Leased")): \
                <strong>\(count?.leased ?? 0)</strong> · \(lang.t("已超期", "Overdue")): \
                <strong class="\((count?.overdue ?? 0) == 0 ? "" : "error")">\(count?.overdue ?? 0)</strong></p>\
                <form method="post" action="\(pages.link("/console/spot-checks/lease"))">\(pages.csrfField)\
                <button type="submit">\(lang.t("领取下一件核查", "Lease the next spot check"))</button></form>
                """
            return pages.shown(lang.t("承诺事后核查", "Spot checks of commitments"), body)
        }
    }

    func leaseSpotCheck() throws -> Reply {
        try guarded {
            let now = call.now
            let owner = self
            return .awaiting({ [context, code = department.code, clerk = call.call.clerk] completion in
                context.store.leaseSpotChecks(owner: code, clerk: clerk, limit: 1, duration: 900_000, now: now, completion: completion)
            }) { result in
                result.reply { leased in
                    guard let first = leased.first else {
                        let body: HTML = """
                            <p>\(owner.lang.t("目前没有待核查的承诺。", "No spot check is waiting."))</p>\
                            <p><a href="\(owner.pages.link("/console/spot-checks"))">\(owner.lang.t("返回", "Back"))</a></p>
                            """
                        return owner.pages.shown(owner.lang.t("领取", "Lease"), body)
                    }
                    return owner.pages.shown(
                        owner.lang.t("承诺核查", "Spot check"),
                        owner.spotCheckBody(first, token: first.item.leaseToken ?? "", form: nil, problem: nil))
                }
            }
        }
    }

    /// The commitment under check (what the applicant committed to, on what template) and the
    /// finding form.
    private func spotCheckBody(_ leased: LeasedSpotCheck, token: String, form: ConsoleForm?, problem: Problem?) -> HTML {
        let commitment = leased.commitment
        let type = context.catalog[commitment.certificateType]
        let claims: [HTML] = commitment.claims.keys.sorted().map {
            "<li><code>\($0)</code>: \(ConsolePages.text(commitment.claims[$0]!))</li>"
        }
        let chosen = form?.text("outcome") ?? ""
        let outcomes: [HTML] = SpotCheckOutcome.allCases.map { outcome in
            let label = outcome == .consistent ? lang.t("与承诺一致", "consistent") : lang.t("虚假承诺", "false commitment")
            return """
                <label class="inline"><input type="radio" name="outcome" value="\(outcome.rawValue)"\
                \(chosen == outcome.rawValue ? " checked" as HTML : .empty)> \(label)</label>
                """
        }
        return """
            \(pages.problemBox(problem))<dl class="facts">\
            <dt>\(lang.t("证明事项", "Certificate type"))</dt><dd>\(type.map { lang.name($0.name) } ?? commitment.certificateType)</dd>\
            <dt>\(lang.t("承诺编号", "Commitment"))</dt><dd><code>\(commitment.id)</code></dd>\
            <dt>\(lang.t("用证部门", "Requester"))</dt><dd>\(context.directory[commitment.requester].map { lang.name($0.name) } ?? commitment.requester)</dd>\
            <dt>\(lang.t("用途", "Purpose"))</dt><dd>\(commitment.purpose)</dd>\
            <dt>\(lang.t("承诺人", "Applicant"))</dt><dd>\(commitment.subject.name) <code>\(commitment.subject.id)</code></dd>\
            <dt>\(lang.t("承诺内容", "Committed to"))</dt><dd><ul>\(claims)</ul></dd>\
            <dt>\(lang.t("承诺书", "Commitment text"))</dt><dd>\(commitment.text ?? "")</dd>\
            <dt>\(lang.t("签署时间", "Signed"))</dt><dd>\(BeijingTime.format(commitment.signedAt))</dd>\
            <dt>\(lang.t("核查时限", "Due"))</dt><dd>\(BeijingTime.format(leased.item.dueAt))</dd></dl>\
            <h2>\(lang.t("核查结论", "Finding"))</h2>\
            <form class="stack" method="post" action="\(pages.link("/console/spot-checks/\(leased.item.id)/answer"))">\(pages.csrfField)\
            <input type="hidden" name="leaseToken" value="\(token)">\
            <label>\(lang.t("结论", "Outcome"))</label>\(outcomes)\(pages.fieldError(problem, "outcome"))\
            <label for="note">\(lang.t("说明", "Note"))</label><textarea id="note" name="note" rows="2">\(form?.text("note") ?? "")</textarea>\(pages.fieldError(problem, "note"))\
            <label for="evidence">\(lang.t("核查依据", "Evidence"))</label><input type="text" id="evidence" name="evidence" value="\(form?.text("evidence") ?? "")">\(pages.fieldError(problem, "evidence"))\
            \(pages.fieldError(problem, "leaseToken"))<p><button type="submit">\(lang.t("提交核查结论", "Record the finding"))</button></p></form>
            """
    }

    func answerSpotCheck(_ form: ConsoleForm) throws -> Reply {
        try guarded {
            let id = call.call.parameter("id")
            var members: [(String, JSONValue)] = [("leaseToken", .string(form.text("leaseToken"))), ("outcome", .string(form.text("outcome")))]
            for name in ["note", "evidence"] where !form.text(name).isEmpty { members.append((name, .string(form.text(name)))) }
            let apiCall = call.apiCall("POST", "/v1/queue/{id}/answer", parameters: ["id": id], json: .object(members))
            let reply = ConsoleCall.calling { try QueueRoutes(context).answer(apiCall) }
            let owner = self
            return reply.then { final in
                switch final {
                case .response(let response) where (200..<300).contains(response.status):
                    let body: HTML = """
                        <p class="done">\(owner.lang.t("核查结论已记录。", "The finding is recorded."))</p>\
                        <p><a href="\(owner.pages.link("/console/spot-checks"))">\(owner.lang.t("返回", "Back"))</a></p>
                        """
                    return owner.pages.shown(owner.lang.t("核查完成", "Spot check recorded"), body)
                case .problem(let problem):
                    guard let item = try? owner.context.store.spotCheck(id: id), item.owner == owner.department.code,
                        let commitment = try? owner.context.store.commitment(id: item.commitmentID)
                    else { return owner.pages.refusal(problem) }
                    let body = owner.spotCheckBody(
                        LeasedSpotCheck(item: item, commitment: commitment), token: form.text("leaseToken"), form: form, problem: problem)
                    return owner.pages.shown(owner.lang.t("承诺核查", "Spot check"), body, problem: problem)
                default:
                    return final
                }
            }
        }
    }

    // MARK: Shared records

    /// The `data-sharing` types this department owns.
    private var ownedTypes: [CertificateType] {
        context.catalog.items.filter { $0.owner == department.code && $0.method == .dataSharing }.sorted { $0.code < $1.code }
    }

    private func typeSelect(id: String, current: String) -> HTML {
        let name = "certificateType"
        let options: [HTML] = ownedTypes.map {
            "<option value=\"\($0.code)\"\(current == $0.code ? " selected" as HTML : .empty)>\(lang.name($0.name)) (\($0.code))</option>"
        }
        return "<select id=\"\(id)\" name=\"\(name)\">\(options)</select>"
    }

    func records(problem: Problem? = nil, lookup: HTML = .empty, upload: HTML = .empty, form: ConsoleForm? = nil) throws -> Reply {
        try guarded {
            let types: [HTML] = ownedTypes.map { type in
                let columns = (["subjectId"] + type.claims.keys.sorted()).joined(separator: ",")
                return "<li>\(lang.name(type.name)) <code>\(type.code)</code> — CSV: <code>\(columns)</code></li>"
            }
            let body: HTML = """
                <p>\(lang.t("本部门以数据共享方式提供的证明事项：", "The data-sharing types this department owns:"))</p><ul>\(types)</ul>\
                <h2>\(lang.t("查看、新增或更正一条", "Look up, add or correct one"))</h2>\
                <form class="stack" method="post" action="\(pages.link("/console/records/find"))">\(pages.csrfField)\
                <label for="certificateType">\(lang.t("证明事项", "Certificate type"))</label>\(typeSelect(id: "certificateType", current: form?.text("certificateType") ?? ""))\(pages.fieldError(problem, "certificateType"))\
                <label for="subjectId">\(lang.t("证件号码", "ID number"))</label><input type="text" id="subjectId" name="subjectId" autocomplete="off" value="\(form?.text("subjectId") ?? "")">\
                <p><button type="submit">\(lang.t("查找", "Look up"))</button></p></form>\(lookup)\
                <h2>\(lang.t("批量上传（CSV）", "Upload many (CSV)"))</h2>\(upload)\
                <form class="stack" method="post" action="\(pages.link("/console/records/upload"))">\(pages.csrfField)\
                <label for="uploadType">\(lang.t("证明事项", "Certificate type"))</label>\(typeSelect(id: "uploadType", current: form?.text("certificateType") ?? ""))\
                <label for="csvFile">\(lang.t("选择文件", "Choose a file"))</label><input type="file" id="csvFile" accept=".csv,text/csv" data-fills="csv">\
                <label for="csv">\(lang.t("或粘贴 CSV（首行为列名）", "or paste the CSV (first line: the column names)"))</label>\
                <textarea id="csv" name="csv" rows="8">\(form?.text("csv") ?? "")</textarea>\(pages.fieldError(problem, "csv"))\
                <p><button type="submit">\(lang.t("上传", "Upload"))</button></p></form>
                """
            return pages.shown(lang.t("本部门共享数据", "Shared records"), "\(pages.problemBox(problem))\(body)", problem: problem)
        }
    }

    /// The record's form: its current claims (or empty for a new one), one field per claim.
    private func recordForm(_ type: CertificateType, subjectID: String, claims: ClaimSet?, form: ConsoleForm?, problem: Problem?) -> HTML {
        let fields: [HTML] = type.claims.keys.sorted().map { name in
            let schema = type.claims[name]!
            let field = "claims.\(name)"
            let current = form?.text(field) ?? claims?[name].map(ConsolePages.text) ?? ""
            let control: HTML
            if let values = schema.allowedValues ?? (schema.type == .boolean ? ["true", "false"] : nil) {
                let options: [HTML] = values.map { "<option value=\"\($0)\"\(current == $0 ? " selected" as HTML : .empty)>\($0)</option>" }
                control = "<select id=\"\(field)\" name=\"\(field)\">\(options)</select>"
            } else {
                control = "<input type=\"text\" id=\"\(field)\" name=\"\(field)\" value=\"\(current)\">"
            }
            return "<label for=\"\(field)\"><code>\(name)</code> — \(schema.description)</label>\(control)\(pages.fieldError(problem, field))"
        }
        let status: HTML = claims == nil
            ? "<p class=\"muted\">\(lang.t("尚无此记录：填写后新增。", "No record yet: fill in to add it."))</p>"
            : "<p class=\"muted\">\(lang.t("现有记录：修改后更正。", "The current record: change it to correct it."))</p>"
        return """
            \(status)<form class="stack record" method="post" action="\(pages.link("/console/records/put"))">\(pages.csrfField)\
            <input type="hidden" name="certificateType" value="\(type.code)"><input type="hidden" name="subjectId" value="\(subjectID)">\
            <p><strong>\(lang.name(type.name))</strong> · <code>\(subjectID)</code></p>\(fields)\(pages.fieldError(problem, "subjectId"))\
            <p><button type="submit">\(lang.t("保存", "Save"))</button></p></form>
            """
    }

    func findRecord(_ form: ConsoleForm) throws -> Reply {
        try guarded {
            guard let type = ownedTypes.first(where: { $0.code == form.text("certificateType") }) else {
                return try records(problem: .unprocessable(errors: [.init(path: "certificateType", message: "not a data-sharing type of this department")]), form: form)
            }
            let subjectID = form.text("subjectId").trimmingCharacters(in: [" "])
            let record = subjectID.isEmpty ? nil : try context.store.record(certificateType: type.code, subjectID: subjectID)
            return try records(lookup: recordForm(type, subjectID: subjectID, claims: record?.claims, form: nil, problem: nil), form: form)
        }
    }

    func putRecord(_ form: ConsoleForm) throws -> Reply {
        try guarded {
            let code = form.text("certificateType")
            let subjectID = form.text("subjectId")
            let type = context.catalog[code]
            var claims: [(String, JSONValue)] = []
            for (name, value) in form.fields where name.hasPrefix("claims.") {
                let claim = String(name.dropFirst("claims.".count))
                claims.append((claim, ConsolePages.claimJSON(value, schema: type?.claims[claim], existing: nil)))
            }
            let apiCall = call.apiCall(
                "PUT", "/v1/records/{type}/{subjectId}", parameters: ["type": code, "subjectId": subjectID],
                json: .object([("claims", .object(claims))]))
            let reply = ConsoleCall.calling { try RecordRoutes(context).put(apiCall) }
            let owner = self
            return reply.then { final in
                switch final {
                case .response(let response) where (200..<300).contains(response.status):
                    let saved: HTML = "<p class=\"done\">\(response.status == 201 ? owner.lang.t("已新增。", "Added.") : owner.lang.t("已更正。", "Corrected."))</p>"
                    return (try? owner.records(lookup: saved, form: form)) ?? final
                case .problem(let problem):
                    guard let type else { return owner.pages.refusal(problem) }
                    // The API's paths are `claims.X` and `subjectId`: shown next to those fields.
                    let again = owner.recordForm(type, subjectID: subjectID, claims: nil, form: form, problem: problem)
                    return (try? owner.records(problem: problem, lookup: again, form: form)) ?? owner.pages.refusal(problem)
                default:
                    return final
                }
            }
        }
    }

    /// Many records from a CSV (`subjectId,<claim>,…`): one `POST /v1/records:batch`, all or
    /// nothing; each row's problems (the API's `records[i]…` paths) shown next to its line.
    func upload(_ form: ConsoleForm) throws -> Reply {
        try guarded {
            let code = form.text("certificateType")
            let type = context.catalog[code]
            let lines: [CSVText.Line]
            do {
                lines = try CSVText.records(form.text("csv"))
            } catch let error as CSVText.SyntaxError {
                let problem = Problem.unprocessable(errors: [.init(path: "csv", message: "line \(error.line): \(error.message)")])
                return try records(problem: problem, form: form)
            }
            guard let header = lines.first, lines.count >= 2 else {
                return try records(
                    problem: .unprocessable(errors: [.init(path: "csv", message: "a header line and at least one record")]), form: form)
            }
            let rows = Array(lines.dropFirst())
            let subjectColumn = header.fields.firstIndex(of: "subjectId")
            let records: [JSONValue] = rows.map { row in
                var claims: [(String, JSONValue)] = []
                for (index, name) in header.fields.enumerated() where index != subjectColumn {
                    let value = index < row.fields.count ? row.fields[index] : ""
                    claims.append((name, ConsolePages.claimJSON(value, schema: type?.claims[name], existing: nil)))
                }
                let subject = subjectColumn.flatMap { $0 < row.fields.count ? row.fields[$0] : nil } ?? ""
                return .object([("certificateType", .string(code)), ("subjectId", .string(subject)), ("claims", .object(claims))])
            }
            let apiCall = call.apiCall("POST", "/v1/records:batch", json: .object([("records", .array(records))]))
            let reply = ConsoleCall.calling { try RecordRoutes(context).batch(apiCall) }
            let owner = self
            return reply.then { final in
                switch final {
                case .response(let response) where response.status == 200:
                    let done: HTML = """
                        <p class="done">\(owner.lang.t("已写入 \(rows.count) 条（全部或全不）。", "\(rows.count) records written (all or nothing)."))</p>
                        """
                    return (try? owner.records(upload: done, form: nil)) ?? final
                case .problem(let problem):
                    return (try? owner.records(problem: problem, upload: owner.rowProblems(problem, rows: rows), form: form))
                        ?? owner.pages.refusal(problem)
                default:
                    return final
                }
            }
        }
    }

    /// The uploaded rows that have a problem, each with its CSV line and the messages of its
    /// `records[i]` paths; problems of no row (the whole batch) are in the problem box above.
    private func rowProblems(_ problem: Problem, rows: [CSVText.Line]) -> HTML {
        var byRow: [Int: [String]] = [:]
        for error in problem.errors {
            guard error.path.hasPrefix("records["), let close = error.path.firstIndex(of: "]"),
                let index = Int(error.path[error.path.index(error.path.startIndex, offsetBy: 8)..<close]), index < rows.count
            else { continue }
            let field = error.path[error.path.index(after: close)...].drop { $0 == "." }
            byRow[index, default: []].append(field.isEmpty ? error.message : "\(field): \(error.message)")
        }
        let lines: [HTML] = byRow.keys.sorted().map { index in
            let row = rows[index]
            return """
                <tr data-line="\(row.number)"><td>\(row.number)</td><td><code>\(row.fields.joined(separator: ","))</code></td>\
                <td class="error">\(byRow[index]!.joined(separator: "; "))</td></tr>
                """
        }
        guard !lines.isEmpty else { return .empty }
        return """
            <table class="csv-problems"><thead><tr><th>\(lang.t("行", "Line"))</th><th>\(lang.t("内容", "Row"))</th>\
            <th>\(lang.t("问题", "Problem"))</th></tr></thead><tbody>\(lines)</tbody></table>
            """
    }

    // MARK: Revocation

    /// Revokes an attestation this department issued (`POST /v1/attestations/{id}/revoke`); back to
    /// the verification's page, or the API's problem on it.
    func revoke(_ form: ConsoleForm) throws -> Reply {
        try guarded {
            let id = call.call.parameter("id")
            let apiCall = call.apiCall(
                "POST", "/v1/attestations/{id}/revoke", parameters: ["id": id], json: .object([("reason", .string(form.text("reason")))]))
            let reply = ConsoleCall.calling { try AttestationRoutes(context).revoke(apiCall) }
            let owner = self
            return reply.then { final in
                switch final {
                case .response(let response) where (200..<300).contains(response.status):
                    guard let verification = (try? owner.context.store.attestation(id: id))?.verificationID else { return final }
                    return .page(ConsoleRoutes.redirect(owner.lang.link("/console/requests/\(verification)")), problemType: nil)
                default:
                    return final  // a problem or a failure: the refusal page (ConsoleRoutes.asPage)
                }
            }
        }
    }

    /// The revocation form on a verification's page, for the issuing owner of an active attestation.
    static func revocationForm(_ pages: ConsolePages, attestation: Attestation) -> HTML {
        guard attestation.issuer == pages.department.code, attestation.revokedAt == nil else { return .empty }
        let lang = pages.lang
        return """
            <form class="stack noprint revoke" method="post" action="\(pages.link("/console/attestations/\(attestation.id)/revoke"))">\
            \(pages.csrfField)<label for="reason">\(lang.t("撤销原因", "Reason for revoking"))</label>\
            <input type="text" id="reason" name="reason">\
            <p><button type="submit">\(lang.t("撤销此凭证", "Revoke this attestation"))</button></p></form>
            """
    }
}
