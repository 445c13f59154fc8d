import Glibc
import HeyanCrypto
import HeyanHTTP
import HeyanTestSupport
import HeyanTransparencyLog
import HeyanWitness
import Synchronization
import Testing

/// The witness over real mTLS on loopback: the protocol's statuses, state that survives a
/// restart, and two racing requests for the same old size of which exactly one is cosigned.
@Suite struct WitnessServerTests {
    static let origin = "heyan.test/audit/v1"

    final class Fixture: @unchecked Sendable {
        let pki: TestPKI
        let directory = TemporaryDirectory(prefix: "heyan-witness")
        let logSigner: NoteSigner
        let witnessKey: PrivateKey
        let client: TestPKI.ClientFiles
        var tree = InMemoryMerkleTree()
        var server: HTTPServer?
        var port = 0

        init() throws {
            pki = try TestPKI()
            logSigner = try NoteSigner(name: WitnessServerTests.origin, key: try PrivateKey.generate(.ed25519))
            witnessKey = try PrivateKey.generate(.ed25519)
            client = try pki.department("audit-office")
        }

        func start() throws {
            let policy = WitnessPolicy(
                cosigner: try Cosigner(name: "audit-office.test/witness", privateKey: witnessKey),
                logs: [logSigner.verifierKey])
            let witness = Witness(policy: policy, states: try WitnessStateDirectory(path: directory.file("state")))
            let tls = try TLSContext(files: TLSIdentityFiles(
                certificateChain: pki.serverCertificateFile, privateKey: pki.serverKeyFile, clientCA: pki.caFile, crl: pki.crlFile))
            var settings = HTTPServerSettings()
            settings.loopCount = 2
            let server = HTTPServer(
                host: "127.0.0.1", port: 0, tls: tls, settings: settings,
                responder: WitnessResponder(witness: witness, clock: { 1_767_225_600 }))
            port = try server.start()
            self.server = server
        }

        func stop() { server?.shutdown(grace: 1) }

        func grow(_ count: Int, tag: String) {
            for i in 0..<count { tree.append(leafHash: .leaf(Array("\(tag) \(tree.size) \(i)".utf8))) }
        }

        func body(from old: UInt64, tree: InMemoryMerkleTree? = nil) throws -> String {
            let tree = tree ?? self.tree
            let proof = old == 0 || old == tree.size ? [] : try Merkle.consistencyProof(first: old, second: tree.size, reader: tree)
            let note = try logSigner.sign(Checkpoint(origin: WitnessServerTests.origin, size: tree.size, root: tree.root))
            return "old \(old)\n" + proof.map { $0.base64 + "\n" }.joined() + "\n" + note.serialized
        }

        func post(_ body: String) throws -> ClientResponse {
            let context = try TLSClientContext(certificate: client.certificate, key: client.key, trust: pki.caFile)
            let connection = try TLSClientConnection(port: port, context: context)
            return try connection.request("POST", "/add-checkpoint", headers: [("Content-Type", "text/plain")], body: Array(body.utf8))
        }
    }

    @Test func protocolStatusesAndStateAcrossARestart() throws {
        let fixture = try Fixture()
        try fixture.start()
        fixture.grow(4, tag: "a")
        let first = try fixture.post(try fixture.body(from: 0))
        #expect(first.status == 200)
        #expect(first.bodyText.hasPrefix("— audit-office.test/witness "))
        // The line is a valid cosignature of exactly that checkpoint.
        let note = try fixture.logSigner.sign(Checkpoint(origin: Self.origin, size: 4, root: fixture.tree.root))
        let line = try SignedNote(parsing: note.text + "\n" + first.bodyText).signatures[0]
        let cosigned = SignedNote(text: note.text, signatures: note.signatures + [line])
        let key = try CosignatureKey(name: "audit-office.test/witness", publicKey: try Ed25519.publicKey(of: fixture.witnessKey))
        #expect(try key.verifiedTime(of: cosigned) == 1_767_225_600)

        let stale = try fixture.post(try fixture.body(from: 0))
        #expect(stale.status == 409)
        #expect(stale.bodyText == "4\n")
        #expect(stale.headers["content-type"] == "text/x.tlog.size")

        // Restart: the witness remembers size 4.
        fixture.stop()
        try fixture.start()
        let forkBase = fixture.tree
        fixture.grow(3, tag: "a")
        #expect(try fixture.post(try fixture.body(from: 0)).status == 409)
        #expect(try fixture.post(try fixture.body(from: 4)).status == 200)

        // A database restored to size 4 and written differently: refused.
        var fork = forkBase
        for i in 0..<5 { fork.append(leafHash: .leaf(Array("b \(i)".utf8))) }
        let forked = try fixture.post(try fixture.body(from: 7, tree: fork))
        #expect(forked.status == 422)
        // Wrong method and path.
        let context = try TLSClientContext(
            certificate: try fixture.pki.department("hrss").certificate, key: try fixture.pki.department("hrss").key,
            trust: fixture.pki.caFile)
        let connection = try TLSClientConnection(port: fixture.port, context: context)
        #expect(try connection.request("GET", "/add-checkpoint").status == 405)
        #expect(try connection.request("GET", "/checkpoint").status == 404)
        fixture.stop()
    }

