#if canImport(Glibc)
import Glibc
#endif
import Foundation
import HeyanCrypto
import HeyanTestSupport
import HeyanTransparencyLog
import Synchronization
import Testing

/// `heyan backup` (docs/deployment.md, "Backup and restore"): an online backup of the SQLite
/// database taken while the real server acknowledges writes restores into a fresh location, passes
/// `heyan audit verify`, serves again, and holds a prefix of the live log; a log restored from it
/// and written differently is refused by the witness that cosigned the live log.
@Suite(.serialized) struct BackupRestoreTests {
    static let binary = WitnessQuorumTests.binary
    static let origin = "localhost/audit/v1"

    /// Threads of `public-security` putting a new record each (one audit entry each) until stopped.
    final class WriteLoad: @unchecked Sendable {
        // @unchecked: the counters are atomics, the failures behind a Mutex, `group` is DispatchGroup.
        let acknowledged = Atomic<Int>(0)
        let failures = Mutex<[String]>([])
        let stopping = Atomic<Bool>(false)
        let group = DispatchGroup()

        init(_ service: RunningService, threads: Int, firstSubject: Int) throws {
            let clients = try (0..<threads).map { _ in try DepartmentClient(service, "public-security") }
            for (thread, client) in clients.enumerated() {
                DispatchQueue.global().async(group: group) { [self] in
                    var subject = firstSubject + thread * 100_000
                    while !stopping.load(ordering: .relaxed) {
                        subject += 1
                        do {
                            let response = try client.send(
                                "PUT", "/v1/records/PSB-NO-CRIMINAL-RECORD/\(TestSubjects.residentID(subject))",
                                json: #"{"claims":{"hasCriminalRecord":false}}"#)
                            guard response.status == 200 || response.status == 201 else {
                                failures.withLock { $0.append("status \(response.status)") }
                                return
                            }
                            acknowledged.add(1, ordering: .relaxed)
                        } catch {
                            failures.withLock { $0.append("\(error)") }
                            return
                        }
                    }
                }
            }
        }

        /// Waits (at most 60 s) until `count` writes were acknowledged.
        func wait(until count: Int) throws {
            let deadline = monotonicSeconds() + 60
            while acknowledged.load(ordering: .relaxed) < count {
                guard failures.withLock({ $0.isEmpty }) else { throw TestFailure("write load failed: \(failures.withLock { $0 })") }
                guard monotonicSeconds() < deadline else { throw TestFailure("only \(acknowledged.load(ordering: .relaxed)) writes in 60 s") }
                usleep(10_000)
            }
        }

        /// Stops the writers: how many writes were acknowledged.
        func finish() throws -> Int {
            stopping.store(true, ordering: .relaxed)
            group.wait()
            guard failures.withLock({ $0.isEmpty }) else { throw TestFailure("write load failed: \(failures.withLock { $0 })") }
            return acknowledged.load(ordering: .relaxed)
        }
    }

    /// `key=value` fields of a command's output line.
    static func fields(_ output: String) -> [String: String] {
        var fields: [String: String] = [:]
        for word in output.split(whereSeparator: \.isWhitespace) {
            if let equals = word.firstIndex(of: "=") { fields[String(word[..<equals])] = String(word[word.index(after: equals)...]) }
        }
        return fields
    }

    /// `heyan backup` of `database` into `out`: the audit tree it reports.
    static func backup(_ database: String, to out: String) throws -> TreeHead {
        let result = try Subprocess.run([binary, "backup", "--database", database, "--out", out])
        guard result.status == 0 else { throw TestFailure("heyan backup exited \(result.status): \(result.stdout)\(result.stderr)") }
        let fields = Self.fields(result.stdout)
        guard fields["backup"] == out, let size = fields["entries"].flatMap(UInt64.init), let bytes = fields["bytes"].flatMap(Int.init),
            bytes > 0, let root = fields["root"].flatMap(MerkleHash.init(base64:))
        else { throw TestFailure("unexpected output of heyan backup: \(result.stdout)") }
        return TreeHead(size: size, root: root)
    }

