import Foundation
import HeyanCrypto
import HeyanTestSupport
import HeyanTransparencyLog
import Testing

/// `heyan audit export` and `heyan audit verify-export` (docs/audit.md, "Export"): no subject ID
/// in the file, yet every exported leaf is checked against the signed checkpoints — by heyan's
/// verifier and by a Python reviewer written from RFC 6962 here — and one flipped bit fails both.
@Suite struct AuditExportTests {
    /// The outside reviewer: RFC 6962 MTH over the exported leaf data, compared with the root of
    /// every exported checkpoint at its size (signatures are checked by tlog_check.py).
    static let reviewer = #"""
        import base64, hashlib, json, sys
        def mth(leaves):
            n = len(leaves)
            if n == 0: return hashlib.sha256(b"").digest()
            if n == 1: return hashlib.sha256(b"\x00" + leaves[0]).digest()
            k = 1
            while k * 2 < n: k *= 2
            return hashlib.sha256(b"\x01" + mth(leaves[:k]) + mth(leaves[k:])).digest()
        leaves, notes = [], []
        for line in open(sys.argv[1]):
            item = json.loads(line)
            if "index" in item:
                assert item["index"] == len(leaves)
                leaves.append(base64.b64decode(item["leaf"]))
            elif "checkpoint" in item:
                notes.append(item["checkpoint"])
        for note in notes:
            origin, size, root = note.split("\n")[:3]
            print("ok" if mth(leaves[:int(size)]) == base64.b64decode(root) else "bad")
        """#

    @Test func exportHasNoSubjectIDsAndChecksAgainstSignedCheckpoints() throws {
        let service = try RunningService(auditLogKey: true, checkpointSeconds: 3600)
        let vkey = try #require(service.runtime.transparencyLog?.vkey)
        var subjects: [String] = []
        for subject in 1...3 {
            _ = try TransparencyLogTests.attest(service, subject: subject)
            subjects.append(TestSubjects.residentID(subject))
            try TransparencyLogTests.publish(service)
        }
        service.runtime.stop(grace: 1)
        let database = service.configDirectory.file("var/heyan.sqlite")
        let directory = TemporaryDirectory(prefix: "heyan-export")
        let keyFile = directory.file("pseudonym.key")
        try writeFile(keyFile, Array(repeating: 7, count: 32), mode: 0o600)

        let plain = directory.file("plain.jsonl")
        let pseudonymous = directory.file("pseudonymous.jsonl")
        let binary = WitnessQuorumTests.binary
        let made = try Subprocess.run([binary, "audit", "export", "--database", database, "--out", plain])
        #expect(made.status == 0, "\(made.stdout)\(made.stderr)")
        // One note at start (the catalog entry), one after each verification.
        #expect(made.stdout.contains("checkpoints=4"))
        #expect(try Subprocess.run([binary, "audit", "export", "--database", database, "--out", pseudonymous,
                                    "--pseudonym-key", keyFile]).status == 0)
        // Refuses to overwrite.
        #expect(try Subprocess.run([binary, "audit", "export", "--database", database, "--out", plain]).status != 0)

        for file in [plain, pseudonymous] {
            let text = String(decoding: try readFile(file), as: UTF8.self)
            for subject in subjects { #expect(!text.contains(subject)) }
            #expect(!text.contains("married") && !text.contains("张三"))
            let verified = try Subprocess.run([binary, "audit", "verify-export", "--in", file, "--log-key", vkey])
            #expect(verified.status == 0, "\(verified.stdout)")
            #expect(verified.stdout.hasSuffix(" ok\n"))
        }
        // The pseudonym is the keyed hash: one subject's entries share it, without naming it.
        let pseudonymText = String(decoding: try readFile(pseudonymous), as: UTF8.self)
        let expected = Digest.hmacSHA256(key: Array(repeating: 7, count: 32), data: Array(subjects[0].utf8))
            .map { $0 < 16 ? "0" + String($0, radix: 16) : String($0, radix: 16) }.joined()
        #expect(pseudonymText.components(separatedBy: expected).count - 1 == 3)
        #expect(!String(decoding: try readFile(plain), as: UTF8.self).contains("\"subject\""))

        // The reviewer in Python: every checkpoint's root from the leaves, every note's signature.
        try writeFile(directory.file("reviewer.py"), Array(Self.reviewer.utf8))
        let review = try Subprocess.run(["python3", directory.file("reviewer.py"), plain])
        #expect(review.status == 0, "\(review.stderr)")
        #expect(review.stdout == "ok\nok\nok\nok\n")
        let notes = String(decoding: try readFile(plain), as: UTF8.self).split(separator: "\n")
            .compactMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }
            .compactMap { $0["checkpoint"] as? String }
        #expect(try TransparencyLogTests.verdicts(notes.map { .init(kind: "note", vkey: vkey, note: $0) }) == ["ok", "ok", "ok", "ok"])

        // One flipped bit in one leaf: both reviewers refuse.
        var lines = String(decoding: try readFile(plain), as: UTF8.self).split(separator: "\n").map(String.init)
        let target = try #require(lines.firstIndex { $0.contains("\"index\":2,") })
        var entry = try #require(try JSONSerialization.jsonObject(with: Data(lines[target].utf8)) as? [String: Any])
        entry["leaf"] = TransparencyLogTests.flip(try #require(entry["leaf"] as? String), bit: 9)
        lines[target] = String(decoding: try JSONSerialization.data(withJSONObject: entry), as: UTF8.self)
        let damaged = directory.file("damaged.jsonl")
        try writeFile(damaged, Array((lines.joined(separator: "\n") + "\n").utf8))
        let refused = try Subprocess.run([binary, "audit", "verify-export", "--in", damaged, "--log-key", vkey])
        #expect(refused.status == 1)
        #expect(refused.stdout.hasPrefix("export broken: "))
        // The note of size 1 does not cover leaf 2; every later one does.
        #expect(try Subprocess.run(["python3", directory.file("reviewer.py"), damaged]).stdout == "ok\nbad\nbad\nbad\n")
    }
}
