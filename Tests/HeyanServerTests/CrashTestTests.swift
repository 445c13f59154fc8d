#if canImport(Glibc)
import Glibc
#endif
import Foundation
import HeyanTestSupport
import Testing

/// The short `make crashtest`: `Tests/Scripts/crashtest.py` with 3 SIGKILLs against the built `heyan`, and
/// its checker shown to catch a database that lost an acknowledged record.
@Suite struct CrashTestTests {
    static let binary = packageRoot() + "/.build/debug/heyan"
    static let driver = packageRoot() + "/Tests/Scripts/crashtest.py"

    @Test func threeKillsLoseNothingAndTheCheckerCatchesALoss() throws {
        let run = try Subprocess.run(["python3", Self.driver, "--binary", Self.binary, "--kills", "3", "--keep"], timeout: 180)
        let summary = run.stdout.split(separator: "\n").first { $0.hasPrefix("kills=") }.map(String.init) ?? ""
        #expect(run.status == 0, "\(run.stdout)\n\(run.stderr)")
        #expect(summary.hasPrefix("kills=3 "), "\(run.stdout)")
        #expect(summary.contains(" lost=0 "), "\(run.stdout)")
        let kept = run.stdout.split(separator: "\n").first { $0.hasPrefix("work directory kept: ") }
        let work = try #require(kept.map { String($0.dropFirst("work directory kept: ".count)) })
        defer { _ = try? Subprocess.run(["rm", "-rf", work]) }

        // The same ledger against the same database passes again…
        let again = try Subprocess.run(["python3", Self.driver, "--binary", Self.binary, "--verify", work])
        #expect(again.status == 0, "\(again.stdout)")
        #expect(again.stdout.contains(" lost=0 "))

        // …and fails once one acknowledged record is gone.
        let database = work + "/db/heyan.sqlite"
        let tamper = try Subprocess.run([
            "python3", "-c",
            "import sqlite3,sys; d=sqlite3.connect(sys.argv[1]); "
                + "d.execute('DELETE FROM records WHERE subject_id=(SELECT subject_id FROM records LIMIT 1)'); d.commit()",
            database,
        ])
        #expect(tamper.status == 0, "\(tamper.stderr)")
        let broken = try Subprocess.run(["python3", Self.driver, "--binary", Self.binary, "--verify", work])
        #expect(broken.status == 1, "\(broken.stdout)")
        #expect(broken.stdout.contains(" lost=1 "), "\(broken.stdout)")
    }
}
