import CSQLite
import CSQLiteProcess
import HeyanTestSupport
import Testing

@testable import HeyanStorage

/// The page cache of `CSQLiteProcess` (docs/storage.md, "Page cache"): SQLite's own, with the lock
/// page's number kept out of it, so the truncation at the end of each transaction does not walk the
/// whole cache after a b-tree balance parked a page under that number.
@Suite("Page cache: the end of a transaction does not walk the cache")
struct PageCacheTests {
    let directory = TemporaryDirectory()

    /// Runs 200 transactions of 40 random index keys each on a fresh database with heyan's writer
    /// cache (32 MiB), on this thread, and returns how often the lock page was named and how many
    /// transactions ended with a wide truncation; checks the database after a reopen.
    func commits(_ name: String, translated: Bool) throws -> (lockPageKeys: Int, wideTruncations: Int) {
        let path = directory.file(name)
        heyan_sqlite_page_cache_translate_on_this_thread(translated ? 1 : 0)
        defer { heyan_sqlite_page_cache_translate_on_this_thread(1) }
        let keysBefore = heyan_sqlite_page_cache_lock_page_keys_on_this_thread()
        let widesBefore = heyan_sqlite_page_cache_wide_truncations_on_this_thread()
        do {
            let db = try SQLiteConnection(path: path)
            try db.execute(
                """
                PRAGMA journal_mode = WAL; PRAGMA cache_size = -32768;
                CREATE TABLE t (id INTEGER PRIMARY KEY, k BLOB NOT NULL);
                CREATE INDEX t_by_k ON t (k);
                WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 20000)
                INSERT INTO t (k) SELECT randomblob(40) FROM c;
                """)
            for _ in 0..<200 {
                try db.execute(
                    """
                    BEGIN;
                    WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 40)
                    INSERT INTO t (k) SELECT randomblob(40) FROM c;
                    COMMIT;
                    """)
            }
        }
        let reopened = try SQLiteConnection(path: path)
        #expect(try reopened.fetchScalar("SELECT count(*) FROM t") == .integer(28_000))
        #expect(try reopened.fetchScalar("PRAGMA integrity_check") == .text("ok"))
        return (
            heyan_sqlite_page_cache_lock_page_keys_on_this_thread() - keysBefore,
            heyan_sqlite_page_cache_wide_truncations_on_this_thread() - widesBefore
        )
    }

    @Test("random index inserts park pages under the lock page's number; translated, no transaction walks the cache")
    func noWideTruncations() throws {
        let translated = try commits("translated.sqlite", translated: true)
        // SQLite's balance of the index swaps new pages into ascending order through the lock page.
        #expect(translated.lockPageKeys > 0)
        #expect(translated.wideTruncations == 0, "\(translated.wideTruncations) of 200 transactions walked the cache")
        // The same work with the number passed on: the transactions after a swap walk the cache
        // (this is what the translation removes; if SQLite stops parking pages there, both are 0).
        let untranslated = try commits("untranslated.sqlite", translated: false)
        #expect(untranslated.lockPageKeys > 0)
        #expect(untranslated.wideTruncations > 10, "\(untranslated.wideTruncations) of 200 transactions walked the cache")
    }
}
