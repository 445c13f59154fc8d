/// The `database` setting (`heyan.json`, `--database`) of the embedded SQLite store: one file,
/// named by a file path (a PostgreSQL store is named by a ``PostgresConnectionString`` instead).
///
/// A text that begins like a URI — an RFC 3986 scheme and a colon, as in
/// `postgresql://user@host:5432/heyan`, `mysql://…` or SQLite's own `file:heyan.db` — is refused,
/// never taken as a relative path (which would create a folder named `postgresql:` and serve an
/// empty database from it). So is SQLite's special name `:memory:`, which is not a file. A file
/// whose name really begins like a scheme is written with a leading `./` (`./backup:2026.sqlite`).
/// docs/storage.md, "Which database".
public struct DatabaseAddress: Sendable, Hashable, CustomStringConvertible {
    /// The SQLite file, as given.
    public let path: String

    /// Accepts a file path; refuses an empty text, `:memory:` and anything with a URI scheme.
    public init(parsing text: String) throws(DatabaseAddressError) {
        guard !text.isEmpty else {
            throw DatabaseAddressError(code: "database.empty", message: "the database path is empty")
        }
        if text == ":memory:" {
            throw DatabaseAddressError(
                code: "database.memory",
                message: "':memory:' is SQLite's in-memory database, not a file: heyan's store must be durable; "
                    + "give a file path (write ./:memory: for a file of that name)")
        }
        if let scheme = Self.scheme(of: text) {
            let shown = Self.redacted(text)
            switch scheme.lowercased() {
            case "postgres", "postgresql":
                throw DatabaseAddressError(
                    code: "database.unsupported",
                    message: "'\(shown)' is a PostgreSQL address, not an SQLite file path: set \"store\": "
                        + "\"postgresql\" (or leave store out) to use it as a PostgreSQL connection string")
            default:
                throw DatabaseAddressError(
                    code: "database.unsupported",
                    message: "'\(shown)' is a URI with the scheme '\(scheme)', not a file path: heyan "
                        + "supports an embedded SQLite file, named by its path, or a postgresql:// database (write ./\(shown) for a file whose "
                        + "name begins like that)")
            }
        }
        path = text
    }

    public var description: String { path }

    /// The RFC 3986 scheme `text` begins with (`ALPHA *( ALPHA / DIGIT / "+" / "-" / "." ) ":"`), if any.
    static func scheme(of text: String) -> String? {
        var scheme = ""
        for scalar in text.unicodeScalars {
            if scalar == ":" { return scheme.isEmpty ? nil : scheme }
            let isLetter = ("a"..."z").contains(scalar) || ("A"..."Z").contains(scalar)
            let isOther = ("0"..."9").contains(scalar) || scalar == "+" || scalar == "-" || scalar == "."
            guard isLetter || (!scheme.isEmpty && isOther) else { return nil }
            scheme.unicodeScalars.append(scalar)
        }
        return nil
    }

    /// `text` with a password in the user information and any query left out, so a refused
    /// address can be printed and logged: `postgresql://heyan:***@db:5432/heyan?…`.
    static func redacted(_ text: String) -> String {
        var shown = text
        if let question = shown.firstIndex(of: "?") { shown = String(shown[..<question]) + "?…" }
        guard let colon = shown.firstIndex(of: ":"), shown[colon...].hasPrefix("://") else { return shown }
        let authorityStart = shown.index(colon, offsetBy: 3)
        let authorityEnd = shown[authorityStart...].firstIndex(where: { $0 == "/" || $0 == "?" }) ?? shown.endIndex
        let authority = shown[authorityStart..<authorityEnd]
        guard let at = authority.lastIndex(of: "@") else { return shown }
        let userInformation = authority[..<at]
        guard let passwordColon = userInformation.firstIndex(of: ":") else { return shown }
        return String(shown[..<passwordColon]) + ":***" + String(shown[at...])
    }
}

/// A `database` setting heyan refuses (``DatabaseAddress``).
public struct DatabaseAddressError: HeyanError, Equatable {
    /// `database.unsupported` (a URI, such as a PostgreSQL address), `database.memory`, `database.empty`.
    public let code: String
    public let message: String
}
