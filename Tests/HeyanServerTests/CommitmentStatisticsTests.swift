import Foundation
import HeyanDomain
import HeyanHTTP
import HeyanTestSupport
import Testing

/// The `commitments` statistics section (docs/statistics.md) against counts recomputed from the
/// audit log, over mTLS, with and without a `from`/`to` window; `heyan stats` gives the same;
/// `/metrics` counts spot checks in the owners' queues.
@Suite struct CommitmentStatisticsTests {
    struct Key: Hashable, CustomStringConvertible {
        var owner: String
        var type: String
        var description: String { "\(owner)/\(type)" }
    }

    /// A valid unified social credit code (GB 32100) numbered `number`.
    static func creditCode(_ number: Int) -> String {
        let alphabet = SubjectIdentifier.creditCodeAlphabet
        let body = "91350100M" + String(format: "%08d", number)
        let values = body.map { alphabet.firstIndex(of: $0)! }
        return body + String(SubjectIdentifier.creditCodeCheckCharacter(for: values))
    }

    static func marketBody(subject: String) -> String {
        let at = Timestamp.rfc3339(Int64(Date().timeIntervalSince1970 * 1000) - 60_000)
        return """
            {"certificateType":"MKT-NO-MAJOR-VIOLATION","matterCode":"FIN-PROCUREMENT-001","purpose":"政府采购：无重大违法记录",
             "subject":{"idType":"uscc","id":"\(subject)","name":"某公司"},"claims":{"noMajorViolationIn3Years":true},
             "commitment":{"text":"本单位承诺近三年无重大违法记录。","signedAt":"\(at)","signedVia":"paper"}}
            """
    }

    static func millis(_ time: Any?) -> Int {
        Int(((ISO8601DateFormatter.fractional.date(from: time as? String ?? "")?.timeIntervalSince1970 ?? 0) * 1000).rounded())
    }

    /// The section's columns recounted from audit entries, for commitments submitted in `[from, to)`.
    static func recount(_ log: [[String: Any]], from: Int = Int.min, to: Int = Int.max) -> [Key: [String: Int?]] {
        var keyOf: [String: Key] = [:]
        var submittedAt: [String: Int] = [:]
        var figures: [Key: [String: Int]] = [:]
        var checkTimes: [Key: [Int]] = [:]
        var listed: [String: (key: Key, subject: String)] = [:]
        var removed: Set<String> = []
        for entry in log {
            let action = entry["action"] as? String ?? ""
            let detail = entry["detail"] as? [String: String] ?? [:]
            let time = millis(entry["time"])
            if action == "commitment.submitted" {
                guard time >= from, time < to, let id = detail["commitment"] else { continue }
                let key = Key(owner: entry["owner"] as? String ?? "", type: entry["certificateType"] as? String ?? "")
                keyOf[id] = key
                submittedAt[id] = time
                figures[key, default: [:]]["commitments", default: 0] += 1
                if detail["sampled"] == "true" { figures[key, default: [:]]["sampledInDecision", default: 0] += 1 }
                continue
            }
            // Everything else follows a commitment submitted earlier in the log.
            guard let id = detail["commitment"], let key = keyOf[id] else { continue }
            switch action {
            case "spot-check.queued":
                figures[key, default: [:]]["spotChecksSampled", default: 0] += 1
            case "spot-check.answered":
                let column = detail["outcome"] == "false-commitment" ? "falseCommitments" : "consistent"
                figures[key, default: [:]][column, default: 0] += 1
                figures[key, default: [:]]["answered", default: 0] += 1
                checkTimes[key, default: []].append(time - (submittedAt[id] ?? 0))
            case "queue.overdue":
                figures[key, default: [:]]["spotChecksOverdue", default: 0] += 1
            case "attestation.revoked":
                figures[key, default: [:]]["receiptsRevoked", default: 0] += 1
            case "credit.listed":
                listed[detail["entry"] ?? ""] = (key, entry["subjectId"] as? String ?? "")
            case "credit.removed":
                removed.insert(detail["entry"] ?? "")
            default:
                break
            }
        }
        var result: [Key: [String: Int?]] = [:]
        for (key, counts) in figures {
            let active = Set(listed.filter { $0.value.key == key && !removed.contains($0.key) }.map(\.value.subject))
            let sampled = counts["spotChecksSampled"] ?? 0
            // The decision recorded in commitment.submitted and the queued spot checks agree.
            #expect(counts["sampledInDecision"] ?? 0 == sampled, "\(key)")
            result[key] = [
                "commitments": counts["commitments"] ?? 0, "spotChecksSampled": sampled,
                "consistent": counts["consistent"] ?? 0, "falseCommitments": counts["falseCommitments"] ?? 0,
                "spotChecksPending": sampled - (counts["answered"] ?? 0),
                "spotChecksOverdue": counts["spotChecksOverdue"] ?? 0, "receiptsRevoked": counts["receiptsRevoked"] ?? 0,
                "creditListed": active.count,
                "creditRemoved": listed.keys.filter { listed[$0]?.key == key && removed.contains($0) }.count,
                "medianCheckMs": StatisticsTests.rank(checkTimes[key] ?? [], 0.5),
            ]
        }
        return result
    }

