#if canImport(Glibc)
import Glibc
#endif
import HeyanCrypto
import HeyanHTTP
import HeyanTestSupport
import HeyanTransparencyLog
import Synchronization
import Testing

/// heyan's side of C2SP `tlog-witness` against a real `heyan witness serve` process
/// (docs/transparency-log.md, "Witnesses"): each checkpoint is pushed over mTLS, the cosignature is
/// served with the note and put in proof bundles, proofs wait for the quorum, and a database
/// restored from an old copy and written differently is refused by the witness (422): no quorum,
/// logged and counted.
@Suite struct WitnessQuorumTests {
    static let binary = packageRoot() + "/.build/debug/heyan"
    static let origin = "localhost/audit/v1"
    static let witnessName = "audit-office.test/witness"

    final class Fixture: @unchecked Sendable {
        let pki: TestPKI
        let directory = TemporaryDirectory(prefix: "heyan-witness-quorum")
        let logVKey: String
        let witnessKey: CosignatureKey
        let witness: Subprocess
        let witnessPort: Int

        init() throws {
            pki = try TestPKI()
            let logKey = try PrivateKey.generate(.ed25519)
            try logKey.write(toFile: directory.file("log.key"))
            logVKey = try NoteSigner(name: WitnessQuorumTests.origin, key: logKey).verifierKey.vkey
            let state = directory.file("witness-state")
            let made = try Subprocess.run([WitnessQuorumTests.binary, "witness", "init", "--state", state, "--name", WitnessQuorumTests.witnessName])
            guard made.status == 0 else { throw TestFailure("witness init: \(made.stderr)") }
            witnessKey = try CosignatureKey(vkey: String(made.stdout.split(separator: "\n").last ?? ""))
            witnessPort = try RawTCP.freePort()
            witness = try Subprocess([
                WitnessQuorumTests.binary, "witness", "serve", "--state", state, "--name", WitnessQuorumTests.witnessName,
                "--log-vkey", logVKey, "--listen", "127.0.0.1:\(witnessPort)",
                "--cert", pki.serverCertificateFile, "--key", pki.serverKeyFile, "--ca", pki.caFile,
            ])
            // Listening once a TCP connection is accepted (its stdout is a buffered pipe).
            var up = false
            for _ in 0..<200 where !up {
                if let socket = try? RawTCP.connect(port: witnessPort) {
                    close(socket)
                    up = true
                } else {
                    usleep(50_000)
                }
            }
            guard up else { throw TestFailure("the witness did not start") }
        }

        deinit {
            witness.signal(SIGTERM)
            _ = witness.wait(timeout: 10)
        }

        /// heyan.json's `audit` with the witness, quorum 1, and a department certificate issued by
        /// the test CA as heyan's outbound client identity.
        func audit() throws -> String {
            let client = try pki.department("heyan-log")
            return """
                {"logKey": "\(directory.file("log.key"))", "origin": "\(WitnessQuorumTests.origin)", "checkpointIntervalSeconds": 3600,
                 "witnesses": [{"name": "\(WitnessQuorumTests.witnessName)", "vkey": "\(witnessKey.vkey)", "url": "https://localhost:\(witnessPort)"}],
                 "witnessQuorum": 1,
                 "witnessClient": {"certificate": "\(client.certificate)", "privateKey": "\(client.key)", "trust": "\(pki.caFile)"}}
                """
        }

        func service(database: String, engine: Engine = .sqlite) throws -> RunningService {
            try RunningService(database: database, pki: pki, audit: try audit(), engine: engine)
        }

        /// A fresh database of `engine`: a SQLite file, or a PostgreSQL database of its own.
        func database(_ engine: Engine, name: String) throws -> String {
            switch engine {
            case .sqlite: return directory.file(name + ".sqlite")
            case .postgresql:
                let cluster = try PostgresCluster.shared()
                return Self.uri(cluster, try cluster.createDatabase(prefix: name))
            }
        }

