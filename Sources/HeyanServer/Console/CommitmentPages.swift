import HeyanCrypto
import HeyanDomain
import HeyanHTTP
import HeyanPresentation

/// The requesting clerk's notify-and-commit pages (告知承诺, docs/commitments.md): choose a
/// commitment type, fill in the applicant, see the type's template filled for the applicant (the
/// text the applicant signs), record the commitment through `POST /v1/commitments`
/// (``CommitmentService``, with a fresh `Idempotency-Key` per form) and print the receipt for the
/// case file. The subject travels in form bodies only, never in a URL.
struct CommitmentPages: ConsolePageGroup {
    let pages: ConsolePages

    init(call: ConsoleCall) { pages = ConsolePages(call: call) }

    static func register(page: ConsolePageRoute, form: ConsoleFormRoute) {
        page("/console/commitments/new") { try CommitmentPages(call: $0).start() }
        form("/console/commitments/template") { try CommitmentPages(call: $0).template($1) }
        form("/console/commitments") { try CommitmentPages(call: $0).record($1) }
        page("/console/commitments/{id}") { try CommitmentPages(call: $0).receipt(print: false) }
        page("/console/commitments/{id}/print") { try CommitmentPages(call: $0).receipt(print: true) }
    }

    static func menu(_ pages: ConsolePages) -> [HTML] {
        ["<li><a href=\"\(pages.link("/console/commitments/new"))\">\(pages.lang.t("告知承诺", "Notify and commit"))</a></li>"]
    }

    private func guarded(_ body: () throws -> Reply) throws -> Reply { try guarded(.requester, body) }

    /// The commitment types granted to this department.
    private var grantedTypes: [(type: CertificateType, grant: RequesterGrant)] {
        pages.grantedTypes.filter { $0.type.method == .commitment }
    }

    // MARK: Step 1: the applicant

    func start() throws -> Reply {
        try guarded {
            guard let code = call.request.queryValue("type"), let chosen = grantedTypes.first(where: { $0.type.code == code }) else {
                let items: [HTML] = grantedTypes.map { type, _ in
                    "<li><a href=\"\(pages.link("/console/commitments/new?type=\(type.code)"))\">\(lang.name(type.name))</a> <code>\(type.code)</code></li>"
                }
                let body: HTML = "<p>\(lang.t("选择可告知承诺的证明事项：", "Choose the certificate type to replace by a commitment:"))</p><ul class=\"menu\">\(items)</ul>"
                return pages.shown(lang.t("告知承诺", "Notify and commit"), body)
            }
            return pages.shown(lang.t("告知承诺", "Notify and commit"), applicantForm(chosen.type, chosen.grant, form: nil, problem: nil))
        }
    }

    /// The applicant's details and the claims committed to; posts to the template step.
    private func applicantForm(_ type: CertificateType, _ grant: RequesterGrant, form: ConsoleForm?, problem: Problem?) -> HTML {
        func value(_ name: String) -> String { form?.text(name) ?? "" }
        let matters: [HTML] = grant.matterCodes.map {
            "<option value=\"\($0)\"\(value("matterCode") == $0 ? " selected" as HTML : .empty)>\($0)</option>"
        }
        let idTypes: [HTML] = type.subjectTypes.map {
            "<option value=\"\($0.rawValue)\"\(value("subject.idType") == $0.rawValue ? " selected" as HTML : .empty)>\($0.rawValue)</option>"
        }
        let claims: [HTML] = type.claims.keys.sorted().map { name in
            let schema = type.claims[name]!
            let field = "claims.\(name)"
            return """
                <label for="\(field)"><code>\(name)</code> — \(schema.description)</label>\
                <input type="text" id="\(field)" name="\(field)" value="\(value(field))">\(pages.fieldError(problem, field))
                """
        }
        return """
            \(pages.problemBox(problem))<p><strong>\(lang.name(type.name))</strong> <code>\(type.code)</code><br>\
            <span class="muted">\(lang.t("设定依据", "Legal basis")): \(type.legalBasis)</span></p>\
            <form class="stack" method="post" action="\(pages.link("/console/commitments/template"))">\(pages.csrfField)\
            <input type="hidden" name="certificateType" value="\(type.code)">\
            <label for="matterCode">\(lang.t("事项编码", "Matter code"))</label><select id="matterCode" name="matterCode">\(matters)</select>\(pages.fieldError(problem, "matterCode"))\
            <label for="purpose">\(lang.t("用途", "Purpose"))</label><input type="text" id="purpose" name="purpose" value="\(value("purpose"))">\(pages.fieldError(problem, "purpose"))\
            <label for="subject.idType">\(lang.t("证件类型", "ID type"))</label><select id="subject.idType" name="subject.idType">\(idTypes)</select>\
            <label for="subject.id">\(lang.t("证件号码", "ID number"))</label><input type="text" id="subject.id" name="subject.id" autocomplete="off" value="\(value("subject.id"))">\(pages.fieldError(problem, "subject.id"))\
            <label for="subject.name">\(lang.t("姓名/名称", "Name"))</label><input type="text" id="subject.name" name="subject.name" value="\(value("subject.name"))">\(pages.fieldError(problem, "subject.name"))\
            \(claims)\(pages.fieldError(problem, "claims"))\
            <p><button type="submit">\(lang.t("生成承诺书", "Show the commitment text"))</button></p></form>
            """
    }

