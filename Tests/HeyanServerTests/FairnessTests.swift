#if canImport(Glibc)
import Glibc
#endif
import Foundation
import HeyanHTTP
import HeyanTestSupport
import Synchronization
import Testing

/// The per-department token bucket (`departments.json` `rateLimit`) over real mTLS: 429 with
/// `Retry-After`, audited, `/healthz` exempt, and one department's flood not slowing another.
@Suite(.serialized) struct FairnessTests {
    /// `config/departments.json` with `finance` limited to `flood` and `hrss` given its own, generous
    /// bucket (so a shared bucket would show up as 429s for hrss).
    static func departments(flood: (Double, Int)) throws -> [UInt8] {
        let bytes = try readFile(packageRoot() + "/config/departments.json")
        var root = try #require(try JSONSerialization.jsonObject(with: Data(bytes)) as? [String: Any])
        var list = try #require(root["departments"] as? [[String: Any]])
        for index in list.indices {
            switch list[index]["code"] as? String {
            case "finance": list[index]["rateLimit"] = ["requestsPerSecond": flood.0, "burst": flood.1]
            case "hrss": list[index]["rateLimit"] = ["requestsPerSecond": 1_000_000, "burst": 1_000_000]
            default: break
            }
        }
        root["departments"] = list
        return Array(try JSONSerialization.data(withJSONObject: root))
    }

