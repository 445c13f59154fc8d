#if canImport(Glibc)
import Glibc
#endif
import Foundation
import HeyanDomain
import HeyanHTTP
import HeyanTestSupport
import Testing

/// Issue 10 finding 8: the edge of the working-day calendar is said (log, metric, alert rule,
/// statistics), and next year's schedule is picked up by a reload (SIGHUP) without a restart.
@Suite struct CalendarCoverageTests {
    /// Queues a department verification and returns its `dueAt` (RFC 3339).
    static func queue(_ housing: DepartmentClient, subject: Int) throws -> String {
        let response = try housing.post("/v1/verifications", TestSubjects.verificationBody(subject: TestSubjects.residentID(subject)))
        #expect(response.status == 202)
        return try #require(response["dueAt"] as? String)
    }

    /// The China Standard Time date of an RFC 3339 instant.
    static func chinaDate(_ text: String) throws -> CalendarDate {
        let millis = try #require(Timestamp.parse(text))
        return CalendarDate(daysSince1970: Int((millis / 1000 + 8 * 3600) / 86_400))
    }

    static func metric(_ service: RunningService) throws -> String {
        let text = try service.connect("data-office").request("GET", "/metrics").bodyText
        return try #require(text.split(separator: "\n").first { $0.hasPrefix("heyan_calendar_covered_until_timestamp_seconds ") })
            .split(separator: " ").last.map(String.init) ?? ""
    }

    @Test func aHolidayAddedAndReloadedMovesTheDueDateAndTheEdgeIsReported() throws {
        let service = try RunningService()
        // No schedule configured: a warning at start-up, the gauge at 0, every due date beyond.
        let startup = try service.logLines().first { $0.contains(#""event":"calendar""#) }
        #expect(startup?.contains(#""level":"warning""#) == true)
        #expect(startup?.contains(#""coveredThrough":"none""#) == true)
        #expect(try Self.metric(service) == "0")

        let housing = try DepartmentClient(service, "housing-fund")
        let firstDue = try Self.queue(housing, subject: 501)
        let dueDay = try Self.chinaDate(firstDue)

        // The operator adds a schedule: the first due day becomes a holiday, and next year is
        // covered. heyan.json is rewritten and reloaded (what SIGHUP does).
        let nextYear = dueDay.year + 1
        let configuration = RunningService.configuration(pki: service.pki).replacing(
            "\"workers\": 2",
            with: "\"workers\": 2, \"calendar\": {\"holidays\": [\"\(dueDay)\", \"\(nextYear)-01-01\"]}")
        try service.configDirectory.write("heyan.json", configuration)
        service.runtime.reload()
        #expect(service.runtime.calendar.coveredThrough == CalendarDate(year: nextYear, month: 12, day: 31))
        let reloaded = try service.logLines().first { $0.contains(#""event":"calendar-reloaded""#) }
        #expect(reloaded?.contains(#""coveredThrough":"\#(nextYear)-12-31""#) == true)
        let expectedEnd = (CalendarDate(year: nextYear + 1, month: 1, day: 1)!.daysSince1970) * 86_400 - 8 * 3600
        #expect(try Self.metric(service) == String(expectedEnd))

        let secondDue = try Self.queue(housing, subject: 502)
        #expect(try Self.chinaDate(secondDue) > dueDay, "the new holiday \(dueDay) must push the due date: \(firstDue) → \(secondDue)")

        // Statistics mark the first due date (computed with no schedule), not the second.
        let stats = try DepartmentClient(service, "audit-office").get("/v1/stats")
        let sections = try #require(stats["sections"] as? [[String: Any]])
        let requests = try #require(sections.first { $0["name"] as? String == "requests" })
        #expect((requests["columns"] as? [String])?.contains("dueBeyondCalendar") == true)
        let row = try #require(
            (requests["rows"] as? [[String: Any]])?.first { $0["certificateType"] as? String == "CIV-MARRIAGE" })
        #expect(row["dueBeyondCalendar"] as? Int == 1)

        // An invalid heyan.json is not applied: the calendar stays, the error is logged.
        try service.configDirectory.write("heyan.json", "{")
        service.runtime.reload()
        #expect(service.runtime.calendar.coveredThrough == CalendarDate(year: nextYear, month: 12, day: 31))
        #expect(try service.logLines().contains { $0.contains(#""event":"config-reload-failed""#) })
    }

    @Test func theShippedCalendarCoversTheYearsPublished() throws {
        let configuration = try ServiceConfiguration.decode(
            try readFile(packageRoot() + "/config/heyan.json"), file: "heyan.json")
        let calendar = configuration.calendar.workingCalendar
        #expect(calendar.coveredThrough == CalendarDate(year: 2026, month: 12, day: 31))
        // 国务院办公厅关于2026年部分节假日安排的通知 (4 November 2025): the nine-day Spring Festival
        // break 15–23 February and its make-up Saturdays 14 and 28 February.
        let date = { (month: Int, day: Int) in CalendarDate(year: 2026, month: month, day: day)! }
        for day in 15...23 { #expect(!calendar.isWorkingDay(date(2, day)), "2026-02-\(day)") }
        #expect(calendar.isWorkingDay(date(2, 14)))
        #expect(calendar.isWorkingDay(date(2, 28)))
        #expect(!calendar.isWorkingDay(date(10, 7)))
        #expect(calendar.isWorkingDay(date(10, 10)))
        #expect(calendar.isWorkingDay(date(1, 4)))
        // A ten-working-day limit from Friday 13 February 2026, 10:00: the break, and the
        // make-up Saturdays 14 and 28 February, ends on Thursday 5 March (weekends only would say 27 February).
        let start = Date(timeIntervalSince1970: Double(date(2, 13).daysSince1970 * 86_400 + 2 * 3600))
        let due = calendar.adding(workingDays: 10, to: start)
        #expect(CalendarDate(chinaStandardTimeAt: due) == date(3, 5))
        // 2027 is not published yet: weekends only, and heyan knows it.
        #expect(calendar.isBeyondCoverage(CalendarDate(year: 2027, month: 1, day: 1)!))
        #expect(!calendar.isBeyondCoverage(date(12, 31)))
    }

    @Test func alertRuleChecksAndFiresSixtyDaysBefore() throws {
        let directory = packageRoot() + "/config/prometheus"
        let check = try Subprocess.run(["promtool", "check", "rules", directory + "/heyan-calendar-alerts.yml"])
        #expect(check.status == 0, "\(check.stdout)\(check.stderr)")
        let unit = try Subprocess.run(["promtool", "test", "rules", packageRoot() + "/Tests/Prometheus/heyan-calendar-alerts.test.yml"])
        #expect(unit.status == 0, "\(unit.stdout)\(unit.stderr)")
    }
}
