import HeyanPostgres
import Testing

@Suite("PostgresError codes and classification")
struct PostgresErrorTests {
    @Test("SQLSTATEs map to named codes, then to their class, then to the raw state")
    func codes() {
        #expect(PostgresError.code(forSQLState: "23505") == "postgres.unique-violation")
        #expect(PostgresError.code(forSQLState: "40001") == "postgres.serialization-failure")
        #expect(PostgresError.code(forSQLState: "23999") == "postgres.integrity-constraint-violation")
        #expect(PostgresError.code(forSQLState: "08006") == "postgres.connection-exception")
        #expect(PostgresError.code(forSQLState: "P0001") == "postgres.sqlstate-P0001")
        #expect(PostgresError(sqlState: "40P01", message: "deadlock").code == "postgres.deadlock-detected")
        #expect(PostgresError(message: "no state").code == "postgres.error")
    }

    @Test(
        "failures of the moment are transient, failures of the request are not",
        arguments: [
            ("57P01", true), ("57P02", true), ("57P03", true), ("40001", true), ("40P01", true), ("25006", true),
            ("55P03", true), ("57014", true), ("08006", true), ("08001", true), ("53300", true), ("53100", true),
            ("58030", true), ("23505", false), ("23503", false), ("42601", false), ("42P01", false),
            ("22P02", false), ("25P02", false), ("XX000", false), ("P0001", false),
        ])
    func transient(state: String, expected: Bool) {
        #expect(PostgresError(sqlState: state, message: "m").isTransient == expected)
    }

    @Test("client-side failures: lost and unreachable are transient, an in-doubt commit is flagged")
    func clientSide() {
        for code in ["postgres.cannot-connect", "postgres.connection-lost", "postgres.closed"] {
            #expect(PostgresError(code: code, message: "m").isTransient)
            #expect(!PostgresError(code: code, message: "m").isCommitInDoubt)
        }
        for code in ["postgres.commit-in-doubt", "postgres.commit-unacknowledged"] {
            #expect(PostgresError(code: code, message: "m").isCommitInDoubt)
        }
        #expect(!PostgresError(code: "postgres.unexpected-null", message: "m").isTransient)
        #expect(!PostgresError(code: "postgres.schema-too-new", message: "m").isTransient)
    }

    @Test("the message names state, detail and SQL; long SQL is cut")
    func message() {
        let error = PostgresError(
            sqlState: "23505", message: "duplicate key", detail: "Key (id)=(1) already exists.",
            sql: "INSERT " + String(repeating: "x", count: 500))
        #expect(error.description.hasPrefix("postgres.unique-violation: duplicate key (SQLSTATE 23505); Key (id)=(1)"))
        #expect(error.sql?.count == PostgresError.maximumSQLLength + 1)
    }
}
