import HeyanCrypto
import HeyanDomain
import HeyanHTTP
import HeyanPresentation

/// The console's pages and actions for one call. Reads come from the store the API reads; every
/// write is the API's handler called with the form as its JSON body.
struct ConsolePages {
    let call: ConsoleCall
    var lang: ConsoleLanguage { call.lang }
    var context: ServiceContext { call.context }
    var department: Department { call.department }

    func link(_ path: String) -> HTML { HTML.path(lang.link(path)) ?? .empty }

    func page(
        _ title: String, _ body: HTML, status: Int = 200, refresh: Int? = nil, printView: Bool = false,
        longPoll: String? = nil
    ) -> HTTPResponse {
        ConsoleRoutes.html(
            status,
            ConsoleLayout.page(
                lang: lang, title: title, department: department, clerk: call.call.attribution, body: body,
                refreshSeconds: refresh, printView: printView, longPoll: longPoll))
    }

    var csrfField: HTML { "<input type=\"hidden\" name=\"csrf\" value=\"\(call.csrfToken)\">" }

    /// A refusal shown as a page; audited (on a form route) with its problem type.
    func refusal(_ problem: Problem) -> Reply {
        let body: HTML = """
            <div class="problem"><p><strong>\(problem.title)</strong> (\(problem.status))</p><p>\(problem.detail)</p>\
            <p class="muted"><code>\(problem.type)</code></p></div><p><a href="\(link("/console/"))">\(lang.t("返回首页", "Home"))</a></p>
            """
        var response = page(lang.t("无法完成", "Refused"), body, status: problem.status)
        // A busy store (503) or rate limit (429) page says when to try again, as the API's problem does.
        if problem.status == 503 || problem.status == 429, case .int(let seconds)? = problem.extraValue("retryAfter") {
            response.headers.add("Retry-After", String(seconds))
        }
        return .page(response, problemType: problem.type)
    }

    // MARK: Home