    static func compare(_ rows: [[String: Any]], _ expected: [Key: [String: Int?]], _ label: String) throws {
        #expect(rows.count == expected.count, "\(label): \(rows.count) rows, expected \(expected.keys)")
        for (key, columns) in expected {
            let row = try #require(
                rows.first { $0["department"] as? String == key.owner && $0["certificateType"] as? String == key.type },
                "\(label): no row for \(key)")
            for (column, value) in columns {
                if let value {
                    #expect(row[column] as? Int == value, "\(label) \(key) \(column): \(row[column] ?? "nil") ≠ \(value)")
                } else {
                    #expect(row[column] is NSNull, "\(label) \(key) \(column): \(row[column] ?? "nil") should be null")
                }
            }
        }
    }

    @Test(arguments: Engine.all) func commitmentSectionEqualsCountsFromTheAuditLog(_ engine: Engine) throws {
        // Hundreds of commitments: above housing-fund's and finance's rate limits.
        let clock = ManualClock()  // time moves between the batches and the checks only when the test says
        let service = try RunningService(
            departments: departmentsWithoutRateLimits(try readFile(packageRoot() + "/config/departments.json")),
            clock: clock, engine: engine)
        let housing = try DepartmentClient(service, "housing-fund")
        let finance = try DepartmentClient(service, "finance")
        let tax = try DepartmentClient(service, "tax-bureau")
        let market = try DepartmentClient(service, "market-regulation")
        let operatorClient = try DepartmentClient(service, "data-office")
        let auditor = try DepartmentClient(service, "audit-office")

        // TAX-INCOME (rate 0.2) by housing-fund until three are sampled; each subject once.
        var subjects: [String: String] = [:]  // commitment → subject
        var taxSampled: [String] = []
        var number = 0
        while taxSampled.count < 3 && number < 200 {
            let subject = TestSubjects.residentID(number: 7000 + number)
            let created = try housing.post("/v1/commitments", CommitmentFlowTests.body(subject: subject))
            #expect(created.status == 201, "\(created.bodyText)")
            let id = created["id"] as? String ?? ""
            subjects[id] = subject
            if (created["spotCheck"] as? [String: Any])?["sampled"] as? Bool == true { taxSampled.append(id) }
            number += 1
        }
        #expect(taxSampled.count == 3)
        clock.advance(seconds: 0.02)  // the window boundary below falls between the two batches
        // MKT-NO-MAJOR-VIOLATION (rate 0.1) by finance until two are sampled.
        var marketSampled: [String] = []
        number = 0
        while marketSampled.count < 2 && number < 300 {
            let subject = Self.creditCode(number + 1)
            let created = try finance.post("/v1/commitments", Self.marketBody(subject: subject))
            #expect(created.status == 201, "\(created.bodyText)")
            let id = created["id"] as? String ?? ""
            subjects[id] = subject
            if (created["spotCheck"] as? [String: Any])?["sampled"] as? Bool == true { marketSampled.append(id) }
            number += 1
        }
        #expect(marketSampled.count == 2)
        // One verification in civil-affairs' queue, for the metrics below.
        #expect(try housing.post("/v1/verifications", TestSubjects.verificationBody(subject: TestSubjects.residentID(number: 7999))).status == 202)

        // The owners lease their spot checks and answer: tax-bureau one false, one consistent, one
        // left pending (leased); market-regulation one false (credit later repaired), one consistent.
        func answer(_ client: DepartmentClient, _ ids: [String], _ outcomes: [String?]) throws {
            let items = try #require(try client.get("/v1/queue?limit=100&lease=60")["items"] as? [[String: Any]])
            #expect(items.count == ids.count)
            for (id, outcome) in zip(ids, outcomes) {
                guard let outcome else { continue }
                let item = try #require(items.first { ($0["commitment"] as? [String: Any])?["id"] as? String == id })
                #expect(item["kind"] as? String == "spot-check")
                let extra = outcome == "false-commitment" ? #","note":"核查不符","evidence":"核查记录 \#(id)""# : ""
                let body = #"{"leaseToken":"\#(item["leaseToken"] as? String ?? "")","outcome":"\#(outcome)"\#(extra)}"#
                let answered = try client.post("/v1/queue/\(item["id"] as? String ?? "")/answer", body)
                #expect(answered.status == 200, "\(answered.bodyText)")
                clock.advance(seconds: 0.015)  // distinct check times
            }
        }
        try answer(tax, taxSampled, ["false-commitment", "consistent", nil])
        try answer(market, marketSampled, ["consistent", "false-commitment"])
        let repaired = subjects[marketSampled[1]] ?? ""
        let entry = try #require((try auditor.get("/v1/credit/\(repaired)")["entries"] as? [[String: Any]])?.first)
        #expect(try operatorClient.post(
            "/v1/credit/\(repaired)/entries/\(entry["id"] as? String ?? "")/remove", #"{"reason":"已完成信用修复"}"#).status == 200)

        // The report, against the audit log.
        let log = try StatisticsTests.auditLog(auditor)
        let expected = Self.recount(log)
        let taxKey = Key(owner: "tax-bureau", type: "TAX-INCOME")
        let marketKey = Key(owner: "market-regulation", type: "MKT-NO-MAJOR-VIOLATION")
        // What the steps above did, so that the recount cannot agree with the report by both being empty.
        #expect(expected[taxKey]?["spotChecksSampled"] == 3)
        #expect(expected[taxKey]?["falseCommitments"] == 1)
        #expect(expected[taxKey]?["spotChecksPending"] == 1)
        #expect(expected[taxKey]?["creditListed"] == 1)
        #expect(expected[marketKey]?["creditListed"] == 0)
        #expect(expected[marketKey]?["creditRemoved"] == 1)
        #expect(expected[marketKey]?["receiptsRevoked"] == 1)

        let report = try auditor.get("/v1/stats")
        #expect(report.status == 200)
        let sections = try #require(report["sections"] as? [[String: Any]])
        #expect(sections.compactMap { $0["name"] as? String }.prefix(2) == ["requests", "commitments"])
        func rows(_ sections: [[String: Any]]) -> [[String: Any]] {
            (sections.first { $0["name"] as? String == "commitments" }?["rows"] as? [[String: Any]]) ?? []
        }
        try Self.compare(rows(sections), expected, "all")
        let median = try #require(rows(sections).first { $0["department"] as? String == "tax-bureau" }?["medianCheckMs"] as? Int)
        #expect(median > 0)

        // The window: the first finance commitment's audit time splits the two batches.
        let boundaryEntry = try #require(log.first {
            $0["action"] as? String == "commitment.submitted" && $0["certificateType"] as? String == "MKT-NO-MAJOR-VIOLATION"
        })
        let boundaryText = try #require(boundaryEntry["time"] as? String)
        let boundary = Self.millis(boundaryText)
        for (query, from, to) in [("from=\(boundaryText)", boundary, Int.max), ("to=\(boundaryText)", Int.min, boundary)] {
            let windowed = try auditor.get("/v1/stats?\(query)")
            #expect(windowed.status == 200)
            let expectedInWindow = Self.recount(log, from: from, to: to)
            #expect(expectedInWindow.count == 1, "\(query)")
            try Self.compare(rows(windowed["sections"] as? [[String: Any]] ?? []), expectedInWindow, query)
        }

        // heyan stats reads the same from the database file, in JSON and in CSV.
        let database = service.runtime.configuration.service.database
        let cli = try Subprocess.run([StatisticsTests.binary, "stats", "--database", database, "--format", "json"])
        #expect(cli.status == 0, "\(cli.stderr)")
        let cliSections = try #require(
            (try JSONSerialization.jsonObject(with: Data(cli.stdout.utf8)) as? [String: Any])?["sections"] as? [[String: Any]])
        try Self.compare(rows(cliSections), expected, "heyan stats json")
        let csv = try Subprocess.run([StatisticsTests.binary, "stats", "--database", database, "--format", "csv"])
        #expect(csv.status == 0, "\(csv.stderr)")
        let parsed = try Subprocess.run(
            ["python3", "-c", """
            import csv, io, json, sys
            rows, header = [], None
            for row in csv.reader(io.StringIO(sys.stdin.read(), newline="")):
                if row and row[0] == "section": header = row
                elif row and row[0] == "commitments": rows.append(dict(zip(header, row)))
            print(json.dumps(rows))
            """], stdin: Array(csv.stdout.utf8))
        #expect(parsed.status == 0, "\(parsed.stderr)")
        let csvRows = try #require(try JSONSerialization.jsonObject(with: Data(parsed.stdout.utf8)) as? [[String: String]])
        #expect(csvRows.count == expected.count)
        for row in csvRows {
            let key = Key(owner: row["department"] ?? "", type: row["certificateType"] ?? "")
            for (column, value) in expected[key] ?? [:] {
                #expect(row[column] == (value.map(String.init) ?? ""), "csv \(key) \(column)")
            }
        }

        // /metrics: the pending spot check is leased in tax-bureau's queue, the verification
        // waits in civil-affairs'.
        let metrics = try housing.get("/metrics").bodyText
        #expect(metrics.contains(#"heyan_queue_items{owner="tax-bureau",kind="spot-check",state="leased"} 1"#), "\(metrics)")
        #expect(metrics.contains(#"heyan_queue_items{owner="tax-bureau",kind="spot-check",state="pending"} 0"#))
        #expect(!metrics.contains(#"heyan_queue_items{owner="market-regulation",kind="spot-check""#))
        #expect(metrics.contains(#"heyan_queue_items{owner="civil-affairs",kind="verification",state="pending"} 1"#))
    }
}
