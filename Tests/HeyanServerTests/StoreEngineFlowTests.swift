import HeyanCrypto
import HeyanDomain
import HeyanTestSupport
import HeyanTransparencyLog
import Testing

/// The core flow end to end on each store engine, then the audit log checked as `heyan audit
/// verify` checks it: every entry chained, every leaf `d = SHA-256(salt ‖ canonical entry)`, and the
/// Merkle root rebuilt from the leaves equal to the stored tree head.
@Suite struct StoreEngineFlowTests {
    @Test(arguments: Engine.all) func coreFlowAndAuditRoot(_ engine: Engine) throws {
        let service = try RunningService(engine: engine)
        let housing = try DepartmentClient(service, "housing-fund")
        let civil = try DepartmentClient(service, "civil-affairs")
        let police = try DepartmentClient(service, "public-security")
        let hrss = try DepartmentClient(service, "hrss")
        let auditor = try DepartmentClient(service, "audit-office")

        // Data sharing: answered at once from a shared record.
        let subject = TestSubjects.residentID(90)
        #expect(try police.send("PUT", "/v1/records/PSB-NO-CRIMINAL-RECORD/\(subject)", json: #"{"claims":{"hasCriminalRecord":false}}"#).status == 201)
        let shared = try hrss.post("/v1/verifications", TestSubjects.verificationBody(
            type: "PSB-NO-CRIMINAL-RECORD", matter: "HR-RECRUIT-001", subject: subject,
            claims: #"{"hasCriminalRecord":false}"#, purpose: "招聘：核验无犯罪记录"))
        #expect(shared.status == 201)
        #expect(shared["outcome"] as? String == "confirmed")

        // Queued: submitted, leased, answered; the attestation is fetched by its id.
        let queued = try housing.post("/v1/verifications", TestSubjects.verificationBody(subject: TestSubjects.residentID(91)))
        #expect(queued.status == 202)
        let item = try #require((try civil.get("/v1/queue?limit=1&lease=60")["items"] as? [[String: Any]])?.first)
        let answered = try civil.post(
            "/v1/queue/\(item["id"]!)/answer", #"{"leaseToken":"\#(item["leaseToken"]!)","outcome":"confirmed"}"#)
        #expect(answered.status == 200)
        let attestationID = try #require((answered["attestation"] as? [String: Any])?["id"] as? String)
        #expect(try housing.get("/v1/attestations/\(attestationID)").status == 200)

        // The audit query sees the flow.
        let entries = try #require(try auditor.get("/v1/audit?limit=100")["entries"] as? [[String: Any]])
        let actions = entries.compactMap { $0["action"] as? String }
        #expect(actions.contains("queue.leased"))
        #expect(actions.contains("verification.answered"))

        // The root check of `heyan audit verify`, through the store's own proofs.
        let proofs = service.runtime.auditLog
        let head = try proofs.treeHead()
        #expect(head.size == UInt64(entries.count))
        var previous = AuditEntry.genesisHash
        var leaves: [MerkleHash] = []
        for index in 0..<head.size {
            let leaf = try #require(try proofs.auditLeaf(index: index))
            let canonical = AuditEntry.canonicalBytes(sequence: leaf.entry.sequence, time: leaf.entry.time, event: leaf.entry.event)
            #expect(leaf.entry.previousHash == previous)
            #expect(leaf.entry.hash == Digest.sha256(previous + canonical))
            #expect(leaf.data == Digest.sha256(leaf.salt + canonical))
            previous = leaf.entry.hash
            leaves.append(.leaf(leaf.data))
        }
        #expect(Merkle.root(leafHashes: leaves) == head.root)
        let last = head.size - 1
        #expect(
            Merkle.verifyInclusion(
                leafHash: leaves[Int(last)], index: last, size: head.size,
                proof: try proofs.inclusionProof(index: last, size: head.size), root: head.root))

        // And `heyan audit verify` itself, on the same database (a checkpoint first, so one is checked).
        let checkpoint = try auditor.get("/v1/audit/checkpoint")
        #expect(checkpoint.status == 200)
        let database = service.runtime.configuration.service.database
        let verify = try Subprocess.run(
            [ServeCommandTests.binary, "audit", "verify", "--database", database, "--trust", service.pki.caFile])
        #expect(verify.status == 0, "\(verify.stdout) \(verify.stderr)")
        #expect(verify.stdout.contains("ok"), "\(verify.stdout)")
        #expect(verify.stdout.contains("\(head.size)"), "\(verify.stdout)")
    }
}
