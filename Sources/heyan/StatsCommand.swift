import HeyanDomain
import HeyanStorage

/// `heyan stats --database PATH --format csv|json [--from T] [--to T] [--config-dir DIR] [--out FILE]`:
/// the statistics of `GET /v1/stats`, read from a database file (docs/statistics.md).
///
/// The exemption table and totals describe the catalog version in effect now in the database, or
/// `DIR/catalog.json` when the database holds none yet.
enum StatsCommand {
    static let usage = """
        usage: heyan stats --database PATH --format csv|json [--from RFC3339] [--to RFC3339] [--config-dir DIR] [--out FILE]
        """

    static func run(arguments: [String]) throws -> Int32 {
        let options: CommandLineOptions
        do {
            options = try CommandLineOptions(
                arguments, valued: ["--database", "--format", "--from", "--to", "--config-dir", "--out"])
        } catch {
            print("heyan stats: \(error)\n\(usage)")
            return 2
        }
        guard let path = options["--database"], let format = options["--format"], ["csv", "json"].contains(format),
            options.positional.isEmpty
        else {
            print(usage)
            return 2
        }
        if let refusal = GovernanceCommandSupport.refusal(ofDatabase: path) {
            print("heyan stats: \(refusal)")
            return 2
        }
        var window = StatisticsWindow()
        for name in ["--from", "--to"] {
            guard let text = options[name] else { continue }
            guard let value = Timestamp.parse(text) else {
                print("heyan stats: \(name) must be an RFC 3339 time such as 2026-11-23T09:00:00Z")
                return 2
            }
            if name == "--from" { window.from = value } else { window.to = value }
        }
        let store = try GovernanceCommandSupport.openStore(path).store
        defer { store.close() }
        let now = SystemClock().now()
        let catalog =
            try GovernanceCommandSupport.storedVersion(store, number: nil, now: now)?.catalog
            ?? GovernanceCommandSupport.configuredCatalog(configDirectory: options["--config-dir"] ?? "config")
        let report = StatisticsAssembler.report(
            data: try store.statisticsData(window: window), catalog: catalog, window: window, generatedAt: now)
        let text = format == "csv" ? report.csv : String(decoding: report.json.jsonBytes(), as: UTF8.self) + "\n"
        try GovernanceCommandSupport.emit(text, to: options["--out"])
        return 0
    }
}