    func home() -> Reply {
        var items: [HTML] = []
        if department.has(.owner) {
            items.append("<li><a href=\"\(link("/console/queue"))\">\(lang.t("待核验事项", "Verification queue"))</a></li>")
            items += OwnerPages.menu(self)
        }
        if department.has(.requester) {
            items.append("<li><a href=\"\(link("/console/requests/new"))\">\(lang.t("发起核验", "Ask for a verification"))</a></li>")
            items.append("<li><a href=\"\(link("/console/requests"))\">\(lang.t("本部门的核验请求", "This department's requests"))</a></li>")
            items += CommitmentPages.menu(self)
        }
        items += auditAndOperatorMenu
        let roles = department.roles.map(\.rawValue).joined(separator: ", ")
        let body: HTML = """
            <p>\(lang.t("角色", "Roles")): <code>\(roles)</code></p><ul class="menu">\(items)</ul>\
            <p class="muted">\(lang.t("时间均为北京时间。", "Times are Beijing time.")) \(BeijingTime.format(call.now))</p>
            """
        return .page(page(lang.t("首页", "Home"), body), problemType: nil)
    }

    // MARK: Owner: queue, lease, answer

    /// Rows of a console list per page.
    static let listPageSize = 50

    /// The page's `?before=` cursor (``ListCursor``), nil for the first page.
    private var listCursor: ListCursor? { call.request.queryValue("before").flatMap { ListCursor(text: $0) } }

    /// The link to the next (older) page when this one is full.
    private func olderLink(_ path: String, last: ListCursor?, count: Int) -> HTML {
        guard count == Self.listPageSize, let last else { return .empty }
        return "<p class=\"older\"><a href=\"\(link("\(path)?before=\(last.text)"))\">\(lang.t("更早的 »", "Older »"))</a></p>"
    }

    /// One page of this department's queue items, newest first (the store's keyset-paged query).
    private func queueEntries() throws -> [(item: QueueItem, verification: Verification)] {
        try context.store.queueItems(owner: department.code, before: listCursor, limit: Self.listPageSize)
            .map { ($0.item, $0.verification) }
    }

    func queue() throws -> Reply {
        if let refusal = forbidden(unlessAnyOf: [.owner]) { return refusal }
        let rows = try queueEntries()
        // The counts are the whole queue's (the store's per-owner depth), not this page's.
        let depth = try context.store.queueCounts().first { $0.owner == department.code }
        let open = (depth?.pending ?? 0) + (depth?.leased ?? 0)
        let overdue = depth?.overdue ?? 0
        var lines: [HTML] = []
        for (item, verification) in rows {
            let late = item.overdue || (item.dueAt < call.now && verification.status == .pending)
            let state: HTML
            switch item.state {
            case .done: state = "<span class=\"badge answered\">\(lang.outcome(verification.outcome))</span>"
            case .leased(_, let expires) where expires > call.now:
                state = "<span class=\"badge\">\(lang.t("处理中，至", "leased until")) \(BeijingTime.format(expires))</span>"
            default: state = "<span class=\"badge pending\">\(lang.t("待处理", "waiting"))</span>"
            }
            let type = context.catalog[verification.certificateType].map { lang.name($0.name) } ?? verification.certificateType
            let requester = context.directory[verification.requester].map { lang.name($0.name) } ?? verification.requester
            lines.append("""
                <tr class="\(late ? "overdue" : "")"><td>\(BeijingTime.format(item.dueAt))\
                \(late ? "<span class=\"badge overdue\">\(lang.t("已超期", "overdue"))</span>" as HTML : .empty)</td>\
                <td>\(type)</td><td>\(requester)</td><td>\(verification.purpose)</td><td>\(state)</td></tr>
                """)
        }
        let body: HTML = """
            <p>\(lang.t("未办结", "Open")): <strong>\(open)</strong> · \(lang.t("已超期", "Overdue")): \
            <strong class="\(overdue == 0 ? "" : "error")">\(overdue)</strong></p>\
            <form method="post" action="\(link("/console/queue/lease"))">\(csrfField)\
            <button type="submit">\(lang.t("领取下一件", "Lease the next item"))</button></form>\
            <table><thead><tr><th>\(lang.t("办结时限", "Due"))</th><th>\(lang.t("证明事项", "Certificate type"))</th>\
            <th>\(lang.t("用证部门", "Requester"))</th><th>\(lang.t("用途", "Purpose"))</th><th>\(lang.t("状态", "State"))</th></tr></thead>\
            <tbody>\(lines)</tbody></table>\
            \(olderLink("/console/queue", last: rows.last.map { ListCursor(createdAt: $0.item.createdAt, id: $0.item.id) }, count: rows.count))
            """
        return .page(page(lang.t("待核验事项", "Verification queue"), body, refresh: 30), problemType: nil)
    }

    func leaseNext() throws -> Reply {
        if let refusal = forbidden(unlessAnyOf: [.owner]) { return refusal }
        let now = call.now
        let pages = self
        return .awaiting({ [context, code = department.code, clerk = call.call.clerk] completion in
            context.store.lease(owner: code, clerk: clerk, limit: 1, duration: 900_000, now: now, completion: completion)
        }) { result in
            result.reply { leased in
                guard let first = leased.first else {
                    let body: HTML = """
                        <p>\(pages.lang.t("目前没有待处理的事项。", "Nothing is waiting."))</p>\
                        <p><a href="\(pages.link("/console/queue"))">\(pages.lang.t("返回队列", "Back to the queue"))</a></p>
                        """
                    return .page(pages.page(pages.lang.t("领取", "Lease"), body), problemType: nil)
                }
                return .page(pages.page(pages.lang.t("核验事项", "Verification item"), pages.itemBody(first, token: first.item.leaseToken ?? "", form: nil, problem: nil)), problemType: nil)
            }
        }
    }

    /// The item: what is asked and on what basis, and the answer form.
    private func itemBody(_ leased: LeasedItem, token: String, form: ConsoleForm?, problem: Problem?) -> HTML {
        let verification = leased.verification
        let type = context.catalog[verification.certificateType]
        let requester = context.directory[verification.requester]
        let grant = type?.requesters.first { $0.department == verification.requester && $0.matterCodes.contains(verification.matterCode) }
        let offered = (grant?.disclose ?? []).filter { verification.claims[$0] != nil }.sorted()
        let claims: [HTML] = verification.claims.keys.sorted().map { name in
            "<li><code>\(name)</code>: \(Self.text(verification.claims[name]!))\(type?.claims[name].map { " — \($0.description)" } ?? "")</li>"
        }
        let errors = problem?.errors ?? []
        func error(_ path: String) -> HTML {
            let messages = errors.filter { $0.path == path }.map(\.message)
            return messages.isEmpty ? .empty : "<span class=\"error\">\(messages.joined(separator: "; "))</span>"
        }
        let chosen = form?.text("outcome") ?? ""
        let outcomes: [HTML] = Outcome.allCases.map { outcome in
            """
            <label class="inline"><input type="radio" name="outcome" value="\(outcome.rawValue)"\
            \(chosen == outcome.rawValue ? " checked" as HTML : .empty)> \(lang.outcome(outcome))</label>
            """
        }
        let disclose: [HTML] = offered.map { name in
            let schema = type?.claims[name]
            let current = form?.text("disclosed.\(name)") ?? ""
            let values = schema?.allowedValues ?? (schema?.type == .boolean ? ["true", "false"] : [])
            let control: HTML
            if values.isEmpty {
                control = "<input type=\"text\" id=\"disclosed.\(name)\" name=\"disclosed.\(name)\" value=\"\(current)\">"
            } else {
                let options: [HTML] = values.map { value in
                    "<option value=\"\(value)\"\(current == value ? " selected" as HTML : .empty)>\(value)</option>"
                }
                control = """
                    <select id="disclosed.\(name)" name="disclosed.\(name)"><option value="">\(lang.t("（不披露）", "(do not disclose)"))</option>\(options)</select>
                    """
            }
            // Named by the catalog's description of the claim, as the claims asked above are: a clerk
            // need not know the field name to decide what the requester may see.
            let described: HTML = schema.map { "\($0.description) " } ?? .empty
            return """
                <label for="disclosed.\(name)">\(lang.t("披露：", "Disclose: "))\(described)<code>\(name)</code></label>\
                \(control)\(error("disclosed.\(name)"))
                """
        }
        let discloseHint: HTML = disclose.isEmpty ? .empty : """
            <p class="muted">\(lang.t(
                "披露的字段值写入电子证明，用证部门可见；不选则只答复核验结论。",
                "A disclosed value is written into the attestation for the requester to see; leave it empty to answer with the outcome only."))</p>
            """
        let problemBox: HTML = problem.map { "<div class=\"problem\"><strong>\($0.title)</strong>: \($0.detail)</div>" } ?? .empty
        return """
            \(problemBox)<dl class="facts">\
            <dt>\(lang.t("证明事项", "Certificate type"))</dt><dd>\(type.map { lang.name($0.name) } ?? verification.certificateType)</dd>\
            <dt>\(lang.t("设定依据", "Legal basis"))</dt><dd>\(type?.legalBasis)</dd>\
            <dt>\(lang.t("用证部门", "Requester"))</dt><dd>\(requester.map { lang.name($0.name) } ?? verification.requester)</dd>\
            <dt>\(lang.t("事项编码", "Matter code"))</dt><dd><code>\(verification.matterCode)</code></dd>\
            <dt>\(lang.t("用途", "Purpose"))</dt><dd>\(verification.purpose)</dd>\
            <dt>\(lang.t("核验对象", "Subject"))</dt><dd>\(verification.subject.name) <code>\(verification.subject.id)</code> (\(verification.subject.idType.rawValue))</dd>\
            <dt>\(lang.t("核验内容", "Claims asked"))</dt><dd><ul>\(claims)</ul></dd>\
            <dt>\(lang.t("办结时限", "Due"))</dt><dd>\(BeijingTime.format(leased.item.dueAt))</dd></dl>\
            <h2>\(lang.t("答复", "Answer"))</h2>\
            <form class="stack" method="post" action="\(link("/console/queue/\(leased.item.id)/answer"))">\(csrfField)\
            <input type="hidden" name="leaseToken" value="\(token)">\
            <label>\(lang.t("核验结论", "Outcome"))</label>\(outcomes)\(error("outcome"))\
            <label for="note">\(lang.t("说明", "Note"))</label><textarea id="note" name="note" rows="3">\(form?.text("note") ?? "")</textarea>\(error("note"))\
            \(discloseHint)\(disclose)\(error("disclosed"))\(error("leaseToken"))\
            <p><button type="submit">\(lang.t("提交答复", "Send the answer"))</button></p></form>
            """
    }

    func answer(_ form: ConsoleForm) throws -> Reply {
        if let refusal = forbidden(unlessAnyOf: [.owner]) { return refusal }
        let itemID = call.call.parameter("id")
        var members: [(String, JSONValue)] = [("leaseToken", .string(form.text("leaseToken"))), ("outcome", .string(form.text("outcome")))]
        if !form.text("note").isEmpty { members.append(("note", .string(form.text("note")))) }
        var disclosed: [(String, JSONValue)] = []
        for (name, value) in form.fields where name.hasPrefix("disclosed.") && !value.isEmpty {
            let claim = String(name.dropFirst("disclosed.".count))
            disclosed.append((claim, Self.claimJSON(value, schema: nil, existing: nil)))
        }
        if !disclosed.isEmpty { members.append(("disclosed", .object(disclosed))) }
        let apiCall = call.apiCall("POST", "/v1/queue/{id}/answer", parameters: ["id": itemID], json: .object(members))
        let reply = ConsoleCall.calling { try QueueRoutes(context).answer(apiCall) }
        let pages = self
        return reply.then { final in
            switch final {
            case .response(let response) where (200..<300).contains(response.status):
                return .page(ConsoleRoutes.redirect(pages.lang.link("/console/queue")), problemType: nil)
            case .problem(let problem):
                guard let item = try? pages.context.store.queueItem(id: itemID), item.owner == pages.department.code,
                    let verification = try? pages.context.store.verification(id: item.verificationID)
                else { return pages.refusal(problem) }
                let body = pages.itemBody(
                    LeasedItem(item: item, verification: verification), token: form.text("leaseToken"), form: form, problem: problem)
                return .page(pages.page(pages.lang.t("核验事项", "Verification item"), body, status: problem.status), problemType: problem.type)
            default:
                return final
            }
        }
    }

    // MARK: Requester: form, submit, status, attestation

    /// The certificate types this department may ask for, with their matter codes.
    var grantedTypes: [(type: CertificateType, grant: RequesterGrant)] {
        context.catalog.items.compactMap { type in
            type.requesters.first { $0.department == department.code }.map { (type, $0) }
        }.sorted { $0.type.code < $1.type.code }
    }

    func newRequest() throws -> Reply {
        if let refusal = forbidden(unlessAnyOf: [.requester]) { return refusal }
        guard let code = call.request.queryValue("type"), let chosen = grantedTypes.first(where: { $0.type.code == code }) else {
            let items: [HTML] = grantedTypes.map { type, _ in
                "<li><a href=\"\(link("/console/requests/new?type=\(type.code)"))\">\(lang.name(type.name))</a> <code>\(type.code)</code> · \(type.method.rawValue)</li>"
            }
            let body: HTML = "<p>\(lang.t("选择证明事项：", "Choose the certificate type:"))</p><ul class=\"menu\">\(items)</ul>"
            return .page(page(lang.t("发起核验", "Ask for a verification"), body), problemType: nil)
        }
        let key = Base64URL.encode(SecureRandom.bytes(16))
        return .page(page(lang.t("发起核验", "Ask for a verification"), requestForm(chosen.type, chosen.grant, form: nil, problem: nil, key: key)), problemType: nil)
    }

    private func requestForm(_ type: CertificateType, _ grant: RequesterGrant, form: ConsoleForm?, problem: Problem?, key: String) -> HTML {
        func error(_ path: String) -> HTML { fieldError(problem, path) }
        func value(_ name: String) -> String { form?.text(name) ?? "" }
        func select(_ name: String, _ values: [String], blank: String?) -> HTML {
            let current = value(name)
            let options: [HTML] = values.map { "<option value=\"\($0)\"\(current == $0 ? " selected" as HTML : .empty)>\($0)</option>" }
            let empty: HTML = blank.map { "<option value=\"\">\($0)</option>" } ?? .empty
            return "<select id=\"\(name)\" name=\"\(name)\">\(empty)\(options)</select>"
        }
        let claims: [HTML] = type.claims.keys.sorted().map { name in
            let schema = type.claims[name]!
            let field = "claims.\(name)"
            let control: HTML
            switch (schema.type, schema.allowedValues) {
            case (_, let values?): control = select(field, values, blank: lang.t("（不填）", "(not stated)"))
            case (.boolean, _): control = select(field, ["true", "false"], blank: lang.t("（不填）", "(not stated)"))
            case (.date, _): control = "<input type=\"date\" id=\"\(field)\" name=\"\(field)\" value=\"\(value(field))\">"
            default: control = "<input type=\"text\" id=\"\(field)\" name=\"\(field)\" value=\"\(value(field))\">"
            }
            return "<label for=\"\(field)\"><code>\(name)</code> — \(schema.description)</label>\(control)\(error(field))"
        }
        return """
            \(problemBox(problem))<p><strong>\(lang.name(type.name))</strong> <code>\(type.code)</code><br>\
            <span class="muted">\(lang.t("设定依据", "Legal basis")): \(type.legalBasis)</span></p>\
            <form class="stack" method="post" action="\(link("/console/requests"))">\(csrfField)\
            <input type="hidden" name="idempotencyKey" value="\(key)"><input type="hidden" name="certificateType" value="\(type.code)">\
            <label for="matterCode">\(lang.t("事项编码", "Matter code"))</label>\(select("matterCode", grant.matterCodes, blank: nil))\(error("matterCode"))\
            <label for="purpose">\(lang.t("用途", "Purpose"))</label><input type="text" id="purpose" name="purpose" value="\(value("purpose"))">\(error("purpose"))\
            <label for="subject.idType">\(lang.t("证件类型", "ID type"))</label>\(select("subject.idType", type.subjectTypes.map(\.rawValue), blank: nil))\(error("subject.idType"))\
            <label for="subject.id">\(lang.t("证件号码", "ID number"))</label><input type="text" id="subject.id" name="subject.id" value="\(value("subject.id"))" autocomplete="off">\(error("subject.id"))\
            <label for="subject.name">\(lang.t("姓名/名称", "Name"))</label><input type="text" id="subject.name" name="subject.name" value="\(value("subject.name"))">\(error("subject.name"))\
            \(claims)\(error("claims"))\
            <p><button type="submit">\(lang.t("提交核验请求", "Submit"))</button></p></form>
            """
    }

    func submit(_ form: ConsoleForm) throws -> Reply {
        if let refusal = forbidden(unlessAnyOf: [.requester]) { return refusal }
        let type = context.catalog[form.text("certificateType")]
        let body: JSONValue = .object([
            ("certificateType", .string(form.text("certificateType"))), ("matterCode", .string(form.text("matterCode"))),
            ("purpose", .string(form.text("purpose"))), ("subject", Self.subjectJSON(form)),
            ("claims", Self.claimsJSON(form, type: type)),
        ])
        let key = form.text("idempotencyKey")
        let apiCall = call.apiCall("POST", "/v1/verifications", json: body, headers: key.isEmpty ? [] : [("Idempotency-Key", key)])
        let reply = ConsoleCall.calling { try VerificationService(context: context).create(apiCall) }
        let pages = self
        return reply.then { final in
            switch final {
            case .response(let response) where (200..<300).contains(response.status):
                guard let id = Self.firstID(response.body) else { return final }
                return .page(ConsoleRoutes.redirect(pages.lang.link("/console/requests/\(id)")), problemType: nil)
            case .problem(let problem):
                guard let type, let grant = type.requesters.first(where: { $0.department == pages.department.code }) else {
                    return pages.refusal(problem)
                }
                let html = pages.requestForm(type, grant, form: form, problem: problem, key: key)
                return .page(pages.page(pages.lang.t("发起核验", "Ask for a verification"), html, status: problem.status), problemType: problem.type)
            default:
                return final
            }
        }
    }

    func requests() throws -> Reply {
        if let refusal = forbidden(unlessAnyOf: [.requester]) { return refusal }
        let verifications = try context.store.verifications(
            requester: department.code, before: listCursor, limit: Self.listPageSize)
        var lines: [HTML] = []
        for verification in verifications {
            let type = context.catalog[verification.certificateType].map { lang.name($0.name) } ?? verification.certificateType
            let status: HTML = verification.status == .answered
                ? "<span class=\"badge answered\">\(lang.outcome(verification.outcome))</span>"
                : "<span class=\"badge pending\">\(lang.status(verification.status))</span>"
            lines.append("""
                <tr><td><a href="\(link("/console/requests/\(verification.id)"))">\(BeijingTime.format(verification.createdAt))</a></td>\
                <td>\(type)</td><td>\(verification.purpose)</td><td>\(verification.subject.name)</td><td>\(status)</td></tr>
                """)
        }
        let older = olderLink(
            "/console/requests", last: verifications.last.map { ListCursor(createdAt: $0.createdAt, id: $0.id) },
            count: verifications.count)
        let body: HTML = """
            <p><a href="\(link("/console/requests/new"))">\(lang.t("发起核验", "Ask for a verification"))</a></p>\
            <table><thead><tr><th>\(lang.t("提交时间", "Submitted"))</th><th>\(lang.t("证明事项", "Certificate type"))</th>\
            <th>\(lang.t("用途", "Purpose"))</th><th>\(lang.t("核验对象", "Subject"))</th><th>\(lang.t("状态", "Status"))</th></tr></thead>\
            <tbody>\(lines)</tbody></table>\(older)
            """
        return .page(page(lang.t("本部门的核验请求", "This department's requests"), body, refresh: 30), problemType: nil)
    }

    /// A verification (for its requester or owner) with its attestation's verified payload, or its
    /// print view for the case file.
    // Swift 6.3's optimiser crashes on this function ("Found ownership error?!" in CopyPropagation,
    // release builds only); it is a page render, not a hot path, so it is compiled unoptimised.
    @_optimize(none)
    func request(print: Bool) throws -> Reply {
        let id = call.call.parameter("id")
        guard let verification = try context.store.verification(id: id),
            verification.requester == department.code || verification.owner == department.code
        else {
            return .page(ConsoleRoutes.notFoundPage(call.request), problemType: nil)
        }
        let attestation = try verification.attestationID.flatMap { try context.store.attestation(id: $0) }
        let type = context.catalog[verification.certificateType]
        let owner = context.directory[verification.owner]
        let requester = context.directory[verification.requester]
        let disclosed: [HTML] = verification.disclosed.keys.sorted().map {
            "<li><code>\($0)</code>: \(Self.text(verification.disclosed[$0]!))</li>"
        }
        let claims: [HTML] = verification.claims.keys.sorted().map {
            "<li><code>\($0)</code>: \(Self.text(verification.claims[$0]!))</li>"
        }
        var facts: HTML = """
            <dt>\(lang.t("证明事项", "Certificate type"))</dt><dd>\(type.map { lang.name($0.name) } ?? verification.certificateType)</dd>\
            <dt>\(lang.t("出具部门", "Issuing department"))</dt><dd>\(owner.map { lang.name($0.name) } ?? verification.owner)</dd>\
            <dt>\(lang.t("用证部门", "Requester"))</dt><dd>\(requester.map { lang.name($0.name) } ?? verification.requester)</dd>\
            <dt>\(lang.t("事项编码", "Matter code"))</dt><dd><code>\(verification.matterCode)</code></dd>\
            <dt>\(lang.t("用途", "Purpose"))</dt><dd>\(verification.purpose)</dd>\
            <dt>\(lang.t("核验对象", "Subject"))</dt><dd>\(verification.subject.name) <code>\(verification.subject.id)</code></dd>\
            <dt>\(lang.t("核验内容", "Claims asked"))</dt><dd><ul>\(claims)</ul></dd>\
            <dt>\(lang.t("状态", "Status"))</dt><dd class="status">\(lang.status(verification.status))</dd>
            """
        if verification.status == .answered {
            // A new value, not an interpolation of `facts` into itself: the optimiser's ownership
            // check crashed on that form in release builds (Swift 6.3).
            let answer: HTML = """
                <dt>\(lang.t("核验结论", "Outcome"))</dt><dd class="outcome">\(lang.outcome(verification.outcome))</dd>\
                <dt>\(lang.t("披露字段", "Disclosed"))</dt><dd><ul class="disclosed">\(disclosed)</ul></dd>\
                <dt>\(lang.t("说明", "Note"))</dt><dd>\(verification.note)</dd>\
                <dt>\(lang.t("答复时间", "Answered"))</dt><dd>\(verification.answeredAt.map(BeijingTime.format))</dd>
                """
            facts = HTML.join([facts, answer])
        } else if let due = verification.dueAt {
            let dueLine: HTML = "<dt>\(lang.t("办结时限", "Due"))</dt><dd>\(BeijingTime.format(due))</dd>"
            facts = HTML.join([facts, dueLine])
        }
        var body: HTML = "<dl class=\"facts\">\(facts)</dl>"
        if let attestation {
            let verified: String
            do {
                let payload = try JWSVerifier.verify(attestation.jws, signer: context.signer.chain[0]).payload
                verified = String(decoding: payload, as: UTF8.self)
            } catch {
                verified = lang.t("无法用当前签名密钥验证：", "Not verifiable with the current signing key: ") + "\(error)"
            }
            let digest = Base64URL.encode(Digest.sha256(Array(attestation.jws.utf8)))
            let attestationFacts: HTML = """
                <dl class="facts"><dt>\(lang.t("核验凭证编号", "Attestation"))</dt><dd><code class="attestation-id">\(attestation.id)</code></dd>\
                <dt>\(lang.t("签发时间", "Issued"))</dt><dd>\(BeijingTime.format(attestation.issuedAt))</dd>\
                <dt>\(lang.t("有效期至", "Valid until"))</dt><dd>\(BeijingTime.format(attestation.expiresAt))</dd>\
                <dt>\(lang.t("状态", "Status"))</dt><dd>\(attestation.status(at: call.now).rawValue)</dd>\
                <dt>SHA-256</dt><dd><code>\(digest)</code></dd></dl>
                """
            if print {
                // The compact JWS when it fits a symbol an office printer resolves, else id and digest.
                let qr = (try? QRCode(text: attestation.jws, errorCorrection: .low)).flatMap { $0.version <= 25 ? $0 : nil }
                    ?? (try? QRCode(text: "heyan:\(attestation.id):sha256:\(digest)"))
                let symbol: HTML = qr.map { $0.html(moduleSize: 3, title: attestation.id) } ?? .empty
                let printed: HTML = """
                    \(attestationFacts)<div class="qr-box">\(symbol)<p class="muted">\(lang.t(
                        "扫码可离线核对本凭证（签名密钥见 kid）。", "Scan to check this attestation offline (its signing key is named by kid)."))</p></div>\
                    <p class="noprint"><a href="\(link("/console/requests/\(verification.id)"))">\(lang.t("返回", "Back"))</a></p>
                    """
                return .page(
                    page(lang.t("核验结果（归档）", "Verification result (case file)"), HTML.join([body, printed]), printView: true),
                    problemType: nil)
            }
            let shown: HTML = """
                <h2>\(lang.t("核验凭证", "Attestation"))</h2>\(attestationFacts)\
                <p><a class="print-link" href="\(link("/console/requests/\(verification.id)/print"))">\(lang.t("打印归档", "Print for the case file"))</a></p>\
                <h3>\(lang.t("已验证的签名内容", "Verified signed payload"))</h3><pre class="payload">\(verified)</pre>\
                \(OwnerPages.revocationForm(self, attestation: attestation))
                """
            body = HTML.join([body, shown])
        }
        // While pending, the page's script long-polls the API (`?wait=`) and reloads on the answer;
        // without script, the page refreshes every 10 s.
        let refresh = verification.status == .pending ? 10 : nil
        let longPoll = verification.status == .pending ? "/v1/verifications/\(verification.id)?wait=50" : nil
        let back: HTML = department.has(.requester)
            ? "<p class=\"noprint\"><a href=\"\(link("/console/requests"))\">\(lang.t("返回列表", "Back to the list"))</a></p>" : .empty
        return .page(
            page(lang.t("核验请求", "Verification request"), "\(body)\(back)", refresh: refresh, longPoll: longPoll),
            problemType: nil)
    }

    // MARK: Values

    /// The form's non-empty `claims.X` fields as the API's `claims` object, typed by `type`'s schema.
    static func claimsJSON(_ form: ConsoleForm, type: CertificateType?) -> JSONValue {
        var claims: [(String, JSONValue)] = []
        for (name, value) in form.fields where name.hasPrefix("claims.") && !value.isEmpty {
            let claim = String(name.dropFirst("claims.".count))
            claims.append((claim, claimJSON(value, schema: type?.claims[claim], existing: nil)))
        }
        return .object(claims)
    }

    /// The form's `subject.*` fields as the API's `subject` object.
    static func subjectJSON(_ form: ConsoleForm) -> JSONValue {
        .object([
            ("idType", .string(form.text("subject.idType"))), ("id", .string(form.text("subject.id"))),
            ("name", .string(form.text("subject.name"))),
        ])
    }

    static func text(_ value: ClaimValue) -> String {
        switch value {
        case .bool(let value): String(value)
        case .string(let value): value
        case .integer(let value): String(value)
        }
    }

    /// A form's text as the JSON the API takes: booleans and integers where the schema says so
    /// (or the text reads as one); everything else a string, for the API's rules to judge.
    static func claimJSON(_ text: String, schema: ClaimSchema?, existing: ClaimValue?) -> JSONValue {
        switch schema?.type {
        case .boolean?: if text == "true" { return .bool(true) } else if text == "false" { return .bool(false) }
        case .integer?: if let number = Int64(text) { return .int(number) }
        default: if schema == nil, text == "true" || text == "false" { return .bool(text == "true") }
        }
        return .string(text)
    }

    /// The `id` of a created verification's JSON body (its first member).
    static func firstID(_ body: [UInt8]) -> String? {
        let prefix = Array(#"{"id":""#.utf8)
        guard body.starts(with: prefix) else { return nil }
        let id = body[prefix.count...].prefix { $0 != UInt8(ascii: "\"") }
        let valid = !id.isEmpty && id.allSatisfy { $0 == UInt8(ascii: "_") || (0x30...0x39).contains($0) || (0x41...0x5A).contains($0) || (0x61...0x7A).contains($0) }
        return valid ? String(decoding: id, as: UTF8.self) : nil
    }
}

/// What the owner's and the commitment pages (``OwnerPages``, ``CommitmentPages``) add to a
/// ``ConsolePageGroup``.
extension ConsolePageGroup {
    var department: Department { pages.department }

    /// `body`, or the 403 page when the department lacks `role`.
    func guarded(_ role: Role, _ body: () throws -> Reply) throws -> Reply {
        if let refusal = pages.forbidden(unlessAnyOf: [role]) { return refusal }
        return try body()
    }
}
