/// One value of a statistics table.
public enum StatisticsCell: Sendable, Equatable {
    case text(String)
    case integer(Int64)
    case number(Double)
    /// No value (a median of no answers).
    case empty

    var json: JSONValue {
        switch self {
        case .text(let text): .string(text)
        case .integer(let value): .int(value)
        case .number(let value): .number(value)
        case .empty: .null
        }
    }

    var csv: String {
        switch self {
        case .text(let text): text
        case .integer(let value): String(value)
        case .number(let value):
            String(decoding: { var buffer: [UInt8] = []; JSONText.appendDouble(value, to: &buffer); return buffer }(), as: UTF8.self)
        case .empty: ""
        }
    }
}

/// One table of the statistics: a name clients rely on, a title for people, fixed columns.
///
/// The report is a list of sections so that a new kind of count (commitments and spot checks)
/// is one more section, without changing the others.
public struct StatisticsSection: Sendable, Equatable {
    /// Stable: `requests`, `commitments`, `requesters`, `complaints`, `exemptions`, `cancellations`, `totals`.
    public var name: String
    public var title: String
    public var columns: [String]
    /// Each as long as `columns`.
    public var rows: [[StatisticsCell]]

    public init(name: String, title: String, columns: [String], rows: [[StatisticsCell]]) {
        precondition(rows.allSatisfy { $0.count == columns.count }, "every row has one cell per column")
        self.name = name
        self.title = title
        self.columns = columns
        self.rows = rows
    }
}

/// `GET /v1/stats` and `heyan stats`: what heyan did, per department and certificate type.
public struct StatisticsReport: Sendable, Equatable {
    public var generatedAt: Millis
    public var window: StatisticsWindow
    /// The catalog version the exemption table and totals describe.
    public var catalogVersion: Int
    public var sections: [StatisticsSection]

    public init(generatedAt: Millis, window: StatisticsWindow, catalogVersion: Int, sections: [StatisticsSection]) {
        self.generatedAt = generatedAt
        self.window = window
        self.catalogVersion = catalogVersion
        self.sections = sections
    }

    public func section(_ name: String) -> StatisticsSection? { sections.first { $0.name == name } }

    /// `{"generatedAt", "from"?, "to"?, "catalogVersion", "sections": [{"name", "title", "rows": [{column: value}]}]}`.
    public var json: JSONValue {
        var fields: [(String, JSONValue)] = [("generatedAt", .string(Timestamp.rfc3339(generatedAt)))]
        if let from = window.from { fields.append(("from", .string(Timestamp.rfc3339(from)))) }
        if let to = window.to { fields.append(("to", .string(Timestamp.rfc3339(to)))) }
        fields.append(("catalogVersion", .int(Int64(catalogVersion))))
        fields.append(
            ("sections",
             .array(sections.map { section in
                .object([
                    ("name", .string(section.name)),
                    ("title", .string(section.title)),
                    ("columns", .array(section.columns.map(JSONValue.string))),
                    ("rows", .array(section.rows.map { row in .object(zip(section.columns, row.map(\.json)).map { ($0, $1) }) })),
                ])
             })))
        return .object(fields)
    }

    /// Every section as a CSV table: a header `section,<columns…>`, its rows, and an empty line
    /// before the next section.
    public var csv: String {
        var text = ""
        for (index, section) in sections.enumerated() {
            if index > 0 { text += "\r\n" }
            text += CSVText.record(["section"] + section.columns)
            for row in section.rows { text += CSVText.record([section.name] + row.map(\.csv)) }
        }
        return text
    }
}

/// Nearest-rank percentiles: the smallest value with at least `p` of the values at or below it.
public enum Percentile {
    /// `sorted` ascending; nil when empty. `p` in (0, 1].
    public static func nearestRank(_ sorted: [Millis], _ p: Double) -> Millis? {
        guard !sorted.isEmpty else { return nil }
        let rank = Int((p * Double(sorted.count)).rounded(.up))
        return sorted[min(max(rank, 1), sorted.count) - 1]
    }
}
