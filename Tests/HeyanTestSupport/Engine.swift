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
        case .postgresql:
            // A URI, so the offline tools' `--database` (which infers the engine) reach it too.
            let cluster = try PostgresCluster.shared()
            let schema = try cluster.createSchema(prefix: "heyan").schema
            return ("postgresql", "postgresql://postgres@127.0.0.1:\(cluster.port)/postgres?options=-csearch_path%3D\(schema)")
        }
    }
}
