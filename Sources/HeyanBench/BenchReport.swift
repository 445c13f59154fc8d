/// The result of one run: what `heyan bench` prints as a table or as one JSON object.
public struct BenchReport: Sendable {
    public let plan: BenchPlan
    public let accounting: RunAccounting

    public init(plan: BenchPlan, accounting: RunAccounting) {
        self.plan = plan
        self.accounting = accounting
    }

    public var requests: UInt64 { accounting.requests }
    public var requestsPerSecond: Double { Double(accounting.requests) / plan.duration }
    /// Queue round trips (or, for the other scenarios, requests) completed per second.
    public var transactionsPerSecond: Double { Double(accounting.transactions) / plan.duration }
    public var handshakesPerSecond: Double { Double(accounting.handshakes) / plan.duration }
    public var totalErrors: UInt64 { accounting.errors.reduce(0, +) }

    /// Error counts by kind name, only the kinds that occurred.
    public var errors: [(String, UInt64)] {
        BenchErrorKind.allCases.compactMap { kind in
            let count = accounting.errors[kind.rawValue]
            return count > 0 ? (kind.name, count) : nil
        }
    }

    /// Response counts by status, only the statuses seen.
    public var statuses: [(Int, UInt64)] {
        accounting.statuses.indices.compactMap { accounting.statuses[$0] > 0 ? ($0, accounting.statuses[$0]) : nil }
    }

    /// Latency percentiles in milliseconds.
    public func latencyMilliseconds(_ percentile: Double) -> Double { accounting.latency.percentile(percentile) / 1_000 }

    // MARK: JSON

    /// One JSON object (see `heyan bench --help` for the members).
    public func json() -> String {
        var members: [String] = [
            "\"scenario\":\"\(plan.scenario.rawValue)\"",
            "\"target\":\"\(plan.target)\"",
            "\"connections\":\(plan.connections)",
            "\"threads\":\(plan.threads)",
            "\"duration\":\(number(plan.duration))",
        ]
        if let rate = plan.rate { members.append("\"rate\":\(number(rate))") }
        members.append("\"requests\":\(accounting.requests)")
        members.append("\"requestsPerSecond\":\(number(requestsPerSecond, places: 1))")
        if plan.scenario == .queue {
            members.append("\"roundTrips\":\(accounting.transactions)")
            members.append("\"roundTripsPerSecond\":\(number(transactionsPerSecond, places: 1))")
        }
        if plan.scenario == .handshake {
            members.append("\"handshakes\":\(accounting.handshakes)")
            members.append("\"handshakesPerSecond\":\(number(handshakesPerSecond, places: 1))")
        }
        if plan.scenario == .idle {
            members.append("\"connectionsOpen\":\(accounting.connectionsOpen)")
            members.append("\"connectionsClosedByServer\":\(accounting.connectionsClosedByServer)")
        }
        members.append("\"errors\":{" + errors.map { "\"\($0.0)\":\($0.1)" }.joined(separator: ",") + "}")
        members.append("\"statuses\":{" + statuses.map { "\"\($0.0)\":\($0.1)" }.joined(separator: ",") + "}")
        let latency = accounting.latency
        let percentiles = [("p50", 50.0), ("p90", 90.0), ("p99", 99.0), ("p999", 99.9)].map {
            "\"\($0.0)\":\(number(latency.percentile($0.1) / 1_000, places: 3))"
        }
        members.append(
            "\"latencyMs\":{" + percentiles.joined(separator: ",")
                + ",\"max\":\(number(Double(latency.maxMicroseconds) / 1_000, places: 3))"
                + ",\"mean\":\(number(latency.meanMicroseconds / 1_000, places: 3))}")
        if plan.rate != nil {
            members.append("\"late\":\(accounting.late)")
            members.append("\"dropped\":\(accounting.dropped)")
        }
        if !accounting.errorSamples.isEmpty {
            members.append("\"errorSamples\":[" + accounting.errorSamples.map(jsonString).joined(separator: ",") + "]")
        }
        return "{" + members.joined(separator: ",") + "}"
    }

