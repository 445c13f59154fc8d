#if canImport(Glibc)
import Glibc
#endif
import HeyanCrypto
import HeyanDomain
import HeyanHTTP
import HeyanTransparencyLog
import Synchronization

/// The audit log as a transparency log (docs/transparency-log.md): its signed checkpoint, RFC 9162
/// inclusion and consistency proofs, and a C2SP `tlog-proof` bundle per attestation.
///
/// - `GET /v1/audit/log/checkpoint`: the newest signed C2SP checkpoint note (`text/plain`), for
///   auditors, operators and witnesses (any registered department: it discloses only a size and a root).
/// - `GET /v1/audit/proof/inclusion?index=&size=`, `GET /v1/audit/proof/consistency?from=&to=`:
///   `{"hashes":[base64…]}` for auditors and operators.
/// - `GET /v1/attestations/{id}/proof`: the bundle proving the attestation's issuing entry, for
///   whoever may read the attestation; 202 + `Retry-After` until a checkpoint covers the entry.
struct TransparencyLogRoutes {
    let context: ServiceContext
    init(_ context: ServiceContext) { self.context = context }

    func register(in router: inout Router<HeyanService.Handler>) {
        router.add("GET", "/v1/audit/log/checkpoint") { _ in try checkpoint() }
        router.add("GET", "/v1/audit/proof/inclusion") { call in try inclusion(call) }
        router.add("GET", "/v1/audit/proof/consistency") { call in try consistency(call) }
        router.add("GET", "/v1/attestations/{id}/proof") { call in try attestationProof(call) }
    }

    func checkpoint() throws -> Reply {
        guard let note = try context.auditLog.latestCheckpointNote() else {
            throw Problem.notFound(detail: "No checkpoint has been signed yet (an empty log, or no audit.logKey configured).")
        }
        // With the witnesses' cosignature lines received so far (C2SP tlog-cosignature).
        var response = HTTPResponse.text(200, note.cosignedNote)
        response.headers.add("Cache-Control", "no-cache")
        return .response(response)
    }

    /// Proofs and tiles (``AuditTileRoutes``) are for auditors and the operator.
    static func requireAuditor(_ call: ServiceCall) throws(Problem) {
        guard call.department.has(.auditor) || call.department.has(.operator) else {
            throw .forbidden(detail: "Audit log proofs are for auditors and the operator; '\(call.code)' has neither role.")
        }
    }

    /// A required query parameter from 0 to `Int64.max` (the document's int64 bound), or 400.
    private func size(_ call: ServiceCall, _ name: String) throws(Problem) -> UInt64 {
        UInt64(try context.queryInteger(call, name, default: nil, range: 0...Int(Int64.max)))
    }

    /// `{"hashes": […]}`, or 422 naming `field` when the range is outside the tree.
    private func hashes(_ body: () throws -> [MerkleHash], field: String) throws -> Reply {
        do {
            let hashes = try body()
            return .json(200, .object([("hashes", .array(hashes.map { .string($0.base64) }))]))
        } catch let error as AuditTreeRangeError {
            throw Problem.unprocessable(errors: [.init(path: field, message: error.message)], detail: error.message)
        }
    }

    func inclusion(_ call: ServiceCall) throws -> Reply {
        try Self.requireAuditor(call)
        let index = try size(call, "index")
        let size = try size(call, "size")
        return try hashes({ try context.auditLog.inclusionProof(index: index, size: size) }, field: "index")
    }

    func consistency(_ call: ServiceCall) throws -> Reply {
        try Self.requireAuditor(call)
        let from = try size(call, "from")
        let to = try size(call, "to")
        return try hashes({ try context.auditLog.consistencyProof(first: from, second: to) }, field: "from")
    }

