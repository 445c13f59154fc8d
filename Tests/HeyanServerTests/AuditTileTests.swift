import Foundation
import HeyanTestSupport
import Testing

/// C2SP `tlog-tiles` reads of the audit tree (docs/transparency-log.md, "Tiles"), on both engines:
/// `tlog_tiles.py`, a tiles client written from the specification, rebuilds the signed checkpoint's
/// root, checks every entry bundle against the level-0 tiles and derives an inclusion proof from
/// tiles alone, which equals the API's and verifies (and fails with a bit flipped).
@Suite struct AuditTileTests {
    struct ClientReport: Decodable {
        let size: UInt64
        let root: String
        let rootFromTiles: String
        let entries: UInt64
        let entriesMatch: Bool
        let index: UInt64
        let inclusion: [String]
        let inclusionVerifies: Bool
        let flippedVerifies: Bool
        let leafData: String
        let fetched: [String]
    }

    static let tilesClient = PythonScripts.directory + "/tlog_tiles.py"

    @Test(arguments: Engine.all) func aTilesClientRebuildsTheRootEntriesAndProofs(engine: Engine) throws {
        let service = try RunningService(auditLogKey: true, checkpointSeconds: 3600, engine: engine)
        let vkey = try #require(service.runtime.transparencyLog?.vkey)
        // Over 256 entries: a full level-0 tile and entry bundle, partial tiles at levels 0 and 1.
        let owner = try DepartmentClient(service, "public-security")
        for batch in 0..<2 {
            let records = (0..<150).map { i in
                #"{"certificateType":"PSB-NO-CRIMINAL-RECORD","subjectId":"\#(TestSubjects.residentID(batch * 1000 + i + 1))","claims":{"hasCriminalRecord":false}}"#
            }
            #expect(try owner.post("/v1/records:batch", #"{"records":[\#(records.joined(separator: ","))]}"#).status == 200)
        }
        try TransparencyLogTests.publish(service)

        let files = try service.pki.department("audit-office")
        let index: UInt64 = 270
        let run = try Subprocess.run([
            "python3", Self.tilesClient, "--port", String(service.port), "--cert", files.certificate, "--key", files.key,
            "--ca", service.pki.caFile, "--vkey", vkey, "--index", String(index),
        ])
        #expect(run.status == 0, "\(run.stderr)")
        let report = try JSONDecoder().decode(ClientReport.self, from: Data(run.stdout.utf8))
        #expect(report.size > 300 && report.size < 512, "\(report.size)")
        #expect(report.rootFromTiles == report.root)
        #expect(report.entries == report.size && report.entriesMatch)
        #expect(report.inclusionVerifies && !report.flippedVerifies)
        let partial = report.size - 256
        #expect(
            Set(report.fetched) == [
                "checkpoint", "tile/0/000", "tile/0/001.p/\(partial)", "tile/1/000.p/1", "tile/entries/000",
                "tile/entries/001.p/\(partial)",
            ], "\(report.fetched)")

        // The proof from tiles is the API's, and the entry bundle holds the leaf data the API names.
        let auditor = try DepartmentClient(service, "audit-office")
        let served = try auditor.get("/v1/audit/proof/inclusion?index=\(index)&size=\(report.size)")["hashes"] as? [String]
        #expect(served == report.inclusion)

        // Headers: immutable and cacheable; the exact bytes.
        let full = try auditor.get("/v1/audit/log/tile/0/000")
        #expect(full.status == 200)
        #expect(full.headers["Content-Type"] == "application/octet-stream")
        #expect(full.headers["Cache-Control"] == "private, max-age=31536000, immutable")
        #expect(full.body.count == 256 * 32)
        let entries = try auditor.get("/v1/audit/log/tile/entries/000")
        #expect(entries.status == 200 && entries.body.count == 256 * 34)
        #expect(Array(entries.body.prefix(2)) == [0, 32])

        // What the tree does not have, and what is not a tile path: 404 problems. (Each refusal is
        // audited, so the tree grows by one entry per request here: widths are chosen far enough.)
        for missing in [
            "0/001", "0/001.p/255", "0/002.p/1", "1/000", "2/000.p/1", "entries/001", "entries/001.p/255", "7/000.p/1",
            "63/000.p/1",
        ] {
            let response = try auditor.get("/v1/audit/log/tile/\(missing)")
            #expect(response.status == 404, "\(missing)")
            #expect(response.headers["Content-Type"] == "application/problem+json", "\(missing)")
        }
        for malformed in ["0/0", "0/1", "00/000", "64/000", "0/x000/001", "0/001.p/0", "0/000.p/256", "0/000.p/07", "0/000/", "x/000", "0"] {
            #expect(try auditor.get("/v1/audit/log/tile/\(malformed)").status == 404, "\(malformed)")
        }
        #expect(try auditor.get("/v1/audit/log/tile/0/001.p/\(partial)").body.count == Int(partial) * 32)

        // Like the proofs: auditors and the operator only.
        #expect(try DepartmentClient(service, "housing-fund").get("/v1/audit/log/tile/0/000").status == 403)
    }
}
