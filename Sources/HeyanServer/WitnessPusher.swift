#if canImport(Glibc)
import Glibc
#endif
import HeyanDomain
import HeyanHTTP
import HeyanTransparencyLog
import Synchronization

/// heyan's side of C2SP `tlog-witness` (docs/transparency-log.md, "Witnesses"): each signed
/// checkpoint is POSTed to `<prefix>/add-checkpoint` of every configured witness over mTLS, with
/// `old <size>` the witness's last size (learnt from its 409 `text/x.tlog.size` answer) and the
/// consistency proof from there; the verified cosignature lines are stored with the note.
///
/// A witness that refuses (422: not consistent with what it cosigned — a fork or a rollback; 403;
/// 400) or that holds a larger tree than the log's is logged (`witness-refused`) and counted in
/// `heyan_audit_witness_refusals_total`; then no cosignature, and without a quorum no proof.
final class WitnessPusher: Sendable {
    final class Target: Sendable {
        let name: String
        let key: CosignatureKey
        let host: String
        let port: Int
        let prefix: String
        /// The witness's size as last learnt (nil: not yet asked; the first request says `old 0`).
        let knownSize = Mutex<UInt64?>(nil)
        let cosignedSize = Atomic<UInt64>(0)
        let refusals = Atomic<Int>(0)
        let failures = Atomic<Int>(0)

        init(_ settings: WitnessSettings) throws {
            guard let endpoint = settings.endpoint else {
                throw ConfigurationFileError(path: settings.url, reason: "not https://host:port[/prefix]")
            }
            key = try CosignatureKey(vkey: settings.vkey)
            guard key.name == settings.name else {
                throw ConfigurationFileError(path: settings.vkey, reason: "the key is named \(key.name), not \(settings.name)")
            }
            name = settings.name
            host = endpoint.host
            port = endpoint.port
            prefix = endpoint.prefix
        }
    }

    let targets: [Target]
    let quorum: Int
    let tls: TLSClientContext
    let log: EventLog
    /// The one push in flight: whether it runs, and the callers of ``claim(orWaitWith:)`` that
    /// found it running (their checkpoint is pushed in the round after the current one).
    private let rounds = Mutex<(running: Bool, waiting: [@Sendable () -> Void])>((false, []))

    init(settings: AuditLogSettings, log: EventLog) throws {
        targets = try settings.witnesses.map(Target.init)
        quorum = settings.witnessQuorum
        guard let client = settings.witnessClient else {
            throw ConfigurationFileError(path: "audit.witnessClient", reason: "required with witnesses")
        }
        tls = try TLSClientContext(certificate: client.certificate, key: client.privateKey, trust: client.trust)
        self.log = log
    }

    /// Claims the one push in flight (true: the caller runs it). False when a push is running: then
    /// `done` waits for one more round, which pushes the newest checkpoint once the current round
    /// ends — a checkpoint signed during a push is cosigned right after it, not an interval later.
    func claim(orWaitWith done: @escaping @Sendable () -> Void) -> Bool {
        rounds.withLock { state in
            if state.running {
                state.waiting.append(done)
                return false
            }
            state.running = true
            return true
        }
    }

    /// Ends a round: the callers to finish with the next round, or nil (the push is released).
    func nextRound() -> [@Sendable () -> Void]? {
        rounds.withLock { state in
            guard !state.waiting.isEmpty else {
                state.running = false
                return nil
            }
            defer { state.waiting = [] }
            return state.waiting
        }
    }

    /// Pushes `checkpoint` to every witness that has not cosigned it yet; answers the cosignatures
    /// received. Blocking (one witness after another, each bounded by the connection timeout).
    func push(_ checkpoint: StoredCheckpointNote, proofs: any AuditLogProofs) -> [WitnessCosignature] {
        guard let note = try? SignedNote(parsing: checkpoint.note) else { return [] }
        var received: [WitnessCosignature] = []
        for target in targets where !checkpoint.cosignatures.contains(where: { $0.hasPrefix("— \(target.name) ") }) {
            if let line = push(checkpoint, note: note, to: target, proofs: proofs) {
                received.append(WitnessCosignature(witness: target.name, line: line.line))
            }
        }
        return received
    }

