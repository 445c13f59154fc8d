import Foundation
import HeyanHTTP
import HeyanTestSupport
import Testing

/// `GET /v1/stats` and `heyan stats` against counts recomputed from the audit log, and
/// `heyan catalog publish` read back with Python's `html.parser` and `csv`.
@Suite struct StatisticsTests {
    static let binary = packageRoot() + "/.build/debug/heyan"

    /// Every audit entry, all pages.
    static func auditLog(_ auditor: DepartmentClient) throws -> [[String: Any]] {
        var entries: [[String: Any]] = []
        var cursor = ""
        while true {
            let page = try auditor.get("/v1/audit?limit=1000" + (cursor.isEmpty ? "" : "&cursor=\(cursor)"))
            entries += (page["entries"] as? [[String: Any]]) ?? []
            guard let next = page["nextCursor"] as? String else { return entries }
            cursor = next
        }
    }

    /// Nearest rank, written again here rather than taken from the code under test.
    static func rank(_ values: [Int], _ p: Double) -> Int? {
        let sorted = values.sorted()
        guard !sorted.isEmpty else { return nil }
        var index = 0
        while Double(index + 1) < p * Double(sorted.count) { index += 1 }
        return sorted[index]
    }

    /// On a manual clock: the time between answers is what the test moves, not what it sleeps.
    @Test(arguments: Engine.all) func statisticsEqualCountsFromTheAuditLog(_ engine: Engine) throws {
        let clock = ManualClock()
        let service = try RunningService(clock: clock, engine: engine)
        let hrss = try DepartmentClient(service, "hrss")
        let housing = try DepartmentClient(service, "housing-fund")
        let civil = try DepartmentClient(service, "civil-affairs")
        let police = try DepartmentClient(service, "public-security")
        let operatorClient = try DepartmentClient(service, "data-office")
        let auditor = try DepartmentClient(service, "audit-office")

        // Data sharing: two with a record (confirmed, denied), one without (cannot-determine).
        let withRecord = [TestSubjects.residentID(21), TestSubjects.residentID(22)]
        for subject in withRecord {
            #expect(try police.send("PUT", "/v1/records/PSB-NO-CRIMINAL-RECORD/\(subject)", json: #"{"claims":{"hasCriminalRecord":false}}"#).status == 201)
        }
        for (subject, claim) in [(withRecord[0], "false"), (withRecord[1], "true"), (TestSubjects.residentID(23), "false")] {
            let body = TestSubjects.verificationBody(
                type: "PSB-NO-CRIMINAL-RECORD", matter: "HR-RECRUIT-001", subject: subject,
                claims: #"{"hasCriminalRecord":\#(claim)}"#, purpose: "招聘：核验无犯罪记录")
            #expect(try hrss.post("/v1/verifications", body).status == 201)
        }
        // Department verification: four queued, three answered (with time between).
        for number in 31...34 {
            #expect(try housing.post("/v1/verifications", TestSubjects.verificationBody(subject: TestSubjects.residentID(number))).status == 202)
        }
        let leased = try #require(try civil.get("/v1/queue?limit=3&lease=60")["items"] as? [[String: Any]])
        #expect(leased.count == 3)
        for (index, item) in leased.enumerated() {
            clock.advance(seconds: 0.02 * Double(index + 1))
            let outcome = index == 1 ? "denied" : "confirmed"
            let answer = #"{"leaseToken":"\#(item["leaseToken"] as? String ?? "")","outcome":"\#(outcome)"}"#
            #expect(try civil.post("/v1/queue/\(item["id"] as? String ?? "")/answer", answer).status == 200)
        }
        // Complaints: two against housing-fund (one handled), one against education.
        var complaintIDs: [String] = []
        for (against, certificate) in [("housing-fund", "COMM-ALIVE"), ("housing-fund", "社区证明"), ("education", "CIV-MARRIAGE")] {
            let filed = try hrss.post(
                "/v1/complaints", #"{"againstDepartment":"\#(against)","certificateDemanded":"\#(certificate)","description":"要求提交证明"}"#)
            #expect(filed.status == 201)
            complaintIDs.append(filed["id"] as? String ?? "")
        }
        #expect(try operatorClient.post("/v1/complaints/\(complaintIDs[0])/handle", #"{"reply":"已整改"}"#).status == 200)

        // Who may read statistics.
        #expect(try housing.get("/v1/stats").status == 403)
        #expect(try operatorClient.get("/v1/stats").status == 200)
        let response = try auditor.get("/v1/stats")
        #expect(response.status == 200, "\((try? service.logLines().suffix(3)) ?? [])")
        let sections = try #require(response["sections"] as? [[String: Any]])
        func rows(_ name: String) -> [[String: Any]] {
            (sections.first { $0["name"] as? String == name }?["rows"] as? [[String: Any]]) ?? []
        }

        // Recount from the audit log.
        struct Key: Hashable { var owner: String; var type: String }
        var requests: [Key: Int] = [:]
        var outcomes: [Key: [String: Int]] = [:]
        var submittedAt: [String: Int] = [:]
        var answerTimes: [Key: [Int]] = [:]
        var complaintsFiled: [String: Int] = [:]
        var complaintAgainst: [String: String] = [:]
        var complaintsHandled: [String: Int] = [:]
        for entry in try Self.auditLog(auditor) {
            let action = entry["action"] as? String ?? ""
            let detail = entry["detail"] as? [String: String] ?? [:]
            let time = Int((ISO8601DateFormatter.fractional.date(from: entry["time"] as? String ?? "")?.timeIntervalSince1970 ?? 0) * 1000)
            let key = Key(owner: entry["owner"] as? String ?? "", type: entry["certificateType"] as? String ?? "")
            switch action {
            case "verification.submitted":
                requests[key, default: 0] += 1
                submittedAt[entry["verification"] as? String ?? ""] = time
                // Answered at once from shared data: the same entry carries the outcome (docs/audit.md).
                if detail["routedTo"] == "data-sharing", let outcome = detail["outcome"] {
                    outcomes[key, default: [:]][outcome, default: 0] += 1
                    answerTimes[key, default: []].append(0)
                }
            case "verification.answered":
                outcomes[key, default: [:]][detail["outcome"] ?? "", default: 0] += 1
                answerTimes[key, default: []].append(time - (submittedAt[entry["verification"] as? String ?? ""] ?? 0))
            case "complaint.filed":
                complaintsFiled[detail["againstDepartment"] ?? "", default: 0] += 1
                complaintAgainst[detail["complaint"] ?? ""] = detail["againstDepartment"]
            case "complaint.handled":
                complaintsHandled[complaintAgainst[detail["complaint"] ?? ""] ?? "", default: 0] += 1
            default:
                break
            }
        }
        #expect(requests.count == 2)
        let requestRows = rows("requests")
        #expect(requestRows.count == requests.count)
        for (key, count) in requests {
            let row = try #require(
                requestRows.first { $0["department"] as? String == key.owner && $0["certificateType"] as? String == key.type })
            let answered = outcomes[key, default: [:]].values.reduce(0, +)
            #expect(row["requests"] as? Int == count, "\(key)")
            #expect(row["confirmed"] as? Int == outcomes[key]?["confirmed"] ?? 0, "\(key)")
            #expect(row["denied"] as? Int == outcomes[key]?["denied"] ?? 0, "\(key)")
            #expect(row["cannotDetermine"] as? Int == outcomes[key]?["cannot-determine"] ?? 0, "\(key)")
            #expect(row["answered"] as? Int == answered, "\(key)")
            #expect(row["pending"] as? Int == count - answered, "\(key)")
            #expect(row["medianAnswerMs"] as? Int == Self.rank(answerTimes[key] ?? [], 0.5), "\(key)")
            #expect(row["p90AnswerMs"] as? Int == Self.rank(answerTimes[key] ?? [], 0.9), "\(key)")
        }
        let marriage = try #require(requestRows.first { $0["certificateType"] as? String == "CIV-MARRIAGE" })
        #expect(marriage["requests"] as? Int == 4)
        #expect(marriage["pending"] as? Int == 1)
        #expect(marriage["departmentVerification"] as? Int == 4)
        #expect((marriage["medianAnswerMs"] as? Int ?? 0) > 0)

        let complaintRows = rows("complaints")
        #expect(complaintRows.count == complaintsFiled.count)
        for (department, filed) in complaintsFiled {
            let row = try #require(complaintRows.first { $0["department"] as? String == department })
            #expect(row["filed"] as? Int == filed)
            #expect(row["handled"] as? Int == complaintsHandled[department] ?? 0)
            #expect(row["open"] as? Int == filed - (complaintsHandled[department] ?? 0))
        }
        #expect(complaintRows.first { $0["department"] as? String == "housing-fund" }?["aboutCancelled"] as? Int == 1)

        // The exemption table and totals, recounted from the published catalog.
        let catalog = try #require(try auditor.get("/v1/catalog")["items"] as? [[String: Any]])
        var exemptions = 0
        for item in catalog {
            if item["method"] as? String == "cancelled" { exemptions += 1 }
            for grant in (item["requesters"] as? [[String: Any]]) ?? [] { exemptions += (grant["matterCodes"] as? [Any])?.count ?? 0 }
        }
        #expect(rows("exemptions").count == exemptions)
        #expect(rows("exemptions").contains { $0["certificateType"] as? String == "COMM-GOOD-CONDUCT" && $0["method"] as? String == "direct-cancel" })
        #expect(rows("exemptions").contains { $0["certificateType"] as? String == "COMM-ALIVE" && $0["method"] as? String == "data-sharing" })
        let totals = Dictionary(uniqueKeysWithValues: rows("totals").map { ($0["metric"] as? String ?? "", $0["value"]) })
        let cancelledCount = catalog.filter { $0["method"] as? String == "cancelled" }.count
        #expect(totals["items"] as? Int == catalog.count)
        #expect(totals["cancelled"] as? Int == cancelledCount)
        #expect(totals["cancelledShare"] as? Double == Double(cancelledCount) / Double(catalog.count))
        #expect(rows("cancellations").map { $0["items"] as? Int ?? 0 }.reduce(0, +) == cancelledCount)

        // The CLI reads the same from the database file; the CSV parses with Python's csv.
        let database = service.runtime.configuration.service.database
        let cli = try Subprocess.run([Self.binary, "stats", "--database", database, "--format", "json"])
        #expect(cli.status == 0, "\(cli.stderr)")
        let cliSections = try #require(
            (try JSONSerialization.jsonObject(with: Data(cli.stdout.utf8)) as? [String: Any])?["sections"] as? [[String: Any]])
        #expect(NSArray(array: cliSections).isEqual(to: sections))
        let csv = try auditor.get("/v1/stats?format=csv")
        #expect(csv.headers["Content-Type"]?.hasPrefix("text/csv") == true)
        let parsed = try Subprocess.run(
            ["python3", "-c", """
            import csv, io, json, sys
            rows = list(csv.reader(io.StringIO(sys.stdin.read(), newline="")))
            sections = {}
            for row in rows:
                if row and row[0] != "section":
                    sections[row[0]] = sections.get(row[0], 0) + 1
            print(json.dumps(sections, sort_keys=True))
            """], stdin: Array(csv.body))
        #expect(parsed.status == 0, "\(parsed.stderr)")
        let counts = try #require(try JSONSerialization.jsonObject(with: Data(parsed.stdout.utf8)) as? [String: Int])
        #expect(counts["requests"] == requestRows.count)
        #expect(counts["exemptions"] == exemptions)
        #expect(counts["complaints"] == complaintRows.count)
    }