    // MARK: table

    /// A readable summary.
    public func table() -> String {
        var lines: [String] = []
        func row(_ name: String, _ value: String) { lines.append(name.padding(to: 22) + value) }
        let loop = plan.scenario == .idle ? " (one request per connection, then silence)"
            : plan.rate.map { " (open loop, \(number($0)) /s)" } ?? " (closed loop)"
        row("scenario", plan.scenario.rawValue + loop)
        row("target", plan.target)
        let sockets = plan.scenario == .queue ? " users (2 connections each)" : ""
        row("connections", "\(plan.connections)\(sockets) on \(plan.threads) thread(s)")
        row("duration", "\(number(plan.duration)) s after \(number(plan.scenario == .idle ? 0 : plan.warmup)) s warmup")
        row("requests", plan.scenario == .idle ? "\(accounting.requests)" : "\(accounting.requests)  (\(number(requestsPerSecond, places: 1)) /s)")
        if plan.scenario == .queue {
            row("round trips", "\(accounting.transactions)  (\(number(transactionsPerSecond, places: 1)) /s)")
        }
        if plan.scenario == .handshake {
            row("handshakes", "\(accounting.handshakes)  (\(number(handshakesPerSecond, places: 1)) /s)")
        }
        if plan.scenario == .idle {
            row("connections open", "\(accounting.connectionsOpen) of \(plan.connections) at the end"
                + " (\(accounting.connectionsClosedByServer) closed by the server)")
        }
        let latency = accounting.latency
        let what = plan.scenario == .queue ? "round-trip latency" : "latency"
        row(what, "p50 \(ms(latency.percentile(50)))  p90 \(ms(latency.percentile(90)))  p99 \(ms(latency.percentile(99)))"
            + "  p99.9 \(ms(latency.percentile(99.9)))  max \(ms(Double(latency.maxMicroseconds)))"
            + "  mean \(ms(latency.meanMicroseconds))")
        if plan.rate != nil {
            row("late / dropped", "\(accounting.late) sent over 1 ms after their intended time (no idle connection, or the generator busy), \(accounting.dropped) due but never sent")
        }
        row("statuses", statuses.isEmpty ? "none" : statuses.map { "\($0.0): \($0.1)" }.joined(separator: ", "))
        row("errors", errors.isEmpty ? "none" : errors.map { "\($0.0): \($0.1)" }.joined(separator: ", "))
        for sample in accounting.errorSamples { row("", sample) }
        return lines.joined(separator: "\n")
    }

    private func ms(_ microseconds: Double) -> String { number(microseconds / 1_000, places: 3) + " ms" }
}

/// `value` with at most `places` decimals and no trailing zeros (JSON-safe: never NaN or inf).
func number(_ value: Double, places: Int = 3) -> String {
    guard value.isFinite else { return "0" }
    var scale = 1.0
    for _ in 0..<places { scale *= 10 }
    let rounded = (value * scale).rounded() / scale
    if rounded == rounded.rounded(), abs(rounded) < 1e15 { return String(Int64(rounded)) }
    var text = String(rounded)
    if text.contains("e") { text = String(Int64(rounded)) }
    return text
}

/// A JSON string literal.
func jsonString(_ text: String) -> String {
    var out = "\""
    for scalar in text.unicodeScalars {
        switch scalar {
        case "\"": out += "\\\""
        case "\\": out += "\\\\"
        case "\n": out += "\\n"
        case "\r": out += "\\r"
        case "\t": out += "\\t"
        default:
            if scalar.value < 0x20 {
                let hex = String(scalar.value, radix: 16)
                out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
            } else {
                out.unicodeScalars.append(scalar)
            }
        }
    }
    return out + "\""
}

extension String {
    fileprivate func padding(to width: Int) -> String {
        count >= width ? self + " " : self + String(repeating: " ", count: width - count)
    }
}
