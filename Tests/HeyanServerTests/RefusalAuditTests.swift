#if canImport(Glibc)
import Glibc
#endif
import Foundation
import HeyanDomain
import HeyanStorage
import HeyanTestSupport
import Testing

@testable import HeyanServer

/// Refused requests are audited within bounds (issue 10, finding 4; docs/audit.md "Refused
/// requests"): individual `request.refused` entries up to a rate per department, the rest counted
/// into `request.refused.aggregate` entries, and the counts add up to every refusal.
@Suite struct RefusalAuditTests {
    @Test("beyond the bucket refusals are counted per department and written when the interval ends")
    func bucketThenCounts() {
        let audit = RefusalAudit(perSecond: 1, burst: 2, intervalSeconds: 10)
        let second: UInt64 = 1_000_000_000
        var decisions: [RefusalAudit.Decision] = []
        for index in 0..<5 {
            decisions.append(
                audit.admit(actor: "finance", status: 400, problemType: "urn:heyan:problem:malformed-request",
                    now: second + UInt64(index), wallNow: 1_000))
        }
        #expect(decisions == [.individual, .individual, .counted, .counted, .counted])
        // Another department has its own bucket.
        #expect(audit.admit(actor: "hrss", status: 403, problemType: nil, now: second, wallNow: 1_000) == .individual)
        // A token is back after a second; then counted again, into the same interval.
        #expect(audit.admit(actor: "finance", status: 429, problemType: "urn:heyan:problem:rate-limited", now: 2 * second + 10, wallNow: 2_000) == .individual)
        #expect(audit.admit(actor: "finance", status: 429, problemType: "urn:heyan:problem:rate-limited", now: 2 * second + 11, wallNow: 2_000) == .counted)

        #expect(audit.takeAggregates(endedBy: 10 * second, wallNow: 10_000).isEmpty)
        let ended = audit.takeAggregates(endedBy: 11 * second + 2, wallNow: 11_000)
        #expect(ended.count == 1)
        #expect(ended.first?.action == .requestRefusedAggregate)
        #expect(ended.first?.actor == "finance")
        #expect(ended.first?.detail == [
            "count": "4", "from": "1970-01-01T00:00:01.000Z", "to": "1970-01-01T00:00:11.000Z",
            "byProblem": "urn:heyan:problem:malformed-request=3,urn:heyan:problem:rate-limited=1",
            "byStatus": "400=3,429=1",
        ])
        #expect(audit.takeAggregates(endedBy: nil, wallNow: 12_000).isEmpty)
        // At shutdown every open interval is written, ended or not (hrss's bucket is full again: 2 tokens).
        for index in 0..<4 {
            _ = audit.admit(actor: "hrss", status: 403, problemType: nil, now: 12 * second + UInt64(index), wallNow: 12_000)
        }
        let open = audit.takeAggregates(endedBy: nil, wallNow: 12_500)
        #expect(open.map(\.actor) == ["hrss"])
        #expect(open.first?.detail["count"] == "2")
        #expect(open.first?.detail["byProblem"] == "-=2")
    }

    /// Every `request.refused` and `request.refused.aggregate` entry of `actor`, from the file.
    struct Tally: Equatable {
        var individual = 0
        var aggregates = 0
        var byProblem: [String: Int] = [:]
        var total: Int { byProblem.values.reduce(0, +) }
    }

    func tally(_ path: String, actor: String) throws -> Tally {
        let connection = try SQLiteConnection(path: path, mode: .readOnly)
        var tally = Tally()
        for row in try connection.fetchAll(
            "SELECT action, detail FROM audit_log WHERE actor = ? AND action LIKE 'request.refused%' ORDER BY sequence",
            arguments: [.text(actor)])
        {
            guard case .text(let action) = row[0], case .text(let detailText) = row[1],
                let detail = try JSONSerialization.jsonObject(with: Data(detailText.utf8)) as? [String: String]
            else { throw TestFailure("unreadable audit row \(row)") }
            if action == "request.refused" {
                tally.individual += 1
                tally.byProblem[detail["problem"] ?? "-", default: 0] += 1
            } else {
                tally.aggregates += 1
                var sum = 0
                for pair in (detail["byProblem"] ?? "").split(separator: ",") {
                    let parts = pair.split(separator: "=")
                    let count = Int(parts.last!)!
                    tally.byProblem[parts.dropLast().joined(separator: "="), default: 0] += count
                    sum += count
                }
                #expect(String(sum) == detail["count"], "byProblem does not add up to count: \(detail)")
            }
        }
        return tally
    }

    @Test("a department flooding malformed requests writes bounded audit rows whose counts add up exactly")
    func floodIsBoundedAndCountedExactly() throws {
        // On a manual clock: the flood takes no time of the service's, and the interval ends when
        // the test moves time past it.
        let clock = ManualClock()
        let service = try RunningService(
            limits: #""refusalAuditPerSecond": 2, "refusalAuditBurst": 10, "refusalAuditIntervalSeconds": 1"#, clock: clock)
        let path = service.runtime.configuration.service.database
        // finance has a request budget of 5/s (burst 20): the flood gets 400s, then mostly 429s.
        let finance = try DepartmentClient(service, "finance")
        let started = clock.monotonicNanoseconds()
        var answered: [String: Int] = [:]
        let requests = 400
        for _ in 0..<requests {
            let response = try finance.post("/v1/verifications", "{")
            #expect(response.status == 400 || response.status == 429)
            answered[response["type"] as? String ?? "?", default: 0] += 1
        }
        let seconds = Double(clock.monotonicNanoseconds() - started) / 1e9
        #expect(answered.count == 2, "\(answered)")

        // The last interval is written a second after its first refusal: not before.
        clock.advance(seconds: 0.9)
        #expect(try tally(path, actor: "finance").aggregates == 0)
        clock.advance(seconds: 0.1)
        var counted = try tally(path, actor: "finance")
        #expect(try eventually(within: 15) {
            counted = try tally(path, actor: "finance")
            return counted.total == requests
        })
        #expect(counted.total == requests, "\(counted) for \(requests) refusals")
        #expect(counted.byProblem == answered)
        // Bounded: the bucket (10 + 2/s) and one aggregate per interval.
        let elapsed = Int(seconds.rounded(.up)) + 1
        #expect(counted.individual <= 10 + 2 * elapsed, "\(counted.individual) individual entries in \(seconds) s")
        #expect(counted.aggregates >= 1)
        #expect(counted.aggregates <= elapsed + 1, "\(counted.aggregates) aggregates in \(seconds) s")
        #expect(counted.individual + counted.aggregates < requests / 4)

        // The aggregates are chained like every entry, and readable through the API.
        let auditor = try DepartmentClient(service, "audit-office")
        let listed = try auditor.get("/v1/audit?action=request.refused.aggregate&department=finance")
        #expect(listed.status == 200)
        #expect((listed["entries"] as? [[String: Any]])?.count == counted.aggregates)
    }

    @Test("counts of an interval still open are written when the server stops")
    func openIntervalIsWrittenAtStop() throws {
        let service = try RunningService(
            limits: #""refusalAuditPerSecond": 1, "refusalAuditBurst": 3, "refusalAuditIntervalSeconds": 3600"#)
        let path = service.runtime.configuration.service.database
        let hrss = try DepartmentClient(service, "hrss")
        for _ in 0..<30 { #expect(try hrss.post("/v1/verifications", "[").status == 400) }
        #expect(try tally(path, actor: "hrss").aggregates == 0)
        service.runtime.stop(grace: 1)
        let counted = try tally(path, actor: "hrss")
        #expect(counted.total == 30, "\(counted)")
        #expect(counted.aggregates == 1)
        #expect(counted.individual <= 4)
    }
}