    /// A hash printed in hex (`heyan audit verify`'s `root=`).
    static func hash(hex: String) -> MerkleHash? {
        let digits = Array(hex.utf8)
        guard digits.count == 64 else { return nil }
        var bytes: [UInt8] = []
        for pair in stride(from: 0, to: 64, by: 2) {
            guard let byte = UInt8(String(decoding: digits[pair..<pair + 2], as: UTF8.self), radix: 16) else { return nil }
            bytes.append(byte)
        }
        return MerkleHash(bytes: bytes)
    }

    /// `heyan audit verify` of `database` with the log key: its output, after checking it passed.
    static func auditVerify(_ database: String, vkey: String) throws -> [String: String] {
        let result = try Subprocess.run([binary, "audit", "verify", "--database", database, "--log-key", vkey])
        guard result.status == 0, result.stdout.hasSuffix(" ok\n") else {
            throw TestFailure("heyan audit verify exited \(result.status): \(result.stdout)\(result.stderr)")
        }
        return fields(String(result.stdout.split(separator: "\n").last ?? ""))
    }

    @Test func onlineBackupUnderWriteLoadRestoresVerifiesAndIsAPrefixOfTheLog() throws {
        let directory = TemporaryDirectory(prefix: "heyan-backup")
        let logKey = try PrivateKey.generate(.ed25519)
        try logKey.write(toFile: directory.file("log.key"))
        let vkey = try NoteSigner(name: Self.origin, key: logKey).verifierKey.vkey
        let audit = #"{"logKey": "\#(directory.file("log.key"))", "origin": "\#(Self.origin)", "checkpointIntervalSeconds": 3600}"#
        let database = directory.file("live/heyan.sqlite")
        let out = directory.file("heyan-backup.sqlite")

        let service = try RunningService(database: database, audit: audit)
        let load = try WriteLoad(service, threads: 3, firstSubject: 1)
        try load.wait(until: 40)
        let beforeBackup = load.acknowledged.load(ordering: .relaxed)
        let backup = try Self.backup(database, to: out)
        let afterBackup = load.acknowledged.load(ordering: .relaxed)
        try load.wait(until: afterBackup + 40)
        let total = try load.finish()
        print("backup under load: entries=\(backup.size) acknowledged before=\(beforeBackup) during=\(afterBackup - beforeBackup) total=\(total)")
        // The server kept acknowledging writes while the backup ran, and after it.
        #expect(afterBackup > beforeBackup, "no write was acknowledged while heyan backup ran")
        #expect(backup.size >= UInt64(beforeBackup))
        #expect(total > afterBackup)

        // The backup is a prefix of the live log: the live tree at the backup's size has its root,
        // shown by a consistency proof to a signed checkpoint of the live log, checked outside heyan.
        try TransparencyLogTests.publish(service)
        let auditor = try DepartmentClient(service, "audit-office")
        let note = try SignedNote(parsing: String(decoding: try auditor.get("/v1/audit/log/checkpoint").body, as: UTF8.self))
        let live = try Checkpoint(body: try NoteVerifierKey(vkey: vkey).verify(note))
        #expect(live.size >= backup.size + UInt64(total - afterBackup))
        let proof = try #require(
            try auditor.get("/v1/audit/proof/consistency?from=\(backup.size)&to=\(live.size)")["hashes"] as? [String])
        let consistency = TLogCheck.Request(
            kind: "consistency", proof: proof, first: backup.size, second: live.size, firstRoot: backup.root.base64,
            secondRoot: live.root.base64)
        var wrongRoot = consistency
        wrongRoot.firstRoot = TransparencyLogTests.flip(backup.root.base64)
        #expect(try TransparencyLogTests.verdicts([consistency, wrongRoot]).map { $0.hasPrefix("fail") } == [false, true])

