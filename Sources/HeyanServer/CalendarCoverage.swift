import HeyanDomain

/// The edge of the working-day calendar, said out loud: a log line at start-up and on every
/// reload, and the `heyan_calendar_covered_until_timestamp_seconds` gauge on `/metrics`
/// (docs/configuration.md, "Working-day calendar"; alert rule in
/// `config/prometheus/heyan-calendar-alerts.yml`).
enum CalendarCoverage {
    /// How long before the end of the covered days the log line becomes a warning: the alert
    /// rule's 60 days.
    static let warningDays: Int64 = 60

    /// Logs the last covered day: a warning when it is less than ``warningDays`` away, passed, or
    /// when no schedule is configured; info otherwise.
    static func report(_ calendar: WorkingCalendar, event: String, now: Millis, log: EventLog) {
        guard let through = calendar.coveredThrough, let end = calendar.coverageEndsAt else {
            log.log(
                .warning, event,
                [("coveredThrough", "none"),
                 ("detail", "no official holiday schedule is configured (calendar.holidays in heyan.json): every working-day time limit counts Monday to Friday only")])
            return
        }
        let next = through.year + 1
        let daysLeft = (end * 1000 - now) / 86_400_000
        if daysLeft < warningDays {
            log.log(
                .warning, event,
                [("coveredThrough", through.description),
                 ("detail", "the working-day calendar ends on \(through): due dates after it count weekends only and ignore \(next)'s public holidays; add the State Council's \(next) schedule to calendar in heyan.json and send SIGHUP")],
                numbers: [("daysLeft", Double(daysLeft))])
        } else {
            log.log(.info, event, [("coveredThrough", through.description)], numbers: [("daysLeft", Double(daysLeft))])
        }
    }

    /// The gauge in the Prometheus text format: the end of the covered days (midnight UTC+8 after
    /// the last one) in unix seconds, 0 when nothing is covered.
    static func metric(_ calendar: WorkingCalendar) -> String {
        """
        # HELP heyan_calendar_covered_until_timestamp_seconds End of the last day the working-day calendar's official holiday schedules cover (midnight UTC+8 after it); 0 when none is configured. Later due dates count weekends only.
        # TYPE heyan_calendar_covered_until_timestamp_seconds gauge
        heyan_calendar_covered_until_timestamp_seconds \(calendar.coverageEndsAt ?? 0)

        """
    }
}