        /// A copy of `database` as it is now (a backup, or a backup restored), named `name`.
        func copy(_ database: String, _ engine: Engine, name: String) throws -> String {
            switch engine {
            case .sqlite:
                let copy = directory.file(name + ".sqlite")
                for suffix in ["", "-wal"] where access(database + suffix, F_OK) == 0 {
                    try writeFile(copy + suffix, try readFile(database + suffix))
                }
                return copy
            case .postgresql:
                // CREATE DATABASE … TEMPLATE copies it whole once nobody is connected to it (the
                // stopped service's connections may still be closing).
                let cluster = try PostgresCluster.shared()
                let source = String(database.split(separator: "/").last ?? "")
                let target = "\(name)_\(UInt64.random(in: 0..<UInt64.max) & 0xFFFF_FFFF_FFFF)"
                for attempt in 0... {
                    do {
                        try cluster.psql(
                            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '\(source)'")
                        try cluster.psql("CREATE DATABASE \(target) TEMPLATE \(source)")
                        break
                    } catch where attempt < 50 {
                        usleep(100_000)
                    }
                }
                return Self.uri(cluster, target)
            }
        }

        static func uri(_ cluster: PostgresCluster, _ database: String) -> String {
            "postgresql://postgres@127.0.0.1:\(cluster.port)/\(database)"
        }
    }

    static func metric(_ text: String, _ name: String) -> String? {
        text.split(separator: "\n").first { $0.hasPrefix(name + " ") }.map { String($0.dropFirst(name.count + 1)) }
    }

    /// On a log restored from an old copy (`service`): writes new, different entries past the size
    /// the witness cosigned, publishes, and expects the witness's refusal — the note signed by the
    /// log alone, the new attestation's proof waiting (202), a `witness-refused` 422 in the log.
    /// Answers the refusals logged: besides the 422 there may be one more, for the checkpoint the
    /// start-up publication signed when the copy held entries past its last note (on PostgreSQL,
    /// entries integrated after it): a size below the witness's, refused as a rollback.
    @discardableResult
    static func writeDifferentlyAndExpectRefusal(_ service: RunningService, beyond witnessedSize: UInt64) throws -> Int {
        let housing = try DepartmentClient(service, "housing-fund")
        var last = ""
        for subject in 20...26 { last = try TransparencyLogTests.attest(service, subject: subject) }
        try TransparencyLogTests.publish(service)
        let note = try SignedNote(parsing: String(decoding: try housing.get("/v1/audit/log/checkpoint").body, as: UTF8.self))
        #expect(try Checkpoint(body: note.text).size > witnessedSize)
        #expect(note.signatures.count == 1)  // signed by the log, cosigned by nobody
        // No quorum covers the new entries: their proofs wait.
        #expect(try housing.get("/v1/attestations/\(last)/proof").status == 202)
        let refusals = try service.logLines().filter { $0.contains("witness-refused") }
        #expect(refusals.filter { $0.contains("\"status\":422") }.count == 1, "\(refusals)")
        #expect(
            refusals.allSatisfy { $0.contains("\"status\":422") || $0.contains("larger than the log's checkpoint") },
            "\(refusals)")
        return refusals.count
    }