        // The backup file: owner-only, and never overwritten.
        var status = stat()
        #expect(stat(out, &status) == 0 && status.st_mode & 0o777 == 0o600)
        let bytes = try readFile(out)
        let again = try Subprocess.run([Self.binary, "backup", "--database", database, "--out", out])
        #expect(again.status == 2)
        #expect(again.stdout.contains("exists"), "\(again.stdout)")
        #expect(try readFile(out) == bytes)
        #expect(try FileManager.default.contentsOfDirectory(atPath: directory.path).filter { $0.contains(".partial-") } == [])

        // Restored into a fresh location: the audit log verifies, and heyan serves and writes on it.
        let restored = directory.file("restored/heyan.sqlite")
        #expect(mkdir(directory.file("restored"), 0o700) == 0)
        try writeFile(restored, bytes, mode: 0o600)
        let verified = try Self.auditVerify(restored, vkey: vkey)
        #expect(verified["entries"] == String(backup.size))
        #expect(verified["root"] == backup.root.hex, "\(verified)")
        do {
            let restarted = try RunningService(database: restored, audit: audit)
            let client = try DepartmentClient(restarted, "public-security")
            let put = try client.send(
                "PUT", "/v1/records/PSB-NO-CRIMINAL-RECORD/\(TestSubjects.residentID(900_001))",
                json: #"{"claims":{"hasCriminalRecord":true}}"#)
            #expect(put.status == 201 || put.status == 200)
            try TransparencyLogTests.publish(restarted)
        }
        let grown = try Self.auditVerify(restored, vkey: vkey)
        #expect(grown["entries"].flatMap(UInt64.init).map { $0 > backup.size } == true, "\(grown)")
    }

    /// The fork case, with the witness harness of ``WitnessQuorumTests``: the witness cosigned the
    /// live log past the backup; heyan started on the restored backup and written differently gets
    /// no cosignature (the witness answers 422), and proofs of the new entries wait for a quorum.
    @Test func aRestoredBackupWrittenDifferentlyIsRefusedByTheWitness() throws {
        let fixture = try WitnessQuorumTests.Fixture()
        let database = fixture.directory.file("heyan.sqlite")
        let out = fixture.directory.file("heyan-backup.sqlite")
        let backup: TreeHead
        let witnessed: UInt64
        do {
            let service = try fixture.service(database: database)
            for subject in 1...2 { _ = try TransparencyLogTests.attest(service, subject: subject) }
            try TransparencyLogTests.publish(service)
            backup = try Self.backup(database, to: out)
            for subject in 3...5 { _ = try TransparencyLogTests.attest(service, subject: subject) }
            try TransparencyLogTests.publish(service)
            let auditor = try DepartmentClient(service, "audit-office")
            let note = try SignedNote(parsing: String(decoding: try auditor.get("/v1/audit/log/checkpoint").body, as: UTF8.self))
            #expect(try fixture.witnessKey.verifiedTime(of: note) != nil)
            witnessed = try Checkpoint(body: note.text).size
            #expect(witnessed > backup.size)
        }

        let restored = fixture.directory.file("restored/heyan.sqlite")
        #expect(mkdir(fixture.directory.file("restored"), 0o700) == 0)
        try writeFile(restored, try readFile(out), mode: 0o600)
        #expect(try Self.auditVerify(restored, vkey: fixture.logVKey)["entries"] == String(backup.size))
        let service = try fixture.service(database: restored)
        try WitnessQuorumTests.writeDifferentlyAndExpectRefusal(service, beyond: witnessed)
    }