    func attestationProof(_ call: ServiceCall) throws -> Reply {
        let id = call.parameter("id")
        // The rule of GET /v1/attestations/{id}: requester, issuer, auditors, operator; else 404.
        guard let attestation = try context.store.attestation(id: id),
            attestation.requester == call.code || attestation.issuer == call.code || call.department.has(.auditor)
                || call.department.has(.operator)
        else { throw Problem.notFound(detail: "No attestation '\(id)' for \(call.code).") }
        guard let leaf = try context.auditLog.issuingLeaf(attestationID: attestation.id) else {
            return pending(detail: "The attestation's audit entry is not in the tree yet.")
        }
        guard !leaf.salt.isEmpty else {
            throw Problem.status(
                410, detail: "The attestation's audit entry was erased after the retention period; a bundle issued before still proves it.")
        }
        // Only against a checkpoint the witness quorum cosigned (audit.witnessQuorum; 0: any).
        let quorum = context.transparencyLog?.quorum ?? 0
        guard let note = try context.auditLog.latestCheckpointNote(cosignedBy: quorum), note.size > leaf.index else {
            return pending(
                detail: quorum == 0
                    ? "No signed checkpoint covers the attestation's audit entry yet."
                    : "No checkpoint cosigned by \(quorum) witness(es) covers the attestation's audit entry yet.")
        }
        let path = try context.auditLog.inclusionProof(index: leaf.index, size: note.size)
        let bundle = ProofBundle(extra: leaf.extra, index: leaf.index, path: path, checkpoint: note.cosignedNote)
        return .response(.text(200, bundle.serialized))
    }

    /// 202 with `Retry-After`: the proof will exist once the next checkpoint is signed.
    private func pending(detail: String) -> Reply {
        let seconds = context.transparencyLog?.intervalSeconds ?? 2
        var headers: HTTPHeaders = ["Content-Type": "application/json"]
        headers.add("Retry-After", String(seconds))
        let body = JSONValue.object([
            ("status", .string("pending")), ("detail", .string(detail)), ("retryAfter", .int(Int64(seconds))),
        ])
        return .response(HTTPResponse(status: 202, headers: headers, body: body.jsonBytes()))
    }

    /// `/metrics` lines of the tree (docs/metrics.md): its size and the size of the newest signed
    /// checkpoint (the integration backlog is ``NodeMetrics``').
    static func metrics(_ proofs: any AuditLogProofs, publisher: TransparencyLogPublisher? = nil) -> String {
        guard let head = try? proofs.treeHead() else { return "" }
        let witnesses = publisher?.witnesses?.metrics(proofs: proofs) ?? ""
        let checkpointSize = (try? proofs.latestCheckpointNote()?.size) ?? 0
        return """
            # HELP heyan_audit_tree_size Leaves in the audit log's Merkle tree (committed entries integrated).
            # TYPE heyan_audit_tree_size gauge
            heyan_audit_tree_size \(head.size)
            # HELP heyan_audit_checkpoint_size Tree size of the newest signed checkpoint note.
            # TYPE heyan_audit_checkpoint_size gauge
            heyan_audit_checkpoint_size \(checkpointSize)

            """ + witnesses
    }
}

/// Signs a C2SP checkpoint note of the audit tree every `intervalSeconds` when the tree grew
/// (never two roots for one size: the store keeps one note per size). ``Maintenance`` calls
/// ``publish(done:)`` on the service clock's schedule.
public final class TransparencyLogPublisher: Sendable {
    let proofs: any AuditLogProofs
    let signer: NoteSigner
    let origin: String
    let intervalSeconds: Int
    let log: EventLog
    /// The note's time.
    let clock: any ServiceClock

    /// Retention periods; nil: personal data is kept (docs/audit.md, "Retention").
    let retention: RetentionSettings?
    /// Pushes each checkpoint to the configured witnesses; nil without witnesses.
    let witnesses: WitnessPusher?
    /// How many witnesses must cosign a checkpoint before proofs are issued against it.
    var quorum: Int { witnesses?.quorum ?? 0 }

    init(proofs: any AuditLogProofs, settings: AuditLogSettings, log: EventLog, clock: any ServiceClock) throws {
        self.clock = clock
        witnesses = settings.witnesses.isEmpty ? nil : try WitnessPusher(settings: settings, log: log)
        retention = settings.retention
        self.proofs = proofs
        self.origin = settings.origin
        self.intervalSeconds = settings.checkpointIntervalSeconds
        self.log = log
        let key = try PrivateKey.load(pemFile: settings.logKey)
        signer = try NoteSigner(name: settings.origin, key: key)
    }

