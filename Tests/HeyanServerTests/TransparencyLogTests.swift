import Dispatch
import Foundation
import HeyanCrypto
import HeyanServer
import HeyanStorage
import HeyanTestSupport
import HeyanTransparencyLog
import Testing

/// The transparency log as the API serves it (docs/transparency-log.md), judged by
/// `tlog_check.py` (RFC 9162 and C2SP written in Python from the texts, `cryptography`'s Ed25519):
/// every proof and bundle verifies there and fails there with one bit flipped.
@Suite struct TransparencyLogTests {
    typealias Request = TLogCheck.Request

    static func verdicts(_ requests: [Request]) throws -> [String] { try TLogCheck.verdicts(requests) }

    /// `text` with bit `bit` of the Base64-decoded hash flipped.
    static func flip(_ base64: String, bit: Int = 0) -> String {
        var bytes = Base64.decode(base64)!
        bytes[bit / 8 % bytes.count] ^= 1 << UInt8(bit % 8)
        return Base64.encode(bytes)
    }

    static func publish(_ service: RunningService) throws {
        let done = DispatchSemaphore(value: 0)
        let publisher = try #require(service.runtime.transparencyLog)
        publisher.publish { done.signal() }
        done.wait()
    }

    /// Submits a verification, has civil-affairs answer it: the attestation id.
    static func attest(_ service: RunningService, subject: Int) throws -> String {
        let housing = try DepartmentClient(service, "housing-fund")
        let civil = try DepartmentClient(service, "civil-affairs")
        let id = try #require(
            try housing.post("/v1/verifications", TestSubjects.verificationBody(subject: TestSubjects.residentID(subject)))[
                "id"] as? String)
        let leased = try civil.get("/v1/queue?limit=50&lease=60")
        let items = try #require(leased["items"] as? [[String: Any]])
        let item = try #require(items.first { ($0["verification"] as? [String: Any])?["id"] as? String == id })
        let answer = #"{"leaseToken":"\#(item["leaseToken"] as! String)","outcome":"confirmed","disclosed":{"maritalStatus":"married"}}"#
        let answered = try civil.post("/v1/queue/\(item["id"] as! String)/answer", answer)
        return try #require((answered["attestation"] as? [String: Any])?["id"] as? String)
    }

    @Test func proofsBundlesAndCheckpointsVerifyOutside() throws {
        // Checkpoints only when the test asks (publish), so 202 is deterministic.
        let service = try RunningService(auditLogKey: true, checkpointSeconds: 3600)
        let vkey = try #require(service.runtime.transparencyLog?.vkey)
        let housing = try DepartmentClient(service, "housing-fund")
        let auditor = try DepartmentClient(service, "audit-office")

        let first = try Self.attest(service, subject: 1)
        let pending = try housing.get("/v1/attestations/\(first)/proof")
        #expect(pending.status == 202)
        #expect(pending.headers["Retry-After"] == "3600")
        try Self.publish(service)
        for subject in 2...6 { _ = try Self.attest(service, subject: subject) }
        let last = try Self.attest(service, subject: 7)
        #expect(try housing.get("/v1/attestations/\(last)/proof").status == 202)  // after the checkpoint
        try Self.publish(service)

        let noteResponse = try auditor.get("/v1/audit/log/checkpoint")
        #expect(noteResponse.status == 200)
        #expect(noteResponse.headers["Content-Type"]?.hasPrefix("text/plain") == true)
        let note = String(decoding: noteResponse.body, as: UTF8.self)
        let checkpoint = try Checkpoint(body: try NoteVerifierKey(vkey: vkey).verify(try SignedNote(parsing: note)))
        let store = service.runtime.auditLog
        #expect(checkpoint.size == (try store.treeHead().size))
        let size = checkpoint.size
        let root = checkpoint.root.base64

        var requests: [Request] = []
        var expected: [Bool] = []
        func add(_ request: Request, _ ok: Bool) {
            requests.append(request)
            expected.append(ok)
        }
        add(Request(kind: "note", vkey: vkey, note: note), true)
        // The note with its root changed no longer verifies.
        add(Request(kind: "note", vkey: vkey, note: note.replacingOccurrences(of: root, with: Self.flip(root))), false)

        // Inclusion of every leaf at the checkpoint's size, and consistency from every smaller size.
        var roots: [UInt64: String] = [:]
        var leafHashes: [MerkleHash] = []
        for index in 0..<size {
            leafHashes.append(.leaf(try #require(try store.auditLeaf(index: index)).data))
            roots[index + 1] = Merkle.root(leafHashes: leafHashes).base64
        }
        for index in 0..<size {
            let response = try auditor.get("/v1/audit/proof/inclusion?index=\(index)&size=\(size)")
            #expect(response.status == 200)
            let proof = try #require(response["hashes"] as? [String])
            let leaf = leafHashes[Int(index)].base64
            add(Request(kind: "inclusion", leafHash: leaf, index: index, size: size, proof: proof, root: root), true)
            if !proof.isEmpty {
                var bad = proof
                bad[Int(index) % bad.count] = Self.flip(bad[Int(index) % bad.count], bit: Int(index) * 7)
                add(Request(kind: "inclusion", leafHash: leaf, index: index, size: size, proof: bad, root: root), false)
            }
            add(
                Request(kind: "inclusion", leafHash: Self.flip(leaf, bit: 3), index: index, size: size, proof: proof, root: root),
                false)
        }
        for from in 1..<size {
            let response = try auditor.get("/v1/audit/proof/consistency?from=\(from)&to=\(size)")
            #expect(response.status == 200)
            let proof = try #require(response["hashes"] as? [String])
            add(
                Request(kind: "consistency", proof: proof, first: from, second: size, firstRoot: roots[from], secondRoot: root),
                true)
            var bad = proof
            bad[0] = Self.flip(bad[0], bit: Int(from))
            add(
                Request(kind: "consistency", proof: bad, first: from, second: size, firstRoot: roots[from], secondRoot: root),
                false)
        }

        // Each attestation's bundle, fetched by its requester; bit flips in the extra, the path and the signature fail.
        let bundleResponse = try housing.get("/v1/attestations/\(last)/proof")
        #expect(bundleResponse.status == 200)
        let bundle = String(decoding: bundleResponse.body, as: UTF8.self)
        #expect(bundle.hasPrefix("c2sp.org/tlog-proof@v1\nextra "))
        add(Request(kind: "bundle", vkey: vkey, bundle: bundle, attestation: last), true)
        add(Request(kind: "bundle", vkey: vkey, bundle: bundle, attestation: first), false)
        let firstBundle = String(decoding: try housing.get("/v1/attestations/\(first)/proof").body, as: UTF8.self)
        add(Request(kind: "bundle", vkey: vkey, bundle: firstBundle, attestation: first), true)
        let lines = bundle.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        for (number, line) in lines.enumerated() where number >= 1 && number != 2 && !line.isEmpty {
            // extra (line 1), each path hash, and the checkpoint's signature line.
            var damaged = lines
            if line.hasPrefix("extra ") {
                damaged[number] = "extra " + Self.flip(String(line.dropFirst(6)), bit: 77)
            } else if line.hasPrefix("— ") {
                let parts = line.split(separator: " ").map(String.init)
                damaged[number] = "— \(parts[1]) \(Self.flip(parts[2], bit: 200))"
            } else if let _ = MerkleHash(base64: line) {
                damaged[number] = Self.flip(line, bit: 100)
            } else {
                continue
            }
            add(Request(kind: "bundle", vkey: vkey, bundle: damaged.joined(separator: "\n"), attestation: last), false)
        }
        // heyan's own offline check agrees.
        let parsed = try ProofBundle(parsing: bundle)
        #expect(parsed.serialized == bundle)
        #expect(try parsed.verify(with: try NoteVerifierKey(vkey: vkey)).checkpoint == checkpoint)

        let verdicts = try Self.verdicts(requests)
        #expect(verdicts.count == requests.count)
        for (offset, verdict) in verdicts.enumerated() where (verdict == "ok") != expected[offset] {
            Issue.record("request \(offset) (\(requests[offset].kind)): expected \(expected[offset] ? "ok" : "a failure"), got \(verdict)")
        }
        #expect(verdicts.filter { $0 == "ok" }.count == expected.filter { $0 }.count)

        // The JWS checkpoint names the tree too.
        let jws = try auditor.get("/v1/audit/checkpoint")
        #expect(jws["treeSize"] as? Int == Int(size))
        #expect(jws["treeRoot"] as? String == checkpoint.root.hex)
    }

    @Test func accessAndBadRanges() throws {
        let service = try RunningService(auditLogKey: true, checkpointSeconds: 3600)
        let id = try Self.attest(service, subject: 11)
        try Self.publish(service)
        let size = try service.runtime.auditLog.treeHead().size
        let auditor = try DepartmentClient(service, "audit-office")
        let operatorClient = try DepartmentClient(service, "data-office")
        let housing = try DepartmentClient(service, "housing-fund")
        #expect(try operatorClient.get("/v1/audit/proof/inclusion?index=0&size=\(size)").status == 200)
        #expect(try housing.get("/v1/audit/proof/inclusion?index=0&size=\(size)").status == 403)
        #expect(try housing.get("/v1/audit/proof/consistency?from=1&to=\(size)").status == 403)
        for query in ["", "index=0", "size=1", "index=-1&size=1", "index=x&size=1", "index=0&size=99999999999999999999",
            "index=9223372036854775808&size=1"] {
            #expect(try auditor.get("/v1/audit/proof/inclusion?\(query)").status == 400, "\(query)")
        }
        // Schemathesis found the detail saying 'is required' of a present but too large value.
        let tooLarge = try auditor.get("/v1/audit/proof/inclusion?index=16468316383396069638144&size=468")
        #expect(tooLarge.status == 400)
        #expect(tooLarge.bodyText.contains("'index' must be a decimal integer from 0 to 9223372036854775807"))
        #expect(try auditor.get("/v1/audit/proof/inclusion?size=1").bodyText.contains("'index' is required"))
        // The document's largest value is schema-valid: beyond the tree, so 422, not 400.
        #expect(try auditor.get("/v1/audit/proof/inclusion?index=0&size=9223372036854775807").status == 422)
        // (Refused requests are audited too, so the tree grows while this runs: stay far beyond it.)
        for query in ["index=\(size)&size=\(size)", "index=0&size=\(size + 1000)", "index=0&size=0"] {
            let response = try auditor.get("/v1/audit/proof/inclusion?\(query)")
            #expect(response.status == 422, "\(query)")
            #expect(response.headers["Content-Type"] == "application/problem+json")
        }
        for query in ["from=0&to=\(size)", "from=2&to=1", "from=1&to=\(size + 1000)"] {
            #expect(try auditor.get("/v1/audit/proof/consistency?\(query)").status == 422, "\(query)")
        }
        #expect(try auditor.get("/v1/audit/proof/consistency?from=1").status == 400)
        // The bundle: requester, owner, auditor, operator; anyone else 404, like the attestation itself.
        for code in ["housing-fund", "civil-affairs", "audit-office", "data-office"] {
            #expect(try DepartmentClient(service, code).get("/v1/attestations/\(id)/proof").status == 200, "\(code)")
        }
        #expect(try DepartmentClient(service, "hrss").get("/v1/attestations/\(id)/proof").status == 404)
        #expect(try housing.get("/v1/attestations/att_nope/proof").status == 404)

        let metrics = String(decoding: try auditor.get("/metrics").body, as: UTF8.self)
        let treeLine = metrics.split(separator: "\n").first { $0.hasPrefix("heyan_audit_tree_size ") }
        let treeSize = try #require(treeLine.flatMap { UInt64($0.split(separator: " ")[1]) })
        let storeSize = try service.runtime.auditLog.treeHead().size
        #expect(treeSize >= size && treeSize == storeSize)
        #expect(metrics.contains("heyan_audit_integration_backlog 0\n"))
        #expect(metrics.contains("heyan_audit_checkpoint_size \(size)\n"))
    }

    /// On a manual clock: the next note, a second after the first, covers the attestation.
    @Test func publisherSignsOnItsOwnAndTheOfflineCommandChecksTheBundle() throws {
        let clock = ManualClock()
        let service = try RunningService(auditLogKey: true, checkpointSeconds: 1, clock: clock)
        let id = try Self.attest(service, subject: 21)
        let housing = try DepartmentClient(service, "housing-fund")
        clock.advance(seconds: 1)
        var response = try housing.get("/v1/attestations/\(id)/proof")
        #expect(try eventually {
            response = try housing.get("/v1/attestations/\(id)/proof")
            return response.status != 202
        })
        #expect(response.status == 200)
        let directory = TemporaryDirectory()
        let file = directory.file("proof.txt")
        try writeFile(file, response.body)
        let vkey = try #require(service.runtime.transparencyLog?.vkey)
        let ok = try Subprocess.run([AttestationCommandTests.binary, "attestation", "verify", "--proof", file, "--log-key", vkey])
        #expect(ok.status == 0, "\(ok.stderr)")
        #expect(ok.stdout.contains("attestation \(id)"))
        var damaged = response.body
        damaged[damaged.count / 3] ^= 0x01
        try writeFile(file, damaged)
        let bad = try Subprocess.run([AttestationCommandTests.binary, "attestation", "verify", "--proof", file, "--log-key", vkey])
        #expect(bad.status != 0)
    }
}
