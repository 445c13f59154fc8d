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
               heyan audit export --database PATH --out FILE [--pseudonym-key FILE]
               heyan audit verify-export --in FILE --log-key VKEY
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

    /// `heyan audit export`: entries without subject IDs, each with its index and leaf data, and
    /// the signed checkpoint notes (``AuditExport``, docs/audit.md "Export").
    static func export(arguments: [String]) throws -> Int32 {
        let options = try CommandLineOptions(arguments, valued: ["--database", "--out", "--pseudonym-key"])
        guard let database = options["--database"], let out = options["--out"], options.positional.isEmpty else {
            print(usage)
            return 2
        }
        if let refusal = GovernanceCommandSupport.refusal(ofDatabase: database) {
            print("heyan audit export: \(refusal)")
            return 2
        }
        var key: [UInt8]?
        if let keyFile = options["--pseudonym-key"] {
            let bytes = try ProtectedFile.read(keyFile)
            guard bytes.count >= 32 else {
                print("heyan audit export: the pseudonym key must hold at least 32 bytes")
                return 2
            }
            key = bytes
        }
        guard let file = fopen(out, "wx") else {
            print("heyan audit export: cannot create \(out) (it must not exist): \(String(cString: strerror(errno)))")
            return 2
        }
        let summary = try AuditExport.export(databasePath: database, pseudonymKey: key) { line in
            guard fputs(line, file) >= 0 else { throw GovernanceCommandSupport.Failure(message: "cannot write \(out)") }
        }
        guard fflush(file) == 0, fsync(fileno(file)) == 0, fclose(file) == 0 else {
            print("heyan audit export: cannot write \(out)")
            return 1
        }
        print("exported entries=\(summary.entries) checkpoints=\(summary.checkpoints) to \(out)")
        return 0
    }

    struct ExportLine: Decodable {
        var format: String?
        var treeSize: UInt64?
        var index: UInt64?
        var leaf: String?
        var checkpoint: String?
    }

    /// `heyan audit verify-export`: rebuilds the tree from the exported leaf data (in index order,
    /// none missing) and checks every exported checkpoint note — its signature by `--log-key` and
    /// its root at its size.
    static func verifyExport(arguments: [String]) throws -> Int32 {
        let options = try CommandLineOptions(arguments, valued: ["--in", "--log-key"])
        guard let input = options["--in"], let vkey = options["--log-key"], options.positional.isEmpty else {
            print(usage)
            return 2
        }
        let logKey = try NoteVerifierKey(vkey: vkey)
        let text = String(decoding: try ProtectedFile.read(input), as: UTF8.self)
        var edge = MerkleRightEdge()
        var roots: [UInt64: MerkleHash] = [:]
        var notes = 0
        var declared: UInt64?
        func fail(_ message: String) -> Int32 {
            print("export broken: \(message)")
            return 1
        }
        // The sizes the checkpoints name, first, so that only those roots are kept.
        let lines = text.split(separator: "\n")
        var wanted = Set<UInt64>()
        for line in lines where line.hasPrefix("{\"checkpoint\"") {
            if let note = try? JSONDecoder().decode(ExportLine.self, from: Data(line.utf8)).checkpoint,
                let body = try? SignedNote(parsing: note).text, let checkpoint = try? Checkpoint(body: body)
            {
                wanted.insert(checkpoint.size)
            }
        }
        for (number, line) in lines.enumerated() {
            guard let parsed = try? JSONDecoder().decode(ExportLine.self, from: Data(line.utf8)) else {
                return fail("line \(number + 1) is not JSON")
            }
            if let format = parsed.format {
                guard format == AuditExport.format, number == 0 else { return fail("line \(number + 1): unknown format \(format)") }
                declared = parsed.treeSize
            } else if let index = parsed.index {
                guard index == edge.size, let leaf = parsed.leaf.flatMap(Base64.decode), leaf.count == 32 else {
                    return fail("line \(number + 1): entry \(index) out of order or without 32 bytes of leaf data")
                }
                _ = edge.append(leafHash: .leaf(leaf))
                if wanted.contains(edge.size) { roots[edge.size] = edge.root }
            } else if let note = parsed.checkpoint {
                do {
                    let checkpoint = try Checkpoint(body: try logKey.verify(try SignedNote(parsing: note)))
                    guard roots[checkpoint.size] == checkpoint.root else {
                        return fail("the checkpoint of size \(checkpoint.size) names a root the exported leaves do not give")
                    }
                } catch {
                    return fail("line \(number + 1): the checkpoint does not verify: \(error)")
                }
                notes += 1
            } else {
                return fail("line \(number + 1) is neither header, entry nor checkpoint")
            }
        }
        guard declared == edge.size else { return fail("the header says \(declared.map(String.init) ?? "nothing") entries, the file has \(edge.size)") }
        print("entries=\(edge.size) checkpoints=\(notes) root=\(edge.root.base64) ok")
        return 0
    }

    static func run(arguments: [String]) throws -> Int32 {
        if arguments.first == "report" { return try report(arguments: Array(arguments.dropFirst())) }
        if arguments.first == "export" { return try export(arguments: Array(arguments.dropFirst())) }
        if arguments.first == "verify-export" { return try verifyExport(arguments: Array(arguments.dropFirst())) }
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