    /// The verifier key auditors and attestation holders are given (`name+id+key`).
    public var vkey: String { signer.verifierKey.vkey }

    /// Signs a checkpoint now if the tree grew, then (on a thread of its own, one push at a time)
    /// pushes the newest checkpoint to the witnesses that have not cosigned it and stores their
    /// cosignatures; calls `done` after all of it. Called while a push runs, it has that push
    /// take one more round with the newest checkpoint, and `done` waits for that round.
    public func publish(done: @escaping @Sendable () -> Void = {}) {
        proofs.publishCheckpointNote(signer: signer, origin: origin, now: clock.now()) { [self] result in
            switch result {
            case .failure(let error):
                log.log(.error, "checkpoint-note-failed", [("error", "\(error)")])
                done()
            case .success(let note):
                guard let note, let witnesses, note.cosignatures.count < witnesses.targets.count else { return done() }
                guard witnesses.claim(orWaitWith: done) else { return }
                do {
                    _ = try startThread(name: "heyan-witness") { [self] in
                        var note: StoredCheckpointNote? = note
                        var finished = [done]
                        // A round for a checkpoint the previous round pushed (no growth since) has
                        // nothing new to ask: the witnesses just answered it.
                        var pushedSize: UInt64?
                        while true {
                            if let note, note.size != pushedSize {
                                pushAndStore(note, witnesses)
                                pushedSize = note.size
                            }
                            finished.forEach { $0() }
                            guard let next = witnesses.nextRound() else { return }
                            finished = next
                            note = try? proofs.latestCheckpointNote()
                        }
                    }
                } catch {
                    log.log(.error, "witness-thread-failed", [("error", "\(error)")])
                    done()
                    while let next = witnesses.nextRound() { next.forEach { $0() } }
                }
            }
        }
    }

    /// One round on the witness thread: pushes `note` to the witnesses that have not cosigned it
    /// and waits until their cosignatures are stored.
    private func pushAndStore(_ note: StoredCheckpointNote, _ witnesses: WitnessPusher) {
        guard note.cosignatures.count < witnesses.targets.count else { return }
        let received = witnesses.push(note, proofs: proofs)
        guard !received.isEmpty else { return }
        let stored = ClockAlarm()
        proofs.attachCosignatures(received, size: note.size, now: clock.now()) { [log] result in
            if case .failure(let error) = result {
                log.log(.error, "cosignature-store-failed", [("error", "\(error)")])
            }
            stored.ring()
        }
        stored.wait(until: 0, timed: false) { false }
    }

    /// Erases the personal data past retention (entries naming a subject, verifications and
    /// attestations older than `accessRecordDays`, refused-request entries older than
    /// `securityLogDays`, by the service clock), at most 10,000 rows of each kind per run; the
    /// erasure is itself an audit entry. Calls `done` with the counts (nil: not configured or failed).
    public func eraseExpired(done: @escaping @Sendable (ErasureCounts?) -> Void = { _ in }) {
        guard let retention else { return done(nil) }
        let now = clock.now()
        let day: Millis = 86_400_000
        let request = ErasureRequest(
            accessBefore: now - Millis(retention.accessRecordDays) * day,
            securityBefore: now - Millis(retention.securityLogDays) * day, now: now)
        proofs.erasePersonalData(request) { [log] result in
            switch result {
            case .success(let counts):
                if counts.total > 0 {
                    log.log(
                        .info, "retention-erased",
                        numbers: [
                            ("entries", Double(counts.entries)), ("securityEntries", Double(counts.securityEntries)),
                            ("verifications", Double(counts.verifications)), ("attestations", Double(counts.attestations)),
                        ])
                }
                done(counts)
            case .failure(let error):
                log.log(.error, "retention-failed", [("error", "\(error)")])
                done(nil)
            }
        }
    }

    /// Nanoseconds between erasure runs (one hour of the service clock).
    let erasureInterval: UInt64 = 3_600_000_000_000

    /// Nanoseconds between notes.
    var interval: UInt64 { UInt64(intervalSeconds) * 1_000_000_000 }
}
