import Synchronization

/// One label of a ``CounterGrid``: its name and the values it may take, fixed when the service
/// starts (from configuration, never from requests). Any other value is counted under `fallback`,
/// so a label's cardinality is bounded whatever a client sends.
struct MetricLabel: Sendable {
    let name: String
    /// The values in render order; `fallback`, if any, last.
    let values: [String]
    private let positions: [String: Int]
    private let fallbackPosition: Int?

    init(_ name: String, values: some Sequence<String>, fallback: String? = nil) {
        var unique: [String] = []
        var positions: [String: Int] = [:]
        for value in values where positions[value] == nil && value != fallback {
            positions[value] = unique.count
            unique.append(value)
        }
        if let fallback {
            positions[fallback] = unique.count
            unique.append(fallback)
        }
        self.name = name
        self.values = unique
        self.positions = positions
        self.fallbackPosition = fallback.map { _ in unique.count - 1 }
    }

    /// Where `value` is counted; nil for an unknown value of a label without a fallback.
    func position(of value: String) -> Int? { positions[value] ?? fallbackPosition }
}

/// A counter that can sit in an array (``Atomic`` cannot be copied).
final class AtomicCounter: Sendable {
    let value = Atomic<Int>(0)
}

/// A counter family over every combination of a few bounded labels: one relaxed atomic add per
/// increment, no lock, no allocation. The cells are made when the service starts.
final class CounterGrid: Sendable {
    let name: String
    let help: String
    let labels: [MetricLabel]
    private let cells: [AtomicCounter]

    init(_ name: String, help: String, labels: [MetricLabel]) {
        self.name = name
        self.help = help
        self.labels = labels
        cells = (0..<labels.reduce(1) { $0 * $1.values.count }).map { _ in AtomicCounter() }
    }

    func increment(_ first: String, _ second: String) {
        precondition(labels.count == 2)
        guard let a = labels[0].position(of: first), let b = labels[1].position(of: second) else { return }
        cells[a * labels[1].values.count + b].value.add(1, ordering: .relaxed)
    }

    func increment(_ first: String, _ second: String, _ third: String) {
        precondition(labels.count == 3)
        guard let a = labels[0].position(of: first), let b = labels[1].position(of: second),
            let c = labels[2].position(of: third)
        else { return }
        cells[(a * labels[1].values.count + b) * labels[2].values.count + c].value.add(1, ordering: .relaxed)
    }

    /// HELP, TYPE, and one sample per combination counted at least once (a series appears with
    /// its first event; absent series read as zero in `sum` and `rate`).
    func render(into out: inout String) {
        out += "# HELP \(name) \(help)\n# TYPE \(name) counter\n"
        for (index, cell) in cells.enumerated() {
            let count = cell.value.load(ordering: .relaxed)
            guard count > 0 else { continue }
            var rest = index
            var pairs: [String] = []
            for label in labels.reversed() {
                pairs.append("\(label.name)=\"\(MetricText.escape(label.values[rest % label.values.count]))\"")
                rest /= label.values.count
            }
            out += "\(name){\(pairs.reversed().joined(separator: ","))} \(count)\n"
        }
    }
}

/// Bucket counts of a Prometheus histogram (not thread-safe: keep it behind a `Mutex` or on one
/// thread).
struct HistogramCounts: Sendable {
    /// Upper bounds of the buckets, ascending; `+Inf` is implicit.
    let bounds: [Double]
    /// Per bucket, not cumulative; the last one is `+Inf`.
    private(set) var buckets: [Int]
    private(set) var sum: Double = 0
    private(set) var count = 0

    init(bounds: [Double]) {
        self.bounds = bounds
        buckets = [Int](repeating: 0, count: bounds.count + 1)
    }

    mutating func observe(_ value: Double) {
        var bucket = bounds.count
        for (index, bound) in bounds.enumerated() where value <= bound {
            bucket = index
            break
        }
        buckets[bucket] += 1
        sum += value
        count += 1
    }

    /// `_bucket` (cumulative, `le`), `_sum` and `_count` samples, with HELP and TYPE.
    func render(name: String, help: String, into out: inout String) {
        out += "# HELP \(name) \(help)\n# TYPE \(name) histogram\n"
        var cumulative = 0
        for (index, bound) in bounds.enumerated() {
            cumulative += buckets[index]
            out += "\(name)_bucket{le=\"\(bound)\"} \(cumulative)\n"
        }
        cumulative += buckets[bounds.count]
        out += "\(name)_bucket{le=\"+Inf\"} \(cumulative)\n"
        out += "\(name)_sum \(sum)\n"
        out += "\(name)_count \(count)\n"
    }
}

enum MetricText {
    /// A label value in the text format: backslash, double quote and line feed escaped.
    static func escape(_ value: String) -> String {
        guard value.utf8.contains(where: { $0 == 0x5C || $0 == 0x22 || $0 == 0x0A }) else { return value }
        var escaped = ""
        for character in value {
            switch character {
            case "\\": escaped += "\\\\"
            case "\"": escaped += "\\\""
            case "\n": escaped += "\\n"
            default: escaped.append(character)
            }
        }
        return escaped
    }
}