    @Test(arguments: Engine.all)
    func checkpointsAreCosignedProofsWaitForTheQuorumAndAForkIsRefused(_ engine: Engine) throws {
        let fixture = try Fixture()
        let database = try fixture.database(engine, name: "heyan")
        let cosignedName = "heyan_audit_witness_cosigned_size{witness=\"\(Self.witnessName)\"}"
        let refusalsName = "heyan_audit_witness_refusals_total{witness=\"\(Self.witnessName)\"}"

        // 1. The first checkpoint: pushed with old 0, cosigned, served with the cosignature.
        var firstSize: UInt64 = 0
        do {
            let service = try fixture.service(database: database, engine: engine)
            let housing = try DepartmentClient(service, "housing-fund")
            let first = try TransparencyLogTests.attest(service, subject: 1)
            #expect(try housing.get("/v1/attestations/\(first)/proof").status == 202)
            try TransparencyLogTests.publish(service)
            let note = String(decoding: try housing.get("/v1/audit/log/checkpoint").body, as: UTF8.self)
            let parsed = try SignedNote(parsing: note)
            #expect(parsed.signatures.count == 2)
            #expect(try NoteVerifierKey(vkey: fixture.logVKey).verify(parsed) == parsed.text)
            #expect(try fixture.witnessKey.verifiedTime(of: parsed) != nil)
            firstSize = try Checkpoint(body: parsed.text).size

            // The bundle carries the cosigned checkpoint; tlog_check.py ignores the unknown cosignature line.
            let bundleResponse = try housing.get("/v1/attestations/\(first)/proof")
            #expect(bundleResponse.status == 200)
            let bundle = String(decoding: bundleResponse.body, as: UTF8.self)
            #expect(bundle.contains("— \(Self.witnessName) "))
            let verdicts = try TransparencyLogTests.verdicts([
                .init(kind: "bundle", vkey: fixture.logVKey, bundle: bundle, attestation: first)
            ])
            #expect(verdicts == ["ok"])
            let metrics = String(decoding: try service.connect("audit-office").request("GET", "/metrics").body, as: UTF8.self)
            #expect(Self.metric(metrics, cosignedName) == String(firstSize))
            #expect(Self.metric(metrics, "heyan_audit_quorum_checkpoint_size") == String(firstSize))
        }
        let backup = try fixture.copy(database, engine, name: "backup")

        // 2. The log grows; a restarted heyan learns the witness's size from its 409 and sends the
        //    consistency proof from there.
        var secondSize: UInt64 = 0
        do {
            let service = try fixture.service(database: database, engine: engine)
            for subject in 2...3 { _ = try TransparencyLogTests.attest(service, subject: subject) }
            try TransparencyLogTests.publish(service)
            let auditor = try DepartmentClient(service, "audit-office")
            let note = try SignedNote(parsing: String(decoding: try auditor.get("/v1/audit/log/checkpoint").body, as: UTF8.self))
            secondSize = try Checkpoint(body: note.text).size
            #expect(secondSize > firstSize)
            #expect(try fixture.witnessKey.verifiedTime(of: note) != nil)
        }

        // 3. The fork: the old copy restored and written differently, past the witnessed size.
        let forked = try fixture.copy(backup, engine, name: "forked")
        let service = try fixture.service(database: forked, engine: engine)
        let refusals = try Self.writeDifferentlyAndExpectRefusal(service, beyond: secondSize)
        let metrics = String(decoding: try service.connect("audit-office").request("GET", "/metrics").body, as: UTF8.self)
        #expect(Self.metric(metrics, refusalsName) == String(refusals))
        #expect(Self.metric(metrics, "heyan_audit_quorum_checkpoint_size") == String(firstSize))
    }

    final class Flag: Sendable {
        private let value = Atomic<Bool>(false)
        func set() { value.store(true, ordering: .releasing) }
        var isSet: Bool { value.load(ordering: .acquiring) }
    }

    /// A checkpoint signed while a push is running is pushed in the round right after it, and
    /// `publish`'s completion waits for that round (before, it returned at once and the new
    /// checkpoint stayed uncosigned — its proofs waiting — until the next interval's publish).
    /// The witness is stopped (SIGSTOP) so the first push is held in its handshake.
    @Test func aCheckpointSignedDuringAPushIsCosignedRightAfterIt() throws {
        let fixture = try Fixture()
        let service = try fixture.service(database: try fixture.database(.sqlite, name: "heyan"))
        let publisher = try #require(service.runtime.transparencyLog)
        let auditor = try DepartmentClient(service, "audit-office")
        func checkpoint() throws -> SignedNote {
            try SignedNote(parsing: String(decoding: try auditor.get("/v1/audit/log/checkpoint").body, as: UTF8.self))
        }
        func waitUntil(_ what: String, _ condition: () throws -> Bool) throws {
            for _ in 0..<400 where try !condition() { usleep(25_000) }
            guard try condition() else { throw TestFailure("timed out waiting until \(what)") }
        }
        // The start-up publication's push is over once its checkpoint carries the cosignature.
        try waitUntil("the start-up checkpoint is cosigned") { try checkpoint().signatures.count == 2 }

        fixture.witness.signal(SIGSTOP)
        let stopped = try checkpoint()
        _ = try TransparencyLogTests.attest(service, subject: 1)
        let first = Flag()
        publisher.publish { first.set() }
        // The first push now hangs in its handshake with the stopped witness.
        try waitUntil("the first checkpoint is signed") { try checkpoint().text != stopped.text }
        _ = try TransparencyLogTests.attest(service, subject: 2)
        let second = Flag()
        let grown = try service.runtime.auditLog.treeHead().size
        publisher.publish { second.set() }
        usleep(300_000)
        #expect(!second.isSet, "publish completed while its checkpoint could not have been pushed")
        fixture.witness.signal(SIGCONT)

        try waitUntil("the second publication completes") { second.isSet }
        #expect(first.isSet)
        let note = try checkpoint()
        #expect(try Checkpoint(body: note.text).size >= grown)
        #expect(note.signatures.count == 2, "the newest checkpoint is cosigned when publish completes")
        #expect(try fixture.witnessKey.verifiedTime(of: note) != nil)
    }
}