    // MARK: Step 2: the template filled for the applicant

    func template(_ form: ConsoleForm) throws -> Reply {
        try guarded {
            guard let chosen = grantedTypes.first(where: { $0.type.code == form.text("certificateType") }) else {
                return pages.refusal(.notFound(detail: "No commitment type '\(form.text("certificateType"))' granted to \(department.code)."))
            }
            let filled: FilledCommitmentTemplate
            switch CommitmentTemplateRules.evaluate(
                code: chosen.type.code, subjectID: form.text("subject.id"), subjectName: form.text("subject.name"),
                catalog: context.catalog, today: context.today(call.now))
            {
            case .success(let value): filled = value
            case .failure(let refusal):
                // The template's query names (`subjectId`, `subjectName`) are the form's `subject.*`.
                var problem = refusal.problem
                problem.errors = problem.errors.map { error in
                    var renamed = error
                    renamed.path = ["subjectId": "subject.id", "subjectName": "subject.name"][error.path] ?? error.path
                    return renamed
                }
                return pages.shown(lang.t("告知承诺", "Notify and commit"), applicantForm(chosen.type, chosen.grant, form: form, problem: problem),
                    problem: problem)
            }
            return pages.shown(lang.t("承诺书", "Commitment text"), templateBody(filled, form: form, problem: nil, key: Base64URL.encode(SecureRandom.bytes(16))))
        }
    }

    /// The filled text the applicant signs, with everything of step 1 carried in hidden fields.
    private func templateBody(_ filled: FilledCommitmentTemplate, form: ConsoleForm, problem: Problem?, key: String) -> HTML {
        let carried: [HTML] = form.fields.filter { $0.name != "csrf" && $0.name != "idempotencyKey" && $0.name != "signedVia" }
            .map { "<input type=\"hidden\" name=\"\($0.name)\" value=\"\($0.value)\">" }
        let via: [HTML] = CommitmentSignature.allCases.map {
            "<option value=\"\($0.rawValue)\">\($0 == .paper ? lang.t("纸质签署", "on paper") : lang.t("网上签署", "online"))</option>"
        }
        let errors: [HTML] = (problem?.errors ?? []).map { "<li data-field=\"\($0.path)\"><code>\($0.path)</code>: \($0.message)</li>" }
        return """
            \(pages.problemBox(problem))<ul class="errors">\(errors)</ul>\
            <p class="muted">\(lang.t("请申请人阅读并签署以下承诺书：", "The applicant reads and signs this text:"))</p>\
            <pre class="commitment-text">\(filled.text)</pre>\
            <p class="muted">\(lang.t("抽查比例", "Spot-check rate")) \(Int((filled.policy.spotCheckRate * 100).rounded()))% · \
            \(lang.t("核查期限", "checked within")) \(filled.policy.spotCheckWithinDays) \(lang.t("日", "days"))</p>\
            <form class="stack" method="post" action="\(pages.link("/console/commitments"))">\(pages.csrfField)\(carried)\
            <input type="hidden" name="idempotencyKey" value="\(key)">\
            <input type="hidden" name="commitment.text" value="\(filled.text)">\
            <input type="hidden" name="commitment.signedAt" value="\(Timestamp.rfc3339(call.now))">\
            <label for="signedVia">\(lang.t("签署方式", "Signed"))</label><select id="signedVia" name="signedVia">\(via)</select>\
            <p><button type="submit">\(lang.t("申请人已签署，记录承诺", "Signed: record the commitment"))</button></p></form>
            """
    }

    // MARK: Step 3: record

