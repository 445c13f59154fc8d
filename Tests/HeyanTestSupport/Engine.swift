/// The store engines the shared suites run against (docs/postgresql.md, "Tests": one behaviour,
/// proven twice). PostgreSQL needs the throwaway cluster, which needs root; without it the suites
/// run on SQLite alone and say why once.
public enum Engine: String, Sendable, CustomStringConvertible {
    case sqlite, postgresql
    public var description: String { rawValue }

    /// Every engine these tests can use here.
    public static let all: [Engine] = {
        if let reason = PostgresCluster.unavailableReason {
            print("store suites: PostgreSQL skipped: \(reason)")
            return [.sqlite]
        }
        return [.sqlite, .postgresql]
    }()

    /// The `store` and `database` settings of a fresh store of this engine: SQLite at `sqlitePath`,
    /// PostgreSQL in a new schema on the shared throwaway cluster.
    public func settings(sqlitePath: String = "var/heyan.sqlite") throws -> (store: String, database: String) {
        switch self {
        case .sqlite: return ("sqlite", sqlitePath)
        case .postgresql: return ("postgresql", try PostgresCluster.shared().createSchema(prefix: "heyan").conninfo)
        }
    }
}