    static let htmlCheck = """
        import html.parser, json, sys
        class Page(html.parser.HTMLParser):
            def __init__(self):
                super().__init__(convert_charrefs=True)
                self.stack, self.h2, self.tables, self.cells, self.scripts = [], [], 0, [], 0
                self.text = None
            def handle_starttag(self, tag, attrs):
                if tag == "script": self.scripts += 1
                if tag == "table": self.tables += 1
                if tag in ("meta",): return
                self.stack.append(tag)
                if tag in ("h2", "td"): self.text = ""
            def handle_endtag(self, tag):
                if not self.stack or self.stack.pop() != tag: raise SystemExit("unbalanced </%s>" % tag)
                if tag == "h2": self.h2.append(self.text)
                if tag == "td": self.cells.append(self.text)
                if tag in ("h2", "td"): self.text = None
            def handle_data(self, data):
                if self.text is not None: self.text += data
        page = Page()
        source = open(sys.argv[1], encoding="utf-8").read()
        page.feed(source)
        page.close()
        if page.stack: raise SystemExit("unclosed: %r" % page.stack)
        print(json.dumps({"doctype": source.startswith("<!DOCTYPE html>"), "h2": page.h2, "tables": page.tables,
                          "cells": page.cells, "scripts": page.scripts}, ensure_ascii=False))
        """

