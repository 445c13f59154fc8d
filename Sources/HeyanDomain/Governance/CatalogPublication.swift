/// The public list of certificate items (证明事项清单) the plans require on the government
/// portal: one table per owning department, then the cancelled items with their reasons
/// (清单之外无证明). ``html``, ``csv`` and ``json`` hold the same content.
public struct CatalogPublication: Sendable {
    public struct Row: Sendable, Equatable {
        public var department: String
        public var departmentName: String
        public var code: String
        public var name: String
        public var category: String
        public var method: String
        public var legalBasis: String
        /// 办理时限 in words: `3 个工作日`, `即时办结`, `当场办结`, or empty for a cancelled item.
        public var timeLimit: String
        public var cancellationReason: String
        public var cancellationDate: String
    }

    public let catalog: Catalog
    /// When this version took effect.
    public let effectiveAt: Millis?
    /// Owning departments (in directory order; an owner the directory does not know comes last
    /// under its code) with their listed, not cancelled, items.
    public let departmentTables: [(code: String, name: String, rows: [Row])]
    public let cancelled: [Row]

    public init(catalog: Catalog, departments: DepartmentDirectory?, effectiveAt: Millis? = nil) {
        self.catalog = catalog
        self.effectiveAt = effectiveAt
        func name(_ code: String) -> String { departments?[code]?.name.zh ?? code }
        func row(_ item: CertificateType) -> Row {
            let timeLimit: String =
                switch item.method {
                case .cancelled: ""
                case .commitment: "当场办结"
                case .dataSharing where item.fallback != .queue: "即时办结"
                default: item.timeLimitWorkingDays.map { "\($0) 个工作日" } ?? ""
                }
            return Row(
                department: item.owner ?? "", departmentName: item.owner.map(name) ?? "", code: item.code,
                name: item.name.zh, category: item.category.chineseLabel, method: item.method.chineseLabel,
                legalBasis: item.legalBasis, timeLimit: timeLimit,
                cancellationReason: item.cancellation?.reason ?? "",
                cancellationDate: item.cancellation?.effectiveDate.description ?? "")
        }
        var owners: [String] = (departments?.departments.map(\.code) ?? [])
        for item in catalog.items { if let owner = item.owner, !owners.contains(owner) { owners.append(owner) } }
        departmentTables = owners.compactMap { owner in
            let rows = catalog.items.filter { $0.owner == owner && $0.method != .cancelled }.map(row)
            return rows.isEmpty ? nil : (owner, name(owner), rows)
        }
        cancelled = catalog.items.filter { $0.method == .cancelled }.map(row)
    }

    // MARK: HTML

    /// A complete HTML5 document in UTF-8; every text from the catalog is escaped.
    public var html: String {
        var out = """
            <!DOCTYPE html>
            <html lang="zh-CN">
            <head>
            <meta charset="utf-8">
            <meta name="viewport" content="width=device-width, initial-scale=1">
            <title>证明事项清单（第 \(catalog.version) 版）</title>
            <style>
            body { font-family: sans-serif; margin: 2em; line-height: 1.5; }
            table { border-collapse: collapse; width: 100%; margin-bottom: 2em; }
            th, td { border: 1px solid #999; padding: 0.3em 0.6em; text-align: left; vertical-align: top; }
            th { background: #eee; }
            caption { text-align: left; font-weight: bold; padding: 0.3em 0; }
            </style>
            </head>
            <body>
            <h1>证明事项清单</h1>

            """
        var intro = "第 \(catalog.version) 版"
        if let effectiveAt { intro += "，自 \(Timestamp.rfc3339(effectiveAt)) 起施行" }
        intro += "。清单之外，不得索要证明。"
        out += "<p>\(Self.escape(intro))</p>\n"
        for table in departmentTables {
            out += "<section id=\"dept-\(Self.escape(table.code))\">\n"
            out += "<h2>\(Self.escape(table.name))</h2>\n<table>\n"
            out += "<caption>\(Self.escape(table.name))（\(Self.escape(table.code))）保留的证明事项</caption>\n"
            out += "<thead><tr><th>序号</th><th>证明事项</th><th>编码</th><th>类别</th><th>免提交方式</th><th>设定依据</th><th>办理时限</th></tr></thead>\n<tbody>\n"
            for (index, row) in table.rows.enumerated() {
                out += "<tr>" + ["\(index + 1)", row.name, row.code, row.category, row.method, row.legalBasis, row.timeLimit]
                    .map { "<td>\(Self.escape($0))</td>" }.joined() + "</tr>\n"
            }
            out += "</tbody>\n</table>\n</section>\n"
        }
        out += "<section id=\"cancelled\">\n<h2>已取消的证明事项</h2>\n<table>\n"
        out += "<caption>已取消的证明事项及取消理由</caption>\n"
        out += "<thead><tr><th>序号</th><th>证明事项</th><th>编码</th><th>原出证部门</th><th>取消理由</th><th>取消日期</th><th>依据</th></tr></thead>\n<tbody>\n"
        for (index, row) in cancelled.enumerated() {
            out += "<tr>" + ["\(index + 1)", row.name, row.code, row.departmentName, row.cancellationReason,
                             row.cancellationDate, row.legalBasis]
                .map { "<td>\(Self.escape($0))</td>" }.joined() + "</tr>\n"
        }
        out += "</tbody>\n</table>\n</section>\n</body>\n</html>\n"
        return out
    }

    /// Escapes text for HTML element content and quoted attribute values.
    public static func escape(_ text: String) -> String {
        var out = ""
        out.reserveCapacity(text.utf8.count)
        for character in text {
            switch character {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            case "'": out += "&#39;"
            default: out.append(character)
            }
        }
        return out
    }

    // MARK: CSV and JSON

    static let columns = [
        "status", "department", "departmentName", "code", "name", "category", "method", "legalBasis", "timeLimit",
        "cancellationReason", "cancellationDate",
    ]

    private var allRows: [(status: String, row: Row)] {
        departmentTables.flatMap { table in table.rows.map { ("listed", $0) } } + cancelled.map { ("cancelled", $0) }
    }

    private static func fields(_ status: String, _ row: Row) -> [String] {
        [status, row.department, row.departmentName, row.code, row.name, row.category, row.method, row.legalBasis,
         row.timeLimit, row.cancellationReason, row.cancellationDate]
    }

    /// One header line, then one line per item: listed ones by department, then cancelled ones.
    public var csv: String {
        CSVText.record(Self.columns) + allRows.map { CSVText.record(Self.fields($0.status, $0.row)) }.joined()
    }

    /// `{"version", "effectiveAt"?, "items": [{column: value}]}` with the CSV's columns.
    public var json: JSONValue {
        var fields: [(String, JSONValue)] = [("version", .int(Int64(catalog.version)))]
        if let effectiveAt { fields.append(("effectiveAt", .string(Timestamp.rfc3339(effectiveAt)))) }
        fields.append(
            ("items",
             .array(allRows.map { entry in
                .object(zip(Self.columns, Self.fields(entry.status, entry.row)).map { ($0, .string($1)) })
             })))
        return .object(fields)
    }
}
