/// A horizontal bar chart drawn as inline SVG on the server: the statistics pages' answer times,
/// overdue counts and exemption table need no script and print as they look. Labels are escaped.
public struct BarChart: Sendable, Equatable {
    public struct Bar: Sendable, Equatable {
        public var label: String
        public var value: Double

        public init(_ label: String, _ value: Double) {
            self.label = label
            self.value = value
        }
    }

    public var title: String
    public var unit: String
    public var bars: [Bar]

    public init(title: String, unit: String, bars: [Bar]) {
        self.title = title
        self.unit = unit
        self.bars = bars
    }

    /// Layout in SVG user units.
    static let labelWidth = 180
    static let barArea = 360
    static let rowHeight = 22

    /// The value at the right edge of the bar area: the largest value rounded up to 1, 2 or 5 × 10^n.
    public var scaleMaximum: Double {
        let largest = bars.map(\.value).max() ?? 0
        guard largest > 0 else { return 1 }
        var magnitude = 1.0
        while magnitude * 10 <= largest { magnitude *= 10 }
        while magnitude > largest { magnitude /= 10 }
        for step in [1.0, 2.0, 5.0, 10.0] where step * magnitude >= largest { return step * magnitude }
        return 10 * magnitude
    }

    public var html: HTML {
        let width = Self.labelWidth + Self.barArea + 80
        let height = Self.rowHeight * bars.count + 30
        let maximum = scaleMaximum
        var rows: [HTML] = []
        for (index, bar) in bars.enumerated() {
            let y = 24 + index * Self.rowHeight
            let length = Int((max(0, bar.value) / maximum * Double(Self.barArea)).rounded())
            let value = Self.format(bar.value)
            rows.append(
                """
                <g><text x="\(Self.labelWidth - 6)" y="\(y + 14)" text-anchor="end">\(bar.label)</text>\
                <rect x="\(Self.labelWidth)" y="\(y + 3)" width="\(length)" height="\(Self.rowHeight - 6)" class="bar"/>\
                <text x="\(Self.labelWidth + length + 4)" y="\(y + 14)">\(value) \(unit)</text></g>
                """)
        }
        return """
            <svg xmlns="http://www.w3.org/2000/svg" class="chart" viewBox="0 0 \(width) \(height)" \
            width="\(width)" height="\(height)" role="img"><title>\(title)</title>\
            <text x="0" y="14" class="chart-title">\(title)</text>\(rows)</svg>
            """
    }

    /// At most one decimal, no trailing `.0`.
    static func format(_ value: Double) -> String {
        let tenths = Int((value * 10).rounded())
        return tenths % 10 == 0 ? String(tenths / 10) : "\(tenths / 10).\(abs(tenths % 10))"
    }
}
