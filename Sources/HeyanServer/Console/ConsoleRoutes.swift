import HeyanCrypto
import HeyanDomain
import HeyanHTTP
import HeyanPresentation

/// The clerks' console (docs/console.md): server-rendered pages under `/console/` on the API's own
/// mTLS port. The department is the browser's client certificate, exactly as for the API, and
/// every action calls the API's own handler (``VerificationService``, ``QueueRoutes``) with the
/// form turned into the API's JSON body — the same validation, idempotency, audit entry and
/// problem types; the console only renders the answer.
///
/// Every response carries the console's security headers (``headers``); every state-changing
/// form carries a ``ConsoleCSRF`` token and must come from heyan's own origin. No URL the console
/// builds holds a subject ID (the subject travels in form bodies only).
struct ConsoleRoutes {
    let context: ServiceContext
    let csrf: ConsoleCSRF

    init(_ context: ServiceContext, csrf: ConsoleCSRF = ConsoleCSRF()) {
        self.context = context
        self.csrf = csrf
    }

    func register(in router: inout Router<HeyanService.Handler>) {
        func page(_ template: String, _ body: @escaping @Sendable (ConsoleCall) throws -> Reply) {
            router.add("GET", template, policy: .consolePage) { [self] call in
                let console = ConsoleCall(call, self)
                return Self.asPage(console) { try body(console) }
            }
        }
        func form(_ template: String, _ body: @escaping @Sendable (ConsoleCall, ConsoleForm) throws -> Reply) {
            router.add("POST", template, policy: .consoleForm) { [self] call in
                let console = ConsoleCall(call, self)
                let form = ConsoleForm(body: call.request.body)
                if let refusal = checkForgery(console, form) { return refusal }
                return Self.asPage(console) { try body(console, form) }
            }
        }
        page("/console") { .page(Self.redirect($0.lang.link("/console/")), problemType: nil) }
        page("/console/") { ConsolePages(call: $0).home() }
        page("/console/static/console.css") { _ in
            var response = HTTPResponse.text(200, ConsoleStyle.css, contentType: "text/css; charset=utf-8")
            Self.secure(&response, personal: false)
            return .page(response, problemType: nil)
        }
        page("/console/queue") { call in try ConsolePages(call: call).queue() }
        form("/console/queue/lease") { call, _ in try ConsolePages(call: call).leaseNext() }
        form("/console/queue/{id}/answer") { call, form in try ConsolePages(call: call).answer(form) }
        page("/console/requests") { call in try ConsolePages(call: call).requests() }
        page("/console/requests/new") { call in try ConsolePages(call: call).newRequest() }
        form("/console/requests") { call, form in try ConsolePages(call: call).submit(form) }
        page("/console/requests/{id}") { call in try ConsolePages(call: call).request(print: false) }
        page("/console/requests/{id}/print") { call in try ConsolePages(call: call).request(print: true) }
        page("/console/static/console.js") { _ in
            var response = HTTPResponse.text(200, ConsoleScript.javaScript, contentType: "text/javascript; charset=utf-8")
            Self.secure(&response, personal: false)
            return .page(response, problemType: nil)
        }
        OwnerPages.register(page: page, form: form)
        CommitmentPages.register(page: page, form: form)
        AuditorPages.register(page: page, form: form)
        OperatorPages.register(page: page, form: form)
    }

    /// The reply of a console handler, made a page whatever it is: a problem it threw or answered, or a
    /// failure (a store that cannot do what is asked: 503 `store-unavailable`, or 500) — thrown, or the
    /// final answer of an API handler the page called — is the refusal page with that problem's status and
    /// type, not the API's JSON body a clerk's browser would show as text. The audit entry of a 4xx and
    /// the log line of a failure are what the API makes of them (``Reply/page(_:problemType:)``).
    static func asPage(_ console: ConsoleCall, _ handler: () throws -> Reply) -> Reply {
        let log = console.context.log
        let route = console.call.route.template
        return ConsoleCall.calling(handler).then { final in
            switch final {
            case .problem(let problem): ConsolePages(call: console).refusal(problem)
            case .failure(let error): ConsolePages(call: console).refusal(log.problem(for: error, route: route))
            default: final
            }
        }
    }