    private func push(
        _ checkpoint: StoredCheckpointNote, note: SignedNote, to target: Target, proofs: any AuditLogProofs
    ) -> NoteSignature? {
        var old = target.knownSize.withLock { $0 } ?? 0
        // At most one retry: after a 409 the second request carries the witness's own size.
        for _ in 0..<2 {
            guard old <= checkpoint.size else {
                refused(target, checkpoint, status: 0, reason: "the witness holds size \(old), larger than the log's checkpoint")
                return nil
            }
            let answer: ClientResponse
            do {
                let proof = old == 0 || old == checkpoint.size ? [] : try proofs.consistencyProof(first: old, second: checkpoint.size)
                let body = AddCheckpointRequest.body(oldSize: old, proof: proof, note: checkpoint.note)
                answer = try post(body, to: target)
            } catch {
                target.failures.add(1, ordering: .relaxed)
                log.log(.warning, "witness-unreachable", [("witness", target.name), ("error", "\(error)")],
                    numbers: [("size", Double(checkpoint.size))])
                return nil
            }
            switch answer.status {
            case 200:
                do {
                    let line = try AddCheckpointRequest.cosignature(inAnswer: answer.bodyText, note: note, key: target.key)
                    target.knownSize.withLock { $0 = checkpoint.size }
                    target.cosignedSize.store(checkpoint.size, ordering: .relaxed)
                    log.log(.info, "witness-cosigned", [("witness", target.name)], numbers: [("size", Double(checkpoint.size))])
                    return line
                } catch {
                    refused(target, checkpoint, status: 200, reason: "unusable cosignature: \(error)")
                    return nil
                }
            case 409:
                guard let size = AddCheckpointRequest.witnessSize(inConflict: answer.bodyText) else {
                    refused(target, checkpoint, status: 409, reason: "409 without a size")
                    return nil
                }
                target.knownSize.withLock { $0 = size }
                old = size
            default:
                refused(target, checkpoint, status: answer.status, reason: String(answer.bodyText.prefix(300)))
                return nil
            }
        }
        refused(target, checkpoint, status: 409, reason: "the witness's size changed between two requests")
        return nil
    }

    private func refused(_ target: Target, _ checkpoint: StoredCheckpointNote, status: Int, reason: String) {
        target.refusals.add(1, ordering: .relaxed)
        log.log(
            .error, "witness-refused", [("witness", target.name), ("reason", reason)],
            numbers: [("status", Double(status)), ("size", Double(checkpoint.size))])
    }

    private func post(_ body: String, to target: Target) throws -> ClientResponse {
        let connection = try TLSClientConnection(
            host: try Self.ipv4(target.host), port: target.port, context: tls, serverName: target.host,
            timeoutSeconds: 5, verifyServerName: true)
        return try connection.request(
            "POST", target.prefix + "/add-checkpoint", headers: [("Content-Type", "text/plain; charset=utf-8")],
            body: Array(body.utf8))
    }

    /// The first IPv4 address of `host` (a dotted quad is itself).
    static func ipv4(_ host: String) throws -> String {
        var hints = addrinfo()
        hints.ai_family = AF_INET
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        var result: UnsafeMutablePointer<addrinfo>?
        let status = getaddrinfo(host, nil, &hints, &result)
        guard status == 0, let first = result else {
            throw ConfigurationFileError(path: host, reason: "cannot resolve: \(String(cString: gai_strerror(status)))")
        }
        defer { freeaddrinfo(result) }
        var text = [CChar](repeating: 0, count: Int(INET_ADDRSTRLEN))
        let address = first.pointee.ai_addr.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { $0.pointee.sin_addr }
        var copy = address
        inet_ntop(AF_INET, &copy, &text, socklen_t(INET_ADDRSTRLEN))
        return String(decoding: text.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// `/metrics` lines per witness (docs/metrics.md).
    func metrics(proofs: any AuditLogProofs) -> String {
        var out = """
            # HELP heyan_audit_witness_cosigned_size Tree size of the newest checkpoint each witness cosigned (since start).
            # TYPE heyan_audit_witness_cosigned_size gauge

            """
        for target in targets {
            out += "heyan_audit_witness_cosigned_size{witness=\"\(target.name)\"} \(target.cosignedSize.load(ordering: .relaxed))\n"
        }
        out += """
            # HELP heyan_audit_witness_refusals_total Checkpoints a witness refused to cosign (fork, rollback, bad signature) or could not be given.
            # TYPE heyan_audit_witness_refusals_total counter

            """
        for target in targets {
            out += "heyan_audit_witness_refusals_total{witness=\"\(target.name)\"} \(target.refusals.load(ordering: .relaxed))\n"
        }
        out += """
            # HELP heyan_audit_witness_failures_total Pushes to a witness that failed to connect or to get an answer.
            # TYPE heyan_audit_witness_failures_total counter

            """
        for target in targets {
            out += "heyan_audit_witness_failures_total{witness=\"\(target.name)\"} \(target.failures.load(ordering: .relaxed))\n"
        }
        let quorumSize = (try? proofs.latestCheckpointNote(cosignedBy: quorum)?.size) ?? 0
        out += """
            # HELP heyan_audit_quorum_checkpoint_size Tree size of the newest checkpoint cosigned by the witness quorum (proofs are issued against it).
            # TYPE heyan_audit_quorum_checkpoint_size gauge
            heyan_audit_quorum_checkpoint_size \(quorumSize)

            """
        return out
    }
}
