#if canImport(Glibc)
import Glibc
#endif
import Foundation
import HeyanCrypto
import HeyanTestSupport
import HeyanTransparencyLog
import Testing

@testable import HeyanServer

/// `/metrics` as Prometheus' own tool sees it: a live server's scrape passes `promtool check
/// metrics`, the new families count exactly what was done, and the alert rules in
/// `config/prometheus/` pass `promtool check rules` and their unit tests (docs/metrics.md).
@Suite struct MetricsTests {
    /// One sample's value, by its exact series text (`name{labels}`), or nil.
    static func value(_ series: String, in text: String) -> Double? {
        for line in text.split(separator: "\n") where line.hasPrefix(series + " ") {
            return Double(line.dropFirst(series.count + 1))
        }
        return nil
    }

    static func promtool(_ arguments: [String], stdin: String = "") throws -> Subprocess.Result {
        try Subprocess.run(["promtool"] + arguments, stdin: Array(stdin.utf8), timeout: 60)
    }

    @Test(arguments: Engine.all) func liveScrapePassesPromtoolAndCountsWhatWasDone(_ engine: Engine) throws {
        let service = try RunningService(engine: engine)
        let police = try DepartmentClient(service, "public-security")
        let hrss = try DepartmentClient(service, "hrss")
        let housing = try DepartmentClient(service, "housing-fund")
        let civil = try DepartmentClient(service, "civil-affairs")
        let operatorOffice = try DepartmentClient(service, "data-office")
        func scrape() throws -> String {
            let response = try operatorOffice.get("/metrics")
            #expect(response.status == 200)
            return response.bodyText
        }

        // Three data-sharing verifications: two confirmed from records, one without a record.
        for number in [1, 2] {
            let subject = TestSubjects.residentID(100 + number)
            #expect(try police.send(
                "PUT", "/v1/records/PSB-NO-CRIMINAL-RECORD/\(subject)", json: #"{"claims":{"hasCriminalRecord":false}}"#
            ).status == 201)
        }
        for number in [1, 2, 3] {
            let asked = try hrss.post("/v1/verifications", TestSubjects.verificationBody(
                type: "PSB-NO-CRIMINAL-RECORD", matter: "HR-RECRUIT-001", subject: TestSubjects.residentID(100 + number),
                claims: #"{"hasCriminalRecord":false}"#, purpose: "招聘：核验无犯罪记录"))
            #expect(asked.status == 201)
        }
        #expect(try hrss.get("/v1/catalog/NOPE").status == 404)
        // A department the configuration does not know: counted as "unknown", never by its name.
        #expect(try service.connect("not-a-department").request("GET", "/healthz").status == 403)

        // One department verification: queued, then answered by the owner.
        let queuedAt = Date().timeIntervalSince1970
        let submitted = try housing.post("/v1/verifications", TestSubjects.verificationBody(subject: TestSubjects.residentID(110)))
        #expect(submitted.status == 202)
        let whileQueued = try scrape()
        let age = try #require(Self.value(
            #"heyan_queue_oldest_item_age_seconds{owner="civil-affairs",kind="verification"}"#, in: whileQueued))
        #expect(age >= 0 && age <= Date().timeIntervalSince1970 - queuedAt + 1)
        let leased = try civil.get("/v1/queue?limit=1&lease=60")
        let item = try #require((leased["items"] as? [[String: Any]])?.first)
        let itemID = try #require(item["id"] as? String)
        let token = try #require(item["leaseToken"] as? String)
        let answer = #"{"leaseToken":"\#(token)","outcome":"confirmed","disclosed":{"maritalStatus":"married"}}"#
        #expect(try civil.post("/v1/queue/\(itemID)/answer", answer).status == 200)
        #expect(try civil.post("/v1/queue/\(itemID)/answer", answer).status == 200)  // a repeat counts once

        // One commitment (sampled for a spot check or not: its status says which).
        let commitment = try housing.post("/v1/commitments", CommitmentFlowTests.body(subject: TestSubjects.residentID(120)))
        #expect(commitment.status == 201)
        let commitmentStatus = try #require(commitment["status"] as? String)

        let text = try scrape()
        let lint = try Self.promtool(["check", "metrics"], stdin: text)
        #expect(lint.succeeded && lint.stdout.isEmpty && lint.stderr.isEmpty, "promtool: \(lint.stdout)\(lint.stderr)")
        // promtool finds a second HELP/TYPE of a family but not a repeated series: no series twice.
        let series = text.split(separator: "\n").filter { !$0.hasPrefix("#") }.map { $0.prefix { $0 != " " } }
        #expect(Set(series).count == series.count)

        func expectValue(_ series: String, _ expected: Double, sourceLocation: SourceLocation = #_sourceLocation) {
            #expect(Self.value(series, in: text) == expected, "\(series)", sourceLocation: sourceLocation)
        }
        let verifications = "heyan_verifications_total"
        expectValue(#"\#(verifications){certificate_type="PSB-NO-CRIMINAL-RECORD",method="data-sharing",outcome="confirmed"}"#, 2)
        expectValue(#"\#(verifications){certificate_type="PSB-NO-CRIMINAL-RECORD",method="data-sharing",outcome="cannot-determine"}"#, 1)
        expectValue(#"\#(verifications){certificate_type="CIV-MARRIAGE",method="department-verification",outcome="queued"}"#, 1)
        expectValue(#"\#(verifications){certificate_type="CIV-MARRIAGE",method="department-verification",outcome="confirmed"}"#, 1)
        expectValue(#"\#(verifications){certificate_type="TAX-INCOME",method="commitment",outcome="\#(commitmentStatus)"}"#, 1)
        #expect(text.split(separator: "\n").filter { $0.hasPrefix(verifications + "{") }.count == 5)

        expectValue(#"heyan_department_requests_total{department="hrss",status_class="2xx"}"#, 3)
        expectValue(#"heyan_department_requests_total{department="hrss",status_class="4xx"}"#, 1)
        expectValue(#"heyan_department_requests_total{department="public-security",status_class="2xx"}"#, 2)
        expectValue(#"heyan_department_requests_total{department="unknown",status_class="4xx"}"#, 1)
        expectValue(#"heyan_department_requests_total{department="civil-affairs",status_class="2xx"}"#, 3)
        #expect(!text.contains("not-a-department"))

        let algorithm = service.runtime.signer.algorithm.rawValue
        expectValue(#"heyan_signatures_total{algorithm="\#(algorithm)",purpose="attestation"}"#, 4)
        expectValue(#"heyan_signatures_total{algorithm="\#(algorithm)",purpose="commitment-receipt"}"#, 1)

        // The owner answered: civil-affairs has no unanswered item, so no age.
        #expect(Self.value(#"heyan_queue_items{owner="civil-affairs",kind="verification",state="pending"}"#, in: text) == nil)
        #expect(!text.contains(#"heyan_queue_oldest_item_age_seconds{owner="civil-affairs""#))

        // Group commit: every write above is a job of some batch; the histograms agree.
        let batches = try #require(Self.value("heyan_group_commit_batch_size_count", in: text))
        let jobs = try #require(Self.value("heyan_group_commit_batch_size_sum", in: text))
        #expect(Self.value(#"heyan_group_commit_batch_size_bucket{le="+Inf"}"#, in: text) == batches)
        #expect(Self.value("heyan_group_commit_duration_seconds_count", in: text) == batches)
        #expect(try #require(Self.value("heyan_group_commit_duration_seconds_sum", in: text)) > 0)
        // 2 records, 3 + 1 + 1 submissions, 1 lease, 1 answer (+ its repeat), 1 commitment, 2 refusals.
        #expect(jobs >= 12 && batches >= 1 && batches <= jobs)
        expectValue("heyan_store_ready", 1)

        // Certificates: exactly the notAfter of the files the service was started with.
        let server = try #require(try Certificate.loadChain(pemFile: service.pki.serverCertificateFile).first)
        let signing = try #require(try Certificate.loadChain(pemFile: service.pki.signingCertificateFile).first)
        expectValue(#"heyan_certificate_not_after_timestamp_seconds{role="server"}"#, Double(server.notAfter))
        expectValue(#"heyan_certificate_not_after_timestamp_seconds{role="signing"}"#, Double(signing.notAfter))

        expectValue(#"heyan_build_info{version="\#(BuildInfo.version)",swift_version="\#(BuildInfo.swiftVersion)"}"#, 1)

        // Process metrics of this very process (the server runs inside the test).
        var limit = rlimit()
        getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit)
        expectValue("process_max_fds", Double(limit.rlim_cur))
        let openFDs = try #require(Self.value("process_open_fds", in: text))
        #expect(openFDs >= 8 && openFDs < Double(limit.rlim_cur))
        let resident = try #require(Self.value("process_resident_memory_bytes", in: text))
        let virtual = try #require(Self.value("process_virtual_memory_bytes", in: text))
        #expect(resident > 1_000_000 && virtual >= resident)
        #expect(try #require(Self.value("process_cpu_seconds_total", in: text)) > 0)
        let started = try #require(Self.value("process_start_time_seconds", in: text))
        let now = Date().timeIntervalSince1970
        #expect(started <= now && started > now - 24 * 3600)
    }

    @Test func procStatIsParsedLikeClientGolang() throws {
        // A command name with spaces and a parenthesis, as proc(5) allows.
        let stat = "4242 (heyan (x) y) S 1 4242 4242 0 -1 4194560 1000 0 0 0 250 50 0 0 20 0 9 0 123456 987654321 2048 "
            + "18446744073709551615 1 1 0 0 0 0 0 4096 0 0 0 17 1 0 0 0 0 0\n"
        let system = "cpu  1 2 3\nbtime 1796000000\nprocesses 10\n"
        let limits = """
            Limit                     Soft Limit           Hard Limit           Units
            Max cpu time              unlimited            unlimited            seconds
            Max open files            4096                 524288               files
            """
        let parsed = ProcessMetrics.parse(
            stat: stat, systemStat: system, limits: limits, openFDs: 17, ticksPerSecond: 100, pageSize: 4096)
        #expect(
            parsed
                == ProcessMetrics(
                    cpuSeconds: 3, residentBytes: 2048 * 4096, virtualBytes: 987_654_321, openFDs: 17, maxFDs: 4096,
                    startTimeSeconds: 1_796_000_000 + 1234.56))
        let unlimited = limits.replacingOccurrences(of: "4096                 524288", with: "unlimited            unlimited")
        #expect(
            ProcessMetrics.parse(
                stat: stat, systemStat: system, limits: unlimited, openFDs: 17, ticksPerSecond: 100, pageSize: 4096)?
                .maxFDs == nil)
        #expect(ProcessMetrics.parse(stat: "4242 (x", systemStat: system, limits: limits, openFDs: 1, ticksPerSecond: 100, pageSize: 4096) == nil)
        #expect(ProcessMetrics.current() != nil)
    }

    /// `readdir` returns records only as long as their name; reading `d_name` whole (256 bytes) ran
    /// past a short record at the end of its buffer — a SIGSEGV in a `/metrics` scrape in CI. A record
    /// is put at the very end of a page followed by an inaccessible one: the check must read only
    /// the name (copying `entry.pointee.d_name`, as the old code did, crashes here).
    @Test func directoryEntriesAreReadOnlyUpToTheirNames() throws {
        let page = Int(sysconf(Int32(_SC_PAGESIZE)))
        let mapping = try #require(
            mmap(nil, 2 * page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0).flatMap { $0 == MAP_FAILED ? nil : $0 })
        defer { munmap(mapping, 2 * page) }
        #expect(mprotect(mapping + page, page, PROT_NONE) == 0)
        for (name, isDot) in [("a", false), (".", true), ("..", true), (".a", false), ("..a", false), ("...", false)] {
            let bytes = Array(name.utf8) + [0]
            let start = page - ProcessMetrics.direntNameOffset - bytes.count  // the NUL is the page's last byte
            let record = mapping + start
            record.initializeMemory(as: UInt8.self, repeating: 0, count: page - start)
            (record + ProcessMetrics.direntNameOffset).copyMemory(from: bytes, byteCount: bytes.count)
            #expect(ProcessMetrics.isDotOrDotDot(record.assumingMemoryBound(to: dirent.self)) == isDot, "\(name)")
        }
        // And over a real directory: names of every length, several getdents batches.
        let directory = TemporaryDirectory(prefix: "heyan-dirent")
        let names = ["a", ".x", "..x", "...", String(repeating: "n", count: 255)] + (0..<3000).map { "f\($0)" }
        for name in names {
            let fd = creat(directory.file(name), 0o600)
            #expect(fd >= 0)
            close(fd)
        }
        #expect(ProcessMetrics.countEntries(of: directory.path) == names.count)
        // (Other tests open and close descriptors in parallel: only that /proc/self/fd reads.)
        #expect((ProcessMetrics.countOpenFDs() ?? 0) > 2)
    }

    @Test func labelValuesOutsideTheConfigurationCollapseIntoOne() {
        let metrics = ServiceMetrics(http: .init(), departments: ["hrss"], certificateTypes: ["CIV-MARRIAGE"])
        metrics.record(route: "-", status: 403, seconds: 0.001, department: "hrss")
        for code in ["x1", "x2", "anonymous", "a\"b\nc"] {
            metrics.record(route: "-", status: 403, seconds: 0.001, department: code)
            metrics.countVerification(certificateType: code, method: .dataSharing, outcome: "confirmed")
        }
        metrics.countVerification(certificateType: "CIV-MARRIAGE", method: .dataSharing, outcome: "no-such-outcome")
        let text = metrics.render(.init(now: 0))
        #expect(Self.value(#"heyan_department_requests_total{department="hrss",status_class="4xx"}"#, in: text) == 1)
        #expect(Self.value(#"heyan_department_requests_total{department="unknown",status_class="4xx"}"#, in: text) == 4)
        #expect(
            Self.value(#"heyan_verifications_total{certificate_type="other",method="data-sharing",outcome="confirmed"}"#, in: text)
                == 4)
        #expect(!text.contains("x1") && !text.contains("no-such-outcome"))
        #expect(text.split(separator: "\n").filter { $0.hasPrefix("heyan_verifications_total{") }.count == 1)
    }

    /// Every rule file in config/prometheus passes `promtool check rules`, every unit-test file in
    /// Tests/Prometheus passes `promtool test rules`, and every heyan metric a rule names is one
    /// that `/metrics` exports.
    @Test func alertRulesPassPromtoolAndNameExportedMetrics() throws {
        let root = packageRoot()
        let rulesFolder = "\(root)/config/prometheus"
        let ruleFiles = try FileManager.default.contentsOfDirectory(atPath: rulesFolder)
            .filter { $0.hasSuffix(".yml") || $0.hasSuffix(".yaml") }.sorted().map { "\(rulesFolder)/\($0)" }
        #expect(ruleFiles.contains("\(rulesFolder)/heyan-alerts.yml"))
        let checked = try Self.promtool(["check", "rules"] + ruleFiles)
        #expect(checked.succeeded, "\(checked.stdout)\(checked.stderr)")

        let testsFolder = "\(root)/Tests/Prometheus"
        let testFiles = try FileManager.default.contentsOfDirectory(atPath: testsFolder)
            .filter { $0.hasSuffix(".yml") }.sorted().map { "\(testsFolder)/\($0)" }
        #expect(testFiles.contains("\(testsFolder)/heyan-alerts.test.yml"))
        let tested = try Self.promtool(["test", "rules"] + testFiles)
        #expect(tested.succeeded, "\(tested.stdout)\(tested.stderr)")

        // The families a running heyan exports (TYPE lines: present even before a first sample), with
        // the witness families of one configured with a witness (not reachable: only its metrics count).
        let service = try RunningService()
        let keys = TemporaryDirectory(prefix: "heyan-metrics-witness")
        try PrivateKey.generate(.ed25519).write(toFile: keys.file("log.key"))
        let client = try service.pki.department("heyan-log")
        let witnessKey = try CosignatureKey(name: "w.test/witness", publicKey: [UInt8](repeating: 7, count: 32))
        let witnessed = try RunningService(
            pki: service.pki,
            audit: """
                {"logKey": "\(keys.file("log.key"))", "origin": "localhost/audit/v1",
                 "witnesses": [{"name": "w.test/witness", "vkey": "\(witnessKey.vkey)", "url": "https://localhost:9"}],
                 "witnessClient": {"certificate": "\(client.certificate)", "privateKey": "\(client.key)", "trust": "\(service.pki.caFile)"}}
                """)
        var exported = Set<String>()
        for running in [service, witnessed] {
            let text = try DepartmentClient(running, "data-office").get("/metrics").bodyText
            exported.formUnion(text.split(separator: "\n").compactMap { line -> String? in
                guard line.hasPrefix("# TYPE ") else { return nil }
                return line.split(separator: " ")[2].description
            })
        }
        #expect(exported.contains("heyan_audit_witness_refusals_total"))
        let named = try NSRegularExpression(pattern: #"\bheyan_[a-z_]+"#)
        for file in ruleFiles {
            let rules = try String(contentsOfFile: file, encoding: .utf8)
            // Only expressions: `expr:` lines and the indented lines under `expr: |`.
            var expressions = ""
            var blockIndent: Int?  // the indentation of an `expr: |` line while in its block
            for line in rules.split(separator: "\n", omittingEmptySubsequences: false) {
                let trimmed = line.trimmingCharacters(in: .whitespaces)
                let indent = line.prefix { $0 == " " }.count
                if let outer = blockIndent, trimmed.isEmpty || indent > outer {
                    expressions += trimmed + "\n"
                    continue
                }
                blockIndent = nil
                if trimmed.hasPrefix("expr:") || trimmed.hasPrefix("- expr:") {
                    expressions += trimmed + "\n"
                    if trimmed.hasSuffix("|") || trimmed.hasSuffix(">") { blockIndent = indent }
                }
            }
            let range = NSRange(expressions.startIndex..., in: expressions)
            let names = named.matches(in: expressions, range: range).map { String(expressions[Range($0.range, in: expressions)!]) }
            #expect(!names.isEmpty, "\(file)")
            for name in names {
                let family = ["_bucket", "_sum", "_count"].reduce(name) { name, suffix in
                    name.hasSuffix(suffix) && exported.contains(String(name.dropLast(suffix.count)))
                        ? String(name.dropLast(suffix.count)) : name
                }
                #expect(exported.contains(family), "\(file) names \(name), which /metrics does not export")
            }
        }
    }
}