    /// A state-changing post that did not come from heyan's own page: 403, audited, nothing done.
    private func checkForgery(_ call: ConsoleCall, _ form: ConsoleForm) -> Reply? {
        let problem: Problem
        if let reason = ConsoleCSRF.foreignOrigin(call.request) {
            problem = .forbidden(detail: "Cross-site request refused: \(reason).")
        } else if !csrf.accepts(form.text("csrf"), department: call.code, day: call.day) {
            problem = .forbidden(detail: "Cross-site request refused: the form's token is missing, expired or not this department's.")
        } else {
            return nil
        }
        return ConsolePages(call: call).refusal(problem)
    }

    /// Paths a browser asks for on its own: a 404 there is a page and is not audited.
    static func isBrowserPath(_ path: String) -> Bool {
        path == "/console" || path.hasPrefix("/console/") || path == "/favicon.ico" || path == "/robots.txt"
    }

    static func notFoundPage(_ request: HTTPRequest) -> HTTPResponse {
        let lang = ConsoleLanguage(request)
        let body: HTML = """
            <p>\(lang.t("没有这个页面。", "There is no such page."))</p>\
            <p><a href="\(HTML.path(lang.link("/console/")) ?? .empty)">\(lang.t("返回首页", "Home"))</a></p>
            """
        return html(404, ConsoleLayout.page(lang: lang, title: lang.t("未找到", "Not found"), department: nil, body: body))
    }

    /// The console's headers on `response`: no script but heyan's own file (``ConsoleScript``), no
    /// inline script or style, fetches only to heyan itself, no framing, no referrer, and no caching
    /// of a page that may hold personal data.
    static func secure(_ response: inout HTTPResponse, personal: Bool = true) {
        response.headers.replace(
            "Content-Security-Policy",
            "default-src 'none'; script-src 'self'; connect-src 'self'; style-src 'self'; img-src 'self' data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
        response.headers.replace("Referrer-Policy", "no-referrer")
        response.headers.replace("X-Content-Type-Options", "nosniff")
        response.headers.replace("X-Frame-Options", "DENY")
        response.headers.replace("Cache-Control", personal ? "no-store" : "max-age=3600")
    }

    static func html(_ status: Int, _ page: HTML) -> HTTPResponse {
        var response = HTTPResponse.text(status, page.rendered, contentType: "text/html; charset=utf-8")
        secure(&response)
        return response
    }

    /// 303 See Other to a same-origin path.
    static func redirect(_ path: String) -> HTTPResponse {
        var response = HTTPResponse(status: 303)
        response.headers.replace("Location", path)
        secure(&response)
        return response
    }
}

/// One console request: the API call, the language, the day and the department's CSRF token.
struct ConsoleCall: Sendable {
    let call: ServiceCall
    let context: ServiceContext
    let csrf: ConsoleCSRF
    let lang: ConsoleLanguage
    let now: Millis

    init(_ call: ServiceCall, _ routes: ConsoleRoutes) {
        self.call = call
        context = routes.context
        csrf = routes.csrf
        lang = ConsoleLanguage(call.request)
        now = routes.context.now()
    }

    var request: HTTPRequest { call.request }
    var department: Department { call.department }
    var code: String { call.code }
    var day: Int { BeijingTime.day(now) }
    var csrfToken: String { csrf.token(department: code, day: day) }

    /// The API call a console form stands for: `body` as JSON to the API handler behind `template`.
    func apiCall(_ method: String, _ template: String, parameters: [String: String] = [:], json body: JSONValue,
        headers: [(String, String)] = []) -> ServiceCall
    {
        var fields = headers
        fields.append(("Content-Type", "application/json"))
        let path = template.split(separator: "/", omittingEmptySubsequences: false).map { segment in
            segment.hasPrefix("{") ? parameters[String(segment.dropFirst().dropLast())] ?? "" : String(segment)
        }.joined(separator: "/")
        let request = HTTPRequest(method: method, target: path, headers: HTTPHeaders(fields), body: body.jsonBytes())
        return ServiceCall(
            request: request, context: call.context, department: department,
            route: RouteMatch(template: template, parameters: parameters, policy: .api), attribution: call.attribution)
    }
}

extension Reply {
    /// This reply once it is final (a later reply when it comes), turned into another by `map`.
    func then(_ map: @escaping @Sendable (Reply) -> Reply) -> Reply {
        switch self {
        case .later(let later): .later(Later { answer in later.start { make in answer { make().then(map) } } })
        default: map(self)
        }
    }
}