    @Test func racingRequestsForOneOldSizeCosignOnce() throws {
        let fixture = try Fixture()
        try fixture.start()
        fixture.grow(2, tag: "a")
        #expect(try fixture.post(try fixture.body(from: 0)).status == 200)
        // Eight different successors of size 2, all claiming old size 2.
        var bodies: [String] = []
        for i in 0..<8 {
            var branch = fixture.tree
            for j in 0...i { branch.append(leafHash: .leaf(Array("branch \(i) \(j)".utf8))) }
            bodies.append(try fixture.body(from: 2, tree: branch))
        }
        let statuses = Mutex<[Int]>([])
        for body in bodies {
            _ = try startThread(name: "race") {
                let status: Int
                do { status = try fixture.post(body).status } catch { print("race error", error); status = -1 }
                statuses.withLock { $0.append(status) }
            }
        }
        // The threads are detached: wait for all eight answers (bounded).
        for _ in 0..<500 where statuses.withLock({ $0.count }) < bodies.count { usleep(20_000) }
        let seen = statuses.withLock { $0 }.sorted()
        #expect(seen.filter { $0 == 200 }.count == 1)
        #expect(seen.filter { $0 == 409 }.count == 7)
        fixture.stop()
    }
}

/// `heyan witness init` and `heyan witness serve` as an operator runs them: a real process on a
/// free port, cosigning a checkpoint and refusing a stale one.
@Suite struct WitnessCommandTests {
    static let binary = packageRoot() + "/.build/debug/heyan"

    @Test func initThenServeCosigns() throws {
        let pki = try TestPKI()
        let directory = TemporaryDirectory(prefix: "heyan-witness-cli")
        let state = directory.file("state")
        let made = try Subprocess.run([Self.binary, "witness", "init", "--state", state, "--name", "audit-office.test/witness"])
        #expect(made.status == 0, "\(made.stderr)")
        let vkey = String(made.stdout.split(separator: "\n").last ?? "")
        let witnessKey = try CosignatureKey(vkey: vkey)
        // init again: the same key, not a new one.
        #expect(try Subprocess.run([Self.binary, "witness", "init", "--state", state, "--name", "audit-office.test/witness"])
            .stdout.hasSuffix(vkey + "\n"))

        let log = try NoteSigner(name: "heyan.test/audit/v1", key: try PrivateKey.generate(.ed25519))
        let port = try RawTCP.freePort()
        let process = try Subprocess([
            Self.binary, "witness", "serve", "--state", state, "--name", "audit-office.test/witness",
            "--log-vkey", log.verifierKey.vkey, "--listen", "127.0.0.1:\(port)",
            "--cert", pki.serverCertificateFile, "--key", pki.serverKeyFile, "--ca", pki.caFile,
        ])
        defer {
            process.signal(SIGTERM)
            _ = process.wait(timeout: 10)
        }
        let client = try pki.department("audit-office")
        let context = try TLSClientContext(certificate: client.certificate, key: client.key, trust: pki.caFile)
        var connection: TLSClientConnection?
        for _ in 0..<100 where connection == nil {
            connection = try? TLSClientConnection(port: port, context: context)
            if connection == nil { usleep(50_000) }
        }
        let tree = InMemoryMerkleTree(leafHashes: (0..<5).map { MerkleHash.leaf([UInt8($0)]) })
        let note = try log.sign(Checkpoint(origin: "heyan.test/audit/v1", size: tree.size, root: tree.root))
        let answer = try #require(connection).request("POST", "/add-checkpoint", body: Array(("old 0\n\n" + note.serialized).utf8))
        #expect(answer.status == 200)
        let line = try SignedNote(parsing: note.text + "\n" + answer.bodyText).signatures[0]
        #expect(try witnessKey.verifiedTime(of: SignedNote(text: note.text, signatures: [line])) != nil)
        let again = try #require(connection).request("POST", "/add-checkpoint", body: Array(("old 0\n\n" + note.serialized).utf8))
        #expect(again.status == 409)
        #expect(again.bodyText == "5\n")
    }
}