    func record(_ form: ConsoleForm) throws -> Reply {
        try guarded {
            let type = context.catalog[form.text("certificateType")]
            let body: JSONValue = .object([
                ("certificateType", .string(form.text("certificateType"))), ("matterCode", .string(form.text("matterCode"))),
                ("purpose", .string(form.text("purpose"))), ("subject", ConsolePages.subjectJSON(form)),
                ("claims", ConsolePages.claimsJSON(form, type: type)),
                ("commitment", .object([
                    ("text", .string(form.text("commitment.text"))), ("signedAt", .string(form.text("commitment.signedAt"))),
                    ("signedVia", .string(form.text("signedVia"))),
                ])),
            ])
            let key = form.text("idempotencyKey")
            let apiCall = call.apiCall("POST", "/v1/commitments", json: body, headers: key.isEmpty ? [] : [("Idempotency-Key", key)])
            let reply = ConsoleCall.calling { try CommitmentService(context: context).create(apiCall) }
            let commitments = self
            return reply.then { final in
                switch final {
                case .response(let response) where (200..<300).contains(response.status):
                    guard let id = ConsolePages.firstID(response.body) else { return final }
                    return .page(ConsoleRoutes.redirect(commitments.lang.link("/console/commitments/\(id)")), problemType: nil)
                case .problem(let problem):
                    guard let chosen = commitments.grantedTypes.first(where: { $0.type.code == form.text("certificateType") }) else {
                        return commitments.pages.refusal(problem)
                    }
                    // The applicant's fields again, each problem next to its field.
                    return commitments.pages.shown(
                        commitments.lang.t("告知承诺", "Notify and commit"),
                        commitments.applicantForm(chosen.type, chosen.grant, form: form, problem: problem), problem: problem)
                default:
                    return final
                }
            }
        }
    }

    // MARK: The commitment and its receipt

    func receipt(print: Bool) throws -> Reply {
        let id = call.call.parameter("id")
        guard let commitment = try context.store.commitment(id: id),
            commitment.requester == department.code || commitment.owner == department.code
        else { return .page(ConsoleRoutes.notFoundPage(call.request), problemType: nil) }
        let type = context.catalog[commitment.certificateType]
        let receipt = commitment.receipt
        let digest = Base64URL.encode(Digest.sha256(Array(receipt.jws.utf8)))
        let facts: HTML = """
            <dl class="facts"><dt>\(lang.t("证明事项", "Certificate type"))</dt><dd>\(type.map { lang.name($0.name) } ?? commitment.certificateType)</dd>\
            <dt>\(lang.t("承诺编号", "Commitment"))</dt><dd><code>\(commitment.id)</code></dd>\
            <dt>\(lang.t("承诺人", "Applicant"))</dt><dd>\(commitment.subject.name) <code>\(commitment.subject.id)</code></dd>\
            <dt>\(lang.t("用途", "Purpose"))</dt><dd>\(commitment.purpose)</dd>\
            <dt>\(lang.t("状态", "Status"))</dt><dd class="status">\(commitment.status.rawValue)</dd>\
            <dt>\(lang.t("回执编号", "Receipt"))</dt><dd><code class="receipt-id">\(receipt.id)</code></dd>\
            <dt>\(lang.t("签发时间", "Issued"))</dt><dd>\(BeijingTime.format(receipt.issuedAt))</dd>\
            <dt>\(lang.t("有效期至", "Valid until"))</dt><dd>\(BeijingTime.format(receipt.expiresAt))</dd>\
            <dt>SHA-256</dt><dd><code>\(digest)</code></dd></dl>\
            <pre class="commitment-text">\(commitment.text ?? "")</pre>
            """
        if print {
            let symbol: HTML = (try? QRCode(text: "heyan:\(receipt.id):sha256:\(digest)")).map { $0.html(moduleSize: 3, title: receipt.id) } ?? .empty
            let printed: HTML = """
                \(facts)<div class="qr-box">\(symbol)</div>\
                <p class="noprint"><a href="\(pages.link("/console/commitments/\(commitment.id)"))">\(lang.t("返回", "Back"))</a></p>
                """
            let title = lang.t("告知承诺回执（归档）", "Commitment receipt (case file)")
            return .page(pages.page(title, printed, printView: true), problemType: nil)
        }
        let body: HTML = """
            \(facts)<p><a class="print-link" href="\(pages.link("/console/commitments/\(commitment.id)/print"))">\(lang.t("打印回执", "Print the receipt"))</a></p>
            """
        return pages.shown(lang.t("告知承诺", "Commitment"), body)
    }
}
