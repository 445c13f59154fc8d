import CSQLite
import HeyanTestSupport
import Testing

@testable import HeyanStorage

@Suite("Migration 12: CHECK constraints without IN lists admit the same values")
struct CheckConstraintMigrationTests {
    let directory = TemporaryDirectory()

    /// `CREATE TABLE` text of `table` as stored.
    private func definition(_ table: String, on db: SQLiteConnection) throws -> String {
        try #require(
            try db.fetchScalar("SELECT sql FROM sqlite_schema WHERE type = 'table' AND name = ?1", arguments: [.text(table)])?
                .textValue)
    }

    private func insertVerification(_ id: String, outcome: SQLiteValue, on db: SQLiteConnection) throws {
        try db.execute(
            """
            INSERT INTO verifications (id, certificate_type, method, requester, owner, matter_code, purpose,
                subject_id_type, subject_id, subject_name, claims, status, outcome, disclosed, created_at, catalog_version)
            VALUES (?1, 'CIV-MARRIAGE', 'data-sharing', 'housing-fund', 'civil-affairs', 'HF-1', 'p', 'resident-id',
                '11010519491231002X', '张三', '{}', 'answered', ?2, '{}', 1, 1)
            """, arguments: [.text(id), outcome])
    }

    private func expectConstraintFailure(_ body: () throws -> Void) {
        do {
            try body()
            Issue.record("the CHECK constraint admitted a value outside its list")
        } catch let error as SQLiteError {
            #expect(error.code == "sqlite.constraint")
        } catch {
            Issue.record("unexpected error \(error)")
        }
    }

    @Test("a fresh database stores every rewritten constraint as comparisons, not as an IN list")
    func freshDatabase() throws {
        let store = try SQLiteStore(path: directory.file("fresh.sqlite"))
        try store.read { db in
            for rewrite in CheckConstraintSchema.rewrites {
                let sql = try definition(rewrite.table, on: db)
                #expect(!sql.contains(rewrite.inList), "\(rewrite.table)")
                #expect(sql.contains(rewrite.comparisons), "\(rewrite.table)")
            }
        }
        #expect(CheckConstraintSchema.rewrites[0].comparisons
            == "(outcome = 'confirmed' OR outcome = 'denied' OR outcome = 'cannot-determine')")
        #expect(try store.integrityCheck())
    }

    @Test("version 11 with rows migrates in place: rows kept, listed values and NULL admitted, others refused")
    func migratesVersion11() throws {
        let path = directory.file("v11.sqlite")
        do {
            let old = try SQLiteStore(path: path, migrator: Migrator(Array(HeyanSchema.migrations.prefix(11))))
            try old.write { db in
                try insertVerification("ver_old", outcome: .text("denied"), on: db)
                #expect(try definition("verifications", on: db).contains("outcome IN ('confirmed', 'denied', 'cannot-determine')"))
            }
        }
        let store = try SQLiteStore(path: path)
        #expect(store.migrationOutcome.previousVersion == 11)
        #expect(store.migrationOutcome.applied.first == CheckConstraintSchema.migrationName)
        #expect(try store.integrityCheck())
        try store.write { db in
            #expect(try db.fetchScalar("SELECT outcome FROM verifications WHERE id = 'ver_old'") == .text("denied"))
            for (index, outcome) in ["confirmed", "denied", "cannot-determine"].enumerated() {
                try insertVerification("ver_\(index)", outcome: .text(outcome), on: db)
            }
            try insertVerification("ver_pending", outcome: .null, on: db)  // a CHECK passes on NULL, as before
            expectConstraintFailure { try insertVerification("ver_bad", outcome: .text("maybe"), on: db) }
            expectConstraintFailure { try insertVerification("ver_case", outcome: .text("Confirmed"), on: db) }
            expectConstraintFailure {
                try db.execute("UPDATE verifications SET outcome = 'unknown' WHERE id = 'ver_old'")
            }
            // queue_items.state: the three states, nothing else.
            try db.execute(
                """
                INSERT INTO queue_items (id, kind, verification_id, owner, created_at, due_at, state)
                VALUES ('que_1', 'verification', 'ver_pending', 'civil-affairs', 1, 2, 'leased')
                """)
            expectConstraintFailure { try db.execute("UPDATE queue_items SET state = 'lost' WHERE id = 'que_1'") }
            #expect(try db.fetchScalar("SELECT count(*) FROM verifications") == .integer(5))
        }
    }
}
