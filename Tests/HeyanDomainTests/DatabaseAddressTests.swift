import Foundation
import HeyanDomain
import Testing

/// `database` is a file path; a URI is refused, never read as a relative path (issue 10, finding 9).
@Suite struct DatabaseAddressTests {
    @Test(arguments: [
        "var/heyan.sqlite", "/var/lib/heyan/heyan.sqlite", "../var/heyan.sqlite", "heyan.sqlite", "./postgresql:/x",
        "./:memory:", "./file:heyan.db", "db/a:b.sqlite", "1abc:x", "_x:y", "-:x", "数据库:1",
    ])
    func filePathsAreAccepted(_ text: String) throws {
        #expect(try DatabaseAddress(parsing: text).path == text)
    }

    @Test(arguments: [
        ("postgresql://heyan@db.example:5432/heyan", "is a PostgreSQL address, not an SQLite file path"),
        ("postgres://db/heyan", "is a PostgreSQL address, not an SQLite file path"),
        ("PostgreSQL://db/heyan", "is a PostgreSQL address, not an SQLite file path"),
        ("mysql://root@localhost/heyan", "a URI with the scheme 'mysql'"),
        ("file:heyan.sqlite", "a URI with the scheme 'file'"),
        ("sqlite:///var/heyan.sqlite", "a URI with the scheme 'sqlite'"),
        ("c:heyan", "a URI with the scheme 'c'"),
        (":memory:", "in-memory database"),
        ("", "empty"),
    ])
    func urisAreRefused(_ text: String, _ expected: String) {
        do {
            _ = try DatabaseAddress(parsing: text)
            Issue.record("'\(text)' was accepted")
        } catch {
            #expect(error.message.contains(expected), "\(error.message)")
        }
    }

    @Test func passwordsAndQueriesAreNotRepeated() {
        for text in [
            "postgresql://heyan:s3cret@db:5432/heyan", "postgresql://db/heyan?password=s3cret",
            "mysql://root:s3cret@localhost", "postgresql://heyan:s3cret@db",
        ] {
            do {
                _ = try DatabaseAddress(parsing: text)
                Issue.record("'\(text)' was accepted")
            } catch {
                #expect(!error.message.contains("s3cret"), "\(error.message)")
                #expect(error.code == "database.unsupported")
            }
        }
    }

    /// `schemas/heyan.config.schema.json` refuses the same texts as the decoder.
    @Test func schemaPatternAgrees() throws {
        let service = try SchemaAgreementTests.schema("schemas/heyan.config.schema.json")
        let pattern = try #require(SchemaAgreementTests.value(service, "properties", "database", "pattern") as? String)
        let regex = try NSRegularExpression(pattern: pattern)
        for sample in [
            "var/heyan.sqlite", "/abs/heyan.sqlite", "./postgresql:/x", "postgresql://h/db", "postgres://h/db",
            "file:x", ":memory:", "./:memory:", "a+b.c-d:x", "1abc:x", "db/a:b", "c:x", "postgresql://u:pw@h/db",
            "postgres://u@h/db?password=pw", "PostgreSQL://u@h:5432/db?sslmode=verify-full", "mysql://h/db",
        ] {
            let schemaAccepts = regex.firstMatch(in: sample, range: NSRange(sample.startIndex..., in: sample)) != nil
            #expect(schemaAccepts == ((try? StoreConfiguration(parsing: sample)) != nil), "'\(sample)'")
        }
    }

    @Test func storeConfigurationNamesTheEngine() throws {
        #expect(try StoreConfiguration(parsing: "var/heyan.sqlite") == .sqlite(try DatabaseAddress(parsing: "var/heyan.sqlite")))
        let uri = "postgresql://heyan@db1:5432,db2:5432/heyan?target_session_attrs=read-write&sslmode=verify-full"
        #expect(try StoreConfiguration(parsing: uri).engine == .postgresql)
        #expect(try StoreConfiguration(parsing: uri).description == uri)
        let pairs = "host=db1,db2 port=5432,5432 dbname=heyan user=heyan target_session_attrs=read-write sslmode=verify-full"
        #expect(try StoreConfiguration(engine: .postgresql, database: pairs) == .postgresql(try PostgresConnectionString(parsing: pairs)))
        // Without store: postgresql, key=value text is an SQLite file name; with store: sqlite a URI is refused.
        #expect(try StoreConfiguration(engine: nil, database: pairs).engine == .sqlite)
        #expect(throws: DatabaseAddressError.self) { try StoreConfiguration(engine: .sqlite, database: uri) }
        #expect(throws: DatabaseAddressError.self) { try StoreConfiguration(engine: .postgresql, database: "/var/heyan.sqlite") }
    }

    @Test(arguments: [
        "postgresql://heyan:s3cret@db:5432/heyan", "postgres://db/heyan?password=s3cret",
        "host=db user=heyan password=s3cret dbname=heyan", "host=db PASSWORD=s3cret",
    ])
    func passwordsInConnectionStringsAreRefused(_ text: String) {
        do {
            _ = try StoreConfiguration(engine: .postgresql, database: text)
            Issue.record("'\(text)' was accepted")
        } catch {
            #expect(error.code == "database.password")
            #expect(!error.message.contains("s3cret"), "\(error.message)")
            #expect(error.message.contains("PGPASSFILE"))
        }
    }
}
