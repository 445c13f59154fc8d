import HeyanDomain
import HeyanStorage

/// `heyan catalog publish --format html|csv|json [--database PATH [--version N]] [--config-dir DIR]
/// [--out FILE]`: the public list of certificate items (清单之外无证明) for the government portal.
///
/// From `--database`, the version in effect now (or `--version N`); otherwise `DIR/catalog.json`.
/// Department names come from `DIR/departments.json` (`DIR` defaults to `config`); without it the
/// tables are headed by department codes.
enum CatalogCommand {
    static let usage = """
        usage: heyan catalog publish --format html|csv|json [--database PATH [--version N]] [--config-dir DIR] [--out FILE]
        """

    static func run(arguments: [String]) throws -> Int32 {
        guard arguments.first == "publish" else {
            print(usage)
            return 2
        }
        let options: CommandLineOptions
        do {
            options = try CommandLineOptions(
                Array(arguments.dropFirst()), valued: ["--format", "--database", "--version", "--config-dir", "--out"])
        } catch {
            print("heyan catalog publish: \(error)\n\(usage)")
            return 2
        }
        guard let format = options["--format"], ["html", "csv", "json"].contains(format), options.positional.isEmpty else {
            print(usage)
            return 2
        }
        let versionNumber = options["--version"].flatMap { Int($0) }
        if options["--version"] != nil && (versionNumber == nil || options["--database"] == nil) {
            print("heyan catalog publish: --version N needs --database and a number\n\(usage)")
            return 2
        }
        if let path = options["--database"], let refusal = GovernanceCommandSupport.refusal(ofDatabase: path) {
            print("heyan catalog publish: \(refusal)")
            return 2
        }
        let configDirectory = options["--config-dir"] ?? "config"
        let departments = try GovernanceCommandSupport.departments(configDirectory: configDirectory)

        let catalog: Catalog
        var effectiveAt: Millis?
        if let path = options["--database"] {
            let store = try GovernanceCommandSupport.openStore(path).store
            defer { store.close() }
            guard let version = try GovernanceCommandSupport.storedVersion(store, number: versionNumber, now: SystemClock().now()) else {
                print("heyan catalog publish: \(path) holds no catalog version\(versionNumber.map { " \($0)" } ?? "")")
                return 1
            }
            catalog = version.catalog
            effectiveAt = version.effectiveAt
        } else {
            catalog = try GovernanceCommandSupport.configuredCatalog(configDirectory: configDirectory)
        }

        let publication = CatalogPublication(catalog: catalog, departments: departments, effectiveAt: effectiveAt)
        let text =
            switch format {
            case "html": publication.html
            case "csv": publication.csv
            default: String(decoding: publication.json.jsonBytes(), as: UTF8.self) + "\n"
            }
        try GovernanceCommandSupport.emit(text, to: options["--out"])
        return 0
    }
}
