/// Which store heyan opens: the `store` and `database` settings (`heyan.json`, `--database`), parsed.
///
/// One case per engine; each is a branch of the store factory (`StoreFactory` in HeyanStorage), and
/// nothing above the store changes with the engine. docs/storage.md, "Which database";
/// docs/postgresql.md, "Configuration".
public enum StoreConfiguration: Sendable, Hashable, CustomStringConvertible {
    /// The embedded SQLite file at this path.
    case sqlite(DatabaseAddress)
    /// A PostgreSQL database, named by a libpq connection string (``PostgresConnectionString``).
    case postgresql(PostgresConnectionString)

    /// The engines, as `heyan.json`'s `store` spells them.
    public enum Engine: String, Sendable, Hashable, Codable, CaseIterable {
        case sqlite
        case postgresql
    }

    /// Parses the `database` setting with no `store` given: a `postgresql://` or `postgres://` URI is
    /// a PostgreSQL database; anything else must be an SQLite file path (``DatabaseAddress``).
    public init(parsing text: String) throws(DatabaseAddressError) {
        if let scheme = DatabaseAddress.scheme(of: text)?.lowercased(), scheme == "postgresql" || scheme == "postgres" {
            self = .postgresql(try PostgresConnectionString(parsing: text))
        } else {
            self = .sqlite(try DatabaseAddress(parsing: text))
        }
    }

    /// Parses `database` for the engine `store` names; nil infers it as ``init(parsing:)`` does.
    /// With `postgresql`, `database` is a libpq connection string: a URI or `key=value` pairs.
    public init(engine: Engine?, database text: String) throws(DatabaseAddressError) {
        switch engine {
        case nil: try self.init(parsing: text)
        case .sqlite: self = .sqlite(try DatabaseAddress(parsing: text))
        case .postgresql: self = .postgresql(try PostgresConnectionString(parsing: text))
        }
    }

    public var engine: Engine {
        switch self {
        case .sqlite: .sqlite
        case .postgresql: .postgresql
        }
    }

    /// For logs: the file path, or the connection string (which never holds a password).
    public var description: String {
        switch self {
        case .sqlite(let address): address.path
        case .postgresql(let conninfo): conninfo.text
        }
    }
}

/// A libpq connection string for heyan's PostgreSQL store: a `postgresql://` / `postgres://` URI
/// or `key=value` pairs (`host=db1,db2 port=5432,5432 dbname=heyan user=heyan
/// target_session_attrs=read-write sslmode=verify-full`), passed to libpq unchanged.
///
/// A password is refused (`database.password`): heyan's files hold none. The password comes from
/// libpq's password file (`~/.pgpass`, `PGPASSFILE`) or is replaced by a client certificate
/// (`sslcert`/`sslkey`, `sslmode=verify-full`). docs/postgresql.md, "Configuration".
public struct PostgresConnectionString: Sendable, Hashable, CustomStringConvertible {
    public let text: String

    public init(parsing text: String) throws(DatabaseAddressError) {
        let trimmed = text.trimmingSpaces()
        guard !trimmed.isEmpty else {
            throw DatabaseAddressError(code: "database.empty", message: "the PostgreSQL connection string is empty")
        }
        if let scheme = DatabaseAddress.scheme(of: trimmed)?.lowercased() {
            guard scheme == "postgresql" || scheme == "postgres", trimmed.dropFirst(scheme.count).hasPrefix("://") else {
                throw DatabaseAddressError(
                    code: "database.unsupported",
                    message: "'\(DatabaseAddress.redacted(trimmed))' is not a PostgreSQL connection string: "
                        + "give a postgresql:// URI or libpq key=value pairs")
            }
            if Self.uriHasPassword(trimmed) { throw Self.passwordRefused(DatabaseAddress.redacted(trimmed)) }
        } else {
            let pairs = trimmed.split(whereSeparator: { $0 == " " || $0 == "\t" || $0 == "\n" })
            guard pairs.allSatisfy({ $0.contains("=") }) else {
                throw DatabaseAddressError(
                    code: "database.unsupported",
                    message: "'\(trimmed)' is neither a postgresql:// URI nor libpq key=value pairs")
            }
            if pairs.contains(where: { $0.lowercased().hasPrefix("password=") }) {
                throw Self.passwordRefused("a key=value string with password=")
            }
        }
        if trimmed.lowercased().contains("password=") { throw Self.passwordRefused("the connection string") }
        self.text = trimmed
    }

    public var description: String { text }

    private static func uriHasPassword(_ text: String) -> Bool {
        DatabaseAddress.redacted(text).contains(":***@")
    }

    private static func passwordRefused(_ shown: String) -> DatabaseAddressError {
        DatabaseAddressError(
            code: "database.password",
            message: "\(shown) holds a password: heyan keeps no password in its own files; put it in libpq's "
                + "password file (~/.pgpass or PGPASSFILE) or use a client certificate (sslcert, sslkey)")
    }
}

extension String {
    fileprivate func trimmingSpaces() -> String {
        var scalars = Substring(self)
        while let first = scalars.first, first.isWhitespace { scalars = scalars.dropFirst() }
        while let last = scalars.last, last.isWhitespace { scalars = scalars.dropLast() }
        return String(scalars)
    }
}