    /// The PostgreSQL procedure of docs/deployment.md, followed while heyan writes: a physical base
    /// backup (`pg_basebackup`, checked by `pg_verifybackup`) started as a new cluster, and a logical
    /// dump (`pg_dump -Fc`) restored with `pg_restore` into a new database; on both, `heyan audit
    /// verify` passes and the tree is a prefix of the live log; heyan serves on the restored cluster.
    @Test(.enabled(if: PostgresCluster.unavailableReason == nil))
    func postgresBaseBackupAndDumpUnderWriteLoadRestoreAndVerify() throws {
        let directory = TemporaryDirectory(prefix: "heyan-pg-backup")
        let logKey = try PrivateKey.generate(.ed25519)
        try logKey.write(toFile: directory.file("log.key"))
        let vkey = try NoteSigner(name: Self.origin, key: logKey).verifierKey.vkey
        let audit = #"{"logKey": "\#(directory.file("log.key"))", "origin": "\#(Self.origin)", "checkpointIntervalSeconds": 1}"#
        let primary = try PostgresCluster()
        let service = try RunningService(database: "postgresql://postgres@127.0.0.1:\(primary.port)/postgres", audit: audit)
        let load = try WriteLoad(service, threads: 3, firstSubject: 1)
        try load.wait(until: 40)

        let beforeBase = load.acknowledged.load(ordering: .relaxed)
        let copy = try PostgresCluster.restored(fromBaseBackupOf: primary)
        let afterBase = load.acknowledged.load(ordering: .relaxed)
        let dump = directory.file("heyan.dump")
        let dumped = try Subprocess.run([
            "\(primary.binaries)/pg_dump", "-Fc", "-d", primary.conninfo(), "-f", dump,
        ])
        #expect(dumped.succeeded, "\(dumped.stderr)")
        let afterDump = load.acknowledged.load(ordering: .relaxed)
        try load.wait(until: afterDump + 20)
        let total = try load.finish()
        print("pg backup under load: acknowledged before=\(beforeBase) during base backup=\(afterBase - beforeBase) during dump=\(afterDump - afterBase) total=\(total)")
        #expect(afterBase > beforeBase, "no write was acknowledged while pg_basebackup ran")

        try primary.psql("CREATE DATABASE restored_logical")
        let restoredDump = try Subprocess.run([
            "\(primary.binaries)/pg_restore", "--no-owner", "-d", primary.conninfo(database: "restored_logical"), dump,
        ])
        #expect(restoredDump.succeeded, "\(restoredDump.stderr)")

        try TransparencyLogTests.publish(service)
        let auditor = try DepartmentClient(service, "audit-office")
        let note = try SignedNote(parsing: String(decoding: try auditor.get("/v1/audit/log/checkpoint").body, as: UTF8.self))
        let live = try Checkpoint(body: try NoteVerifierKey(vkey: vkey).verify(note))
        let restoredAddresses = [
            "postgresql://postgres@127.0.0.1:\(copy.port)/postgres",
            "postgresql://postgres@127.0.0.1:\(primary.port)/restored_logical",
        ]
        for address in restoredAddresses {
            let verified = try Self.auditVerify(address, vkey: vkey)
            let size = try #require(verified["entries"].flatMap(UInt64.init))
            let root = try #require(verified["root"].flatMap(Self.hash(hex:)), "\(verified)")
            #expect(size >= UInt64(beforeBase) && size < live.size, "\(address): \(size) of \(live.size)")
            let proof = try #require(try auditor.get("/v1/audit/proof/consistency?from=\(size)&to=\(live.size)")["hashes"] as? [String])
            let verdicts = try TransparencyLogTests.verdicts([
                .init(kind: "consistency", proof: proof, first: size, second: live.size, firstRoot: root.base64, secondRoot: live.root.base64)
            ])
            #expect(verdicts == ["ok"], "\(address)")
        }

        // heyan serves and writes on the restored cluster.
        let restarted = try RunningService(database: restoredAddresses[0], audit: audit)
        let put = try DepartmentClient(restarted, "public-security").send(
            "PUT", "/v1/records/PSB-NO-CRIMINAL-RECORD/\(TestSubjects.residentID(900_001))", json: #"{"claims":{"hasCriminalRecord":true}}"#)
        #expect(put.status == 201 || put.status == 200)
    }
}