    @Test func publishedListHasEveryDepartmentAndTheCancelledReasons() throws {
        let service = try RunningService()
        let operatorClient = try DepartmentClient(service, "data-office")
        // A name that needs escaping, added through the API, and a cancellation.
        let item = CatalogGovernanceTests.adoptionItem.replacingOccurrences(
            of: #""zh":"收养关系证明""#, with: #""zh":"<script>alert('x')</script> 收养 & \"关系\" 证明""#)
        let change = """
            {"reason":"调整","legalBasis":"依据","changes":[{"op":"add","item":\(item)},
             {"op":"cancel","code":"EDU-DEGREE","reason":"通过部门间信息共享核查 <核验> & 比对"}]}
            """
        let stored = try operatorClient.post("/v1/catalog/changes", change)
        #expect(stored.status == 201, "\(stored.bodyText)")

        let database = service.runtime.configuration.service.database
        let configDir = service.configDirectory.file("")
        let out = service.configDirectory.file("list.html")
        let published = try Subprocess.run(
            [Self.binary, "catalog", "publish", "--format", "html", "--database", database, "--config-dir", configDir, "--out", out])
        #expect(published.status == 0, "\(published.stdout)\(published.stderr)")
        let check = try Subprocess.run(["python3", "-c", Self.htmlCheck, out])
        #expect(check.status == 0, "\(check.stdout)\(check.stderr)")
        let page = try #require(try JSONSerialization.jsonObject(with: Data(check.stdout.utf8)) as? [String: Any])
        let headings = page["h2"] as? [String] ?? []
        let cells = Set(page["cells"] as? [String] ?? [])
        #expect(page["doctype"] as? Bool == true)
        #expect(page["scripts"] as? Int == 0)

        // One table per owning department with a listed item, plus the cancelled table.
        let catalog = try #require(try operatorClient.get("/v1/catalog")["items"] as? [[String: Any]])
        let departments = try #require(
            (try JSONSerialization.jsonObject(with: Data(try readFile(service.configDirectory.file("departments.json"))))
                as? [String: Any])?["departments"] as? [[String: Any]])
        let names = Dictionary(uniqueKeysWithValues: departments.map { ($0["code"] as? String ?? "", ($0["name"] as? [String: String])?["zh"] ?? "") })
        let owners = Set(catalog.filter { $0["method"] as? String != "cancelled" }.compactMap { $0["owner"] as? String })
        #expect(Set(headings) == Set(owners.map { names[$0] ?? $0 } + ["已取消的证明事项"]))
        #expect(page["tables"] as? Int == owners.count + 1)
        for item in catalog {
            #expect(cells.contains(item["code"] as? String ?? ""))
            if let reason = (item["cancellation"] as? [String: Any])?["reason"] as? String {
                #expect(cells.contains(reason), "\(reason)")
            }
        }
        #expect(cells.contains("<script>alert('x')</script> 收养 & \"关系\" 证明"))
        #expect(cells.contains("通过部门间信息共享核查 <核验> & 比对"))

        // The CSV: one line per item, the same text.
        let csvOut = service.configDirectory.file("list.csv")
        #expect(try Subprocess.run(
            [Self.binary, "catalog", "publish", "--format", "csv", "--database", database, "--config-dir", configDir, "--out", csvOut]).status == 0)
        let csv = try Subprocess.run(["python3", "-c", """
            import csv, json, sys
            with open(sys.argv[1], newline="", encoding="utf-8") as f:
                print(json.dumps(list(csv.DictReader(f)), ensure_ascii=False))
            """, csvOut])
        #expect(csv.status == 0, "\(csv.stderr)")
        let records = try #require(try JSONSerialization.jsonObject(with: Data(csv.stdout.utf8)) as? [[String: String]])
        #expect(records.count == catalog.count)
        #expect(Set(records.map { $0["code"] ?? "" }) == Set(catalog.compactMap { $0["code"] as? String }))
        #expect(records.first { $0["code"] == "EDU-DEGREE" }?["cancellationReason"] == "通过部门间信息共享核查 <核验> & 比对")
        #expect(records.first { $0["code"] == "CIV-ADOPTION" }?["name"] == "<script>alert('x')</script> 收养 & \"关系\" 证明")
        // Version 1 from the database is still the configured list.
        let v1 = try Subprocess.run([Self.binary, "catalog", "publish", "--format", "json", "--database", database, "--version", "1"])
        #expect(v1.status == 0)
        #expect(!v1.stdout.contains("CIV-ADOPTION"))
        #expect(v1.stdout.contains("\"version\":1"))
    }
}

extension ISO8601DateFormatter {
    nonisolated(unsafe) static let fractional: ISO8601DateFormatter = {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        return formatter
    }()
}
