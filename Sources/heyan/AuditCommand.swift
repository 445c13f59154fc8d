#if canImport(Glibc)
import Glibc
#endif
import FoundationEssentials
import HeyanCrypto
import HeyanDomain
import HeyanStorage
import HeyanTransparencyLog

/// `heyan audit verify --database PATH [--trust CA.pem] [--log-key VKEY]`: recomputes the audit
/// hash chain of a database, rebuilds its Merkle tree from the leaves (recomputing each leaf from
/// its salt and entry) and checks every signed checkpoint: the JWS ones (head, tree root,
/// signature) and the C2SP notes (root at their size; signature with `--log-key`) (docs/audit.md).
///
/// Prints `entries=N checkpoints=M head=<hex> ok` and exits 0 when everything verifies; prints the
/// first broken entry and exits 1 otherwise. With `--trust`, each checkpoint's x5c chain must lead
/// to that CA (checked at the checkpoint's own time, so a since-expired signing certificate still
/// vouches for what it signed then); without it, only the signature against the x5c leaf is
/// checked, which proves integrity but not who signed.
enum AuditCommand {
    static let usage = """
        usage: heyan audit verify --database PATH [--trust CA.pem] [--log-key VKEY]
               heyan audit report --subject ID --database PATH
        """

    /// `heyan audit report --subject ID --database PATH`: the subject access report
    /// (docs/audit.md, "Subject access report") as JSON on standard output, read from a database
    /// file (read-only: this offline read is not itself in the log).
    static func report(arguments: [String]) throws -> Int32 {
        let options: CommandLineOptions
        do {
            options = try CommandLineOptions(arguments, valued: ["--database", "--subject"])
        } catch {
            print("heyan audit report: \(error)\n\(usage)")
            return 2
        }
        guard let database = options["--database"], let subject = options["--subject"], !subject.isEmpty,
            options.positional.isEmpty
        else {
            print(usage)
            return 2
        }
        if let refusal = GovernanceCommandSupport.refusal(ofDatabase: database) {
            print("heyan audit report: \(refusal)")
            return 2
        }
        let opened = try GovernanceCommandSupport.openStore(database)
        defer { opened.store.close() }
        let entries = try SubjectAccessReport.entries(subjectID: subject, from: opened.store)
        let now = SystemClock().now()
        print(String(decoding: SubjectAccessReport.json(subjectID: subject, generatedAt: now, entries: entries).jsonBytes(), as: UTF8.self))
        return 0
    }

    static func run(arguments: [String]) throws -> Int32 {
        if arguments.first == "report" { return try report(arguments: Array(arguments.dropFirst())) }
        guard arguments.first == "verify" else {
            print(usage)
            return 2
        }
        let options: CommandLineOptions
        do {
            options = try CommandLineOptions(Array(arguments.dropFirst()), valued: ["--database", "--trust", "--log-key"])
        } catch {
            print("heyan audit verify: \(error)\n\(usage)")
            return 2
        }
        guard let database = options["--database"], options.positional.isEmpty else {
            print(usage)
            return 2
        }
        if let refusal = GovernanceCommandSupport.refusal(ofDatabase: database) {
            print("heyan audit verify: \(refusal)")
            return 2
        }
        let trust = try options["--trust"].map { try TrustStore(caFile: $0, crlFile: nil) }
        if trust == nil {
            print("note: no --trust given: checkpoint signatures are checked against their own x5c certificate only")
        }

        var logKey: NoteVerifierKey?
        if let vkey = options["--log-key"] {
            do {
                logKey = try NoteVerifierKey(vkey: vkey)
            } catch {
                print("heyan audit verify: --log-key is not a verifier key (name+id+base64): \(error)")
                return 2
            }
        } else {
            print("note: no --log-key given: checkpoint notes are checked against the tree, not their signatures")
        }
        let opened = try GovernanceCommandSupport.openStore(database)
        defer { opened.store.close() }
        let report = try opened.verifyAudit(
            { checkpoint in try verifyCheckpoint(checkpoint, trust: trust) },
            { note in
                guard let logKey else { return }
                let body = try logKey.verify(try SignedNote(parsing: note.note))
                guard try Checkpoint(body: body) == Checkpoint(origin: logKey.name, size: note.size, root: note.root) else {
                    throw CheckpointMismatch(message: "the signed text is not the checkpoint of the stored size and root")
                }
            })
        if let problem = report.firstBreak {
            print("entries=\(report.entries) checkpoints=\(report.checkpoints) broken at sequence \(problem.sequence): "
                + "\(problem.kind): \(problem.message)")
            return 1
        }
        print(
            "entries=\(report.entries) checkpoints=\(report.checkpoints) notes=\(report.checkpointNotes) "
                + (report.erased > 0 ? "erased=\(report.erased) " : "")
                + "head=\(hex(report.head)) root=\(report.treeRoot) ok")
        return 0
    }

    /// The checkpoint's JWS verifies and signs exactly ``AuditCheckpoint/payload(size:head:time:treeRoot:)``
    /// of the stored size, head and time.
    static func verifyCheckpoint(_ checkpoint: AuditCheckpoint, trust: TrustStore?) throws {
        let verified: VerifiedJWS
        if let trust {
            verified = try JWSVerifier.verify(checkpoint.jws, trust: trust, at: checkpoint.time / 1000)
        } else {
            verified = try JWSVerifier.verify(checkpoint.jws, signer: try leafCertificate(of: checkpoint.jws))
        }
        let expected = AuditCheckpoint.payload(
            size: checkpoint.size, head: checkpoint.head, time: checkpoint.time, treeRoot: checkpoint.treeRoot)
        guard verified.payload == expected else {
            throw CheckpointMismatch(
                message: "the signed payload \(String(decoding: verified.payload, as: UTF8.self)) is not "
                    + String(decoding: expected, as: UTF8.self))
        }
    }

    /// The first `x5c` certificate of a compact JWS's header.
    private static func leafCertificate(of jws: String) throws -> Certificate {
        struct Header: Decodable { var x5c: [String]? }
        guard let encoded = jws.split(separator: ".", omittingEmptySubsequences: false).first,
            let header = Base64URL.decode(encoded.utf8),
            let fields = try? JSONDecoder().decode(Header.self, from: Data(header)),
            let leaf = fields.x5c?.first, let der = Base64.decode(leaf)
        else { throw CheckpointMismatch(message: "the JWS header has no x5c certificate") }
        return try Certificate(der: der)
    }

    struct CheckpointMismatch: Error, CustomStringConvertible {
        let message: String
        var description: String { message }
    }
}
