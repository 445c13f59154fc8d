/// Which store heyan opens: the `database` setting (`heyan.json`, `--database`), parsed.
///
/// One case per engine this build supports; an engine added later (`.postgresql(conninfo)`) is a
/// new case here and a new branch of the store factory (`StoreFactory` in HeyanStorage), and
/// nothing above the store changes. docs/storage.md, "Which database".
public enum StoreConfiguration: Sendable, Hashable, CustomStringConvertible {
    /// The embedded SQLite file at this path.
    case sqlite(DatabaseAddress)

    /// Parses the `database` setting (``DatabaseAddress``: a file path; a URI is refused).
    public init(parsing text: String) throws(DatabaseAddressError) {
        self = .sqlite(try DatabaseAddress(parsing: text))
    }

    /// For logs: the file path (a future network address would be shown without its password).
    public var description: String {
        switch self {
        case .sqlite(let address): address.path
        }
    }
}
