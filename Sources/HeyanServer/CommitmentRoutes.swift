import HeyanCrypto
import HeyanDomain
import HeyanHTTP

extension ServiceContext {
    /// Whether the subject has an active credit-list entry (so a commitment type is verified by
    /// its owner instead). A read failure counts as not listed: the commitment route then
    /// decides inside its transaction.
    func subjectIsCreditListed(_ subjectID: String) -> Bool {
        (try? store.creditEntries(subjectID: subjectID).contains(where: \.isActive)) ?? false
    }
}

/// Notify-and-commit (告知承诺, docs/commitments.md): the template, `POST /v1/commitments` with its
/// receipt and sampling decision (``CommitmentService``), and `GET /v1/commitments/{id}`
/// (long-poll for the spot check).
struct CommitmentRoutes {
    let context: ServiceContext
    init(_ context: ServiceContext) { self.context = context }

    func register(in router: inout Router<HeyanService.Handler>) {
        let service = CommitmentService(context: context)
        router.add("GET", "/v1/catalog/{code}/commitment-template") { call in try template(call) }
        router.add("POST", "/v1/commitments") { call in try service.create(call) }
        router.add("GET", "/v1/commitments/{id}") { call in try get(call) }
    }

    func template(_ call: ServiceCall) throws -> Reply {
        let filled = try CommitmentTemplateRules.evaluate(
            code: call.parameter("code"), subjectID: call.request.queryValue("subjectId"),
            subjectName: call.request.queryValue("subjectName"), catalog: context.catalog,
            today: context.today(context.now())
        ).get()
        return .json(200, APIView.commitmentTemplate(filled, textSHA256: Digest.sha256(Array(filled.text.utf8))))
    }

    /// The commitment, for its requester or owner; with `wait=S` while its spot check is open,
    /// when the finding is in or after S seconds.
    func get(_ call: ServiceCall) throws -> Reply {
        let id = call.parameter("id")
        return try context.longPoll(call, on: .commitment(id: id)) {
            guard let commitment = try context.store.commitment(id: id),
                commitment.requester == call.code || commitment.owner == call.code
            else { return .final(.problem(.notFound(detail: "No commitment '\(id)' for \(call.code)."))) }
            return .current(
                .json(200, APIView.commitment(commitment, now: context.now())),
                settled: commitment.status != .underCheck)
        }
    }
}
