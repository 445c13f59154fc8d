import HeyanDomain
import HeyanHTTP

/// The catalog: `GET /v1/catalog[?version=N]`, `GET /v1/catalog/{code}[?version=N]`,
/// `GET /v1/catalog/versions`, and the operator's `POST /v1/catalog/changes`
/// (docs/catalog-governance.md).
struct CatalogRoutes {
    let context: ServiceContext
    init(_ context: ServiceContext) { self.context = context }

    func register(in router: inout Router<HeyanService.Handler>) {
        router.add("GET", "/v1/catalog") { call in try list(call) }
        router.add("GET", "/v1/catalog/versions") { call in versions(call) }
        router.add("POST", "/v1/catalog/changes") { call in try change(call) }
        router.add("GET", "/v1/catalog/{code}") { call in try item(call) }
    }

    /// The version asked for with `?version=N`, or the one in effect.
    private func entry(_ call: ServiceCall) throws(Problem) -> CatalogState.Entry {
        guard call.request.queryValue("version") != nil else { return context.catalogs.active(at: context.now()) }
        let number = try context.queryInteger(call, "version", default: 0, range: 1...Int(Int32.max))
        guard let entry = context.catalogs.entry(version: number) else {
            throw .notFound(detail: "No catalog version \(number); GET /v1/catalog/versions lists them.")
        }
        return entry
    }

    func list(_ call: ServiceCall) throws -> Reply {
        .response(.json(200, try entry(call).published.list))
    }

    func item(_ call: ServiceCall) throws -> Reply {
        let entry = try entry(call)
        let code = call.parameter("code")
        guard let body = entry.published.items[code] else {
            throw Problem.notFound(detail: "No certificate type '\(code)' in the catalog.")
        }
        return .response(.json(200, body))
    }

    /// Every version with when it takes effect and why; `active` marks the one deciding now.
    func versions(_ call: ServiceCall) -> Reply {
        let now = context.now()
        let active = context.catalogs.active(at: now).version.version
        let rows = context.catalogs.all.map { Self.summary($0, active: active) }
        return .json(200, .object([("active", .int(Int64(active))), ("versions", .array(rows))]))
    }

    static func summary(_ version: CatalogVersion, active: Int) -> JSONValue {
        .object([
            ("version", .int(Int64(version.version))),
            ("effectiveAt", .string(Timestamp.rfc3339(version.effectiveAt))),
            ("status", .string(version.version == active ? "active" : version.version > active ? "scheduled" : "superseded")),
            ("reason", .string(version.reason)),
            ("legalBasis", .string(version.legalBasis)),
            ("actor", .string(version.actor)),
            ("createdAt", .string(Timestamp.rfc3339(version.createdAt))),
            ("changedCodes", .array(version.changedCodes.map(JSONValue.string))),
        ])
    }

    func change(_ call: ServiceCall) throws -> Reply {
        guard call.department.has(.operator) else { throw Refusal.roleRequired(.operator, department: call.code) }
        let now = context.now()
        let latest = context.catalogs.latest
        let plan = try CatalogChangeRules.evaluate(
            body: call.request.body, latest: latest, departments: context.directory, now: now
        ).get()
        let version = CatalogVersion(
            catalog: plan.catalog, effectiveAt: plan.effectiveAt, reason: plan.reason, legalBasis: plan.legalBasis,
            actor: call.code, createdAt: now, changedCodes: plan.changedCodes)
        let audit = AuditEvent(
            action: .catalogChanged, actor: call.code, clerk: call.clerk,
            detail: [
                "version": String(version.version), "baseVersion": String(latest.version),
                "effectiveAt": Timestamp.rfc3339(version.effectiveAt), "reason": plan.reason,
                "legalBasis": plan.legalBasis, "codes": plan.changedCodes.joined(separator: ","),
                "changes": plan.changes.map { "\($0.op.rawValue):\($0.code)" }.joined(separator: ","), "source": "api",
            ])
        let catalogs = context.catalogs
        let log = context.log
        return .awaiting({ [context] in
            context.store.storeCatalogVersion(version, baseVersion: latest.version, audit: audit, completion: $0)
        }) { result in
            result.reply { stored in
                switch stored {
                case .stored:
                    do {
                        try catalogs.append(version)
                    } catch {
                        return .failure(error)
                    }
                    log.log(.info, "catalog-changed", [("version", String(version.version)), ("codes", plan.changedCodes.joined(separator: ","))])
                    var fields: [(String, JSONValue)] = []
                    if case .object(let summary) = Self.summary(version, active: catalogs.active(at: now).version.version) {
                        fields = summary
                    }
                    fields.append(
                        ("changes", .array(plan.changes.map { .object([("op", .string($0.op.rawValue)), ("code", .string($0.code))]) })))
                    return .response(
                        HTTPResponse.created(
                            status: 201, body: JSONValue.object(fields).jsonBytes(),
                            location: "/v1/catalog?version=\(version.version)"))
                case .baseVersionChanged(let newest):
                    return .refusal(
                        Refusal(
                            status: 409, slug: "catalog-version-conflict", title: "Catalog version conflict",
                            detail: "Another change stored version \(newest) meanwhile; read the catalog again and resend.",
                            extra: [("latestVersion", .int(Int64(newest)))]))
                }
            }
        }
    }
}