    @Test func anEmptyBucketAnswers429WithRetryAfterAuditedAndHealthzStaysExempt() throws {
        let service = try RunningService(departments: try Self.departments(flood: (0.5, 3)))
        let finance = try DepartmentClient(service, "finance")
        for _ in 0..<3 { #expect(try finance.get("/v1/catalog").status == 200) }
        let refused = try finance.get("/v1/catalog")
        #expect(refused.status == 429)
        #expect(refused.headers["Retry-After"] == "2")
        #expect(refused.headers["Content-Type"] == "application/problem+json")
        #expect(refused["type"] as? String == "urn:heyan:problem:rate-limited")
        #expect(refused["retryAfter"] as? Int == 2)
        // The bucket is checked before routing: an unknown route is 429 too, not 404.
        #expect(try finance.get("/v1/nowhere").status == 429)
        #expect(try finance.get("/healthz").status == 200)
        // Other departments have their own buckets.
        let hrss = try DepartmentClient(service, "hrss")
        #expect(try hrss.get("/v1/catalog").status == 200)

        let auditor = try DepartmentClient(service, "audit-office")
        let audit = try auditor.get("/v1/audit?action=request.refused&department=finance")
        #expect(audit.status == 200)
        let entries = (audit["entries"] as? [[String: Any]]) ?? []
        let statuses = entries.compactMap { ($0["detail"] as? [String: Any])?["status"] as? String }
        #expect(statuses == ["429", "429"])
        let problems = entries.compactMap { ($0["detail"] as? [String: Any])?["problem"] as? String }
        #expect(problems == ["urn:heyan:problem:rate-limited", "urn:heyan:problem:rate-limited"])

        let failures = try OpenAPIConformance.check([
            RecordedExchange(method: "GET", path: "/v1/catalog", status: refused.status,
                contentType: refused.headers["Content-Type"] ?? "", body: refused.bodyText)
        ])
        #expect(failures.isEmpty, "\(failures)")
    }

    /// The victim's own work: data-sharing verifications (signed and written durably), one at a time
    /// on one connection. Returns the p99 in milliseconds and how many were 429.
    static func measure(_ client: DepartmentClient, subject: String, count: Int) throws -> (p99: Double, refused: Int) {
        let body = """
            {"certificateType":"PSB-NO-CRIMINAL-RECORD","matterCode":"HR-RECRUIT-001","purpose":"招聘岗位背景核查",
             "subject":{"idType":"resident-id","id":"\(subject)","name":"测试"},"claims":{"hasCriminalRecord":false}}
            """
        var samples: [Double] = []
        samples.reserveCapacity(count)
        var refused = 0
        for _ in 0..<count {
            let start = monotonicSeconds()
            let response = try client.post("/v1/verifications", body)
            samples.append((monotonicSeconds() - start) * 1000)
            if response.status == 429 {
                refused += 1
            } else if response.status != 201 {
                throw TestFailure("victim got \(response.status): \(response.bodyText)")
            }
        }
        samples.sort()
        return (samples[min(count - 1, Int((Double(count) * 0.99).rounded(.up)) - 1)], refused)
    }

    @Test func aFloodingDepartmentGets429sWhileAnotherKeepsItsLatency() throws {
        let service = try RunningService(departments: try Self.departments(flood: (5, 20)))
        let subject = TestSubjects.residentID(77)
        let police = try DepartmentClient(service, "public-security")
        let record = try police.send("PUT", "/v1/records/PSB-NO-CRIMINAL-RECORD/\(subject)", json: #"{"claims":{"hasCriminalRecord":false}}"#)
        #expect(record.status == 201)
        let victim = try DepartmentClient(service, "hrss")
        _ = try Self.measure(victim, subject: subject, count: 100)  // warm up: TLS session, caches, allocator

        let floodConnections = 6
        let rounds = 9
        let samples = 120
        final class Flood: Sendable {
            let stop = Atomic<Bool>(false)
            let refused = Atomic<Int>(0)
            let admitted = Atomic<Int>(0)
            let running = Atomic<Int>(0)
        }
        let flood = Flood()
        // The flood submits data-sharing verifications (each admitted one is signed and written);
        // closed loop, many connections, as fast as the server answers.
        let body = Array("""
            {"certificateType":"MKT-BUSINESS-LICENSE","matterCode":"FIN-PROCUREMENT-001","purpose":"政府采购资格审查",
             "subject":{"idType":"uscc","id":"91350100M000100Y43","name":"某公司"},"claims":{"status":"in-business"}}
            """.utf8)
        let clients = try (0..<floodConnections).map { _ in try DepartmentClient(service, "finance") }
        func startFlood() {
            flood.stop.store(false, ordering: .relaxed)
            for client in clients {
                flood.running.add(1, ordering: .relaxed)
                Thread {
                    defer { flood.running.subtract(1, ordering: .relaxed) }
                    // The flood's client side (its TLS and parsing) runs on the same two cores as the
                    // server; at the lowest priority it takes only what the server and the victim leave,
                    // as a flood from another machine would.
                    setpriority(__priority_which_t(PRIO_PROCESS.rawValue), 0, 19)  // Linux: 0 is the calling thread
                    while !flood.stop.load(ordering: .relaxed) {
                        guard let response = try? client.connection.request("POST", "/v1/verifications",
                            headers: [("Content-Type", "application/json")], body: body) else { return }
                        if response.status == 429 {
                            flood.refused.add(1, ordering: .relaxed)
                        } else {
                            flood.admitted.add(1, ordering: .relaxed)
                        }
                    }
                }.start()
            }
            while flood.refused.load(ordering: .relaxed) + flood.admitted.load(ordering: .relaxed) == 0 { usleep(1000) }
        }
        func stopFlood() {
            flood.stop.store(true, ordering: .relaxed)
            while flood.running.load(ordering: .relaxed) > 0 { usleep(1000) }
        }

        // One measurement: `rounds` alternating rounds without and with the flood, the median of
        // each side's per-round p99 (a burst of other work on the machine spoils a round, not the
        // measurement).
        var victimRefused = 0
        func measureRounds() throws -> (unloaded: Double, flooded: Double) {
            var unloaded: [Double] = []
            var flooded: [Double] = []
            for _ in 0..<rounds {
                let quiet = try Self.measure(victim, subject: subject, count: samples)
                unloaded.append(quiet.p99)
                startFlood()
                let loud = try Self.measure(victim, subject: subject, count: samples)
                stopFlood()
                flooded.append(loud.p99)
                victimRefused += quiet.refused + loud.refused
            }
            let result = (unloaded.sorted()[rounds / 2], flooded.sorted()[rounds / 2])
            print(String(format: "fairness: victim p99 unloaded %.2f ms (rounds %@), under flood %.2f ms (rounds %@); "
                + "flood 429=%d admitted=%d; victim 429=%d",
                result.0, unloaded.map { String(format: "%.2f", $0) }.joined(separator: "/"), result.1,
                flooded.map { String(format: "%.2f", $0) }.joined(separator: "/"),
                flood.refused.load(ordering: .relaxed), flood.admitted.load(ordering: .relaxed), victimRefused))
            return result
        }
        // `make test` runs other suites in parallel on the same two cores: a measurement over 2x is
        // taken again once, and the test fails when the second one is over 2x too.
        var p99 = try measureRounds()
        if p99.flooded > 2 * p99.unloaded { p99 = try measureRounds() }
        #expect(victimRefused == 0)
        #expect(flood.refused.load(ordering: .relaxed) > 100)
        // 20 burst + 5/s over a few seconds: far fewer admitted than refused.
        #expect(flood.admitted.load(ordering: .relaxed) < flood.refused.load(ordering: .relaxed) / 4)
        #expect(p99.flooded <= 2 * p99.unloaded, "victim p99 \(p99.flooded) ms under flood vs \(p99.unloaded) ms unloaded")
    }
}
