#if canImport(Glibc)
import Glibc
#endif
import Foundation
import HeyanHTTP
import HeyanStorage
import HeyanTestSupport
import Synchronization
import Testing

/// A full disk for real (issue 10, finding 4): the database on a 2 MiB tmpfs, filled with junk.
/// Writes answer 503 `store-unavailable` with `Retry-After` and store nothing, `/readyz` answers
/// 503 while `/healthz` stays 200; grown (remount) or emptied (junk deleted), `/readyz` is 200
/// again and writes commit, without a restart. Mounting needs root; as another user the test is
/// skipped, saying so.
@Suite struct ReadinessTests {
    static let storeUnavailable = "urn:heyan:problem:store-unavailable"

    /// A tmpfs mounted for the test, detached at the end even if something still has files open.
    final class Tmpfs {
        let directory = TemporaryDirectory(prefix: "heyan-tmpfs")
        var path: String { directory.path }

        init(size: String) throws {
            guard mount("tmpfs", directory.path, "tmpfs", 0, "size=\(size),mode=0700") == 0 else {
                throw TestFailure("mount tmpfs on \(directory.path): \(String(cString: strerror(errno)))")
            }
        }

        func resize(_ size: String) throws {
            guard mount("tmpfs", directory.path, "tmpfs", UInt(MS_REMOUNT), "size=\(size)") == 0 else {
                throw TestFailure("remount tmpfs: \(String(cString: strerror(errno)))")
            }
        }

        /// Writes zeros to `name` until the filesystem refuses even one byte.
        func fill(_ name: String) throws {
            let fd = open(directory.file(name), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
            guard fd >= 0 else { throw TestFailure("open junk: \(String(cString: strerror(errno)))") }
            defer { close(fd) }
            var chunk = 1 << 16
            let zeros = [UInt8](repeating: 0, count: chunk)
            while chunk > 0 {
                let written = zeros.withUnsafeBytes { write(fd, $0.baseAddress, chunk) }
                if written < 0 && errno == ENOSPC || written == 0 {
                    chunk /= 2
                } else if written < 0 {
                    throw TestFailure("write junk: \(String(cString: strerror(errno)))")
                }
            }
        }

        deinit { umount2(directory.path, Int32(MNT_DETACH)) }
    }

    /// Row counts a refused write must leave as they were.
    func state(_ service: RunningService) throws -> [String] {
        // The rows themselves, read beside the service from its SQLite file (read-only, one snapshot).
        let db = try SQLiteConnection(path: service.runtime.configuration.service.database, mode: .readOnly)
        return try db.transaction(.deferred) {
            try ["verifications", "queue_items", "audit_log", "idempotency_keys"].map { table in
                "\(table)=\(try db.fetchScalar("SELECT count(*) FROM \(table)")?.description ?? "?")"
            }
        }
    }

    func expectStoreUnavailable(_ response: ClientResponse, _ what: String, sourceLocation: SourceLocation = #_sourceLocation) {
        #expect(response.status == 503, "\(what): \(response.status) \(response.bodyText)", sourceLocation: sourceLocation)
        #expect(response.headers["Retry-After"] == "5", "\(what)", sourceLocation: sourceLocation)
        #expect(response.headers["Content-Type"] == "application/problem+json", "\(what)", sourceLocation: sourceLocation)
        #expect(response["type"] as? String == Self.storeUnavailable, "\(what)", sourceLocation: sourceLocation)
        #expect(response["retryAfter"] as? Int == 5, "\(what)", sourceLocation: sourceLocation)
    }

    @Test(.enabled(if: getuid() == 0, "mounting a tmpfs needs root: skipped"))
    func fullDiskIsUnavailableAndReadinessFollowsTheDisk() throws {
        let tmpfs = try Tmpfs(size: "2m")
        let clock = ManualClock()
        let service = try RunningService(
            limits: #""minimumFreeDiskBytes": 65536"#, database: tmpfs.directory.file("db/heyan.sqlite"), clock: clock)
        defer { service.runtime.stop(grace: 1) }
        let housing = try DepartmentClient(service, "housing-fund")
        var subject = 0
        func submit() throws -> ClientResponse {
            subject += 1
            return try housing.post("/v1/verifications", TestSubjects.verificationBody(subject: TestSubjects.residentID(subject)))
        }

        #expect(try submit().status == 202)
        let ready = try housing.get("/readyz")
        #expect(ready.status == 200)
        #expect(ready.bodyText == #"{"status":"ready"}"#)

        for round in ["grown by remount", "emptied by deleting the junk"] {
            try tmpfs.fill("junk")
            let before = try state(service)
            for attempt in 1...3 { expectStoreUnavailable(try submit(), "\(round): write \(attempt)") }
            // Concurrent writers share batches: every job of a failed batch gets the 503.
            let clients = try (0..<8).map { _ in try DepartmentClient(service, "housing-fund") }
            let answers = Mutex<[ClientResponse]>([])
            let group = DispatchGroup()
            for (index, client) in clients.enumerated() {
                let body = TestSubjects.verificationBody(subject: TestSubjects.residentID(500 + index))
                DispatchQueue.global().async(group: group) {
                    if let response = try? client.post("/v1/verifications", body) { answers.withLock { $0.append(response) } }
                }
            }
            group.wait()
            let concurrent = answers.withLock { $0 }
            #expect(concurrent.count == clients.count)
            for response in concurrent { expectStoreUnavailable(response, "\(round): concurrent write") }
            // A refusal that cannot be audited is not sent either: 403 becomes 503 as well.
            expectStoreUnavailable(try housing.get("/v1/audit"), "\(round): refused read")
            #expect(try state(service) == before, "\(round): something was stored")
            let notReady = try housing.get("/readyz")
            expectStoreUnavailable(notReady, "\(round): /readyz")
            #expect((notReady["detail"] as? String)?.hasPrefix("Not ready: ") == true, "\(notReady.bodyText)")
            #expect(try housing.get("/healthz").status == 200)
            // The gauge the alert rule reads says the same as /readyz.
            #expect(try housing.get("/metrics").bodyText.contains("\nheyan_store_ready 0\n"), "\(round): heyan_store_ready")

            if round.hasPrefix("grown") {
                try tmpfs.resize("64m")
            } else {
                #expect(unlink(tmpfs.directory.file("junk")) == 0)
            }
            // A probe runs at most once a second of the service clock: the next one finds the disk.
            clock.advance(seconds: 1)
            let recovered = try housing.get("/readyz")
            #expect(recovered.status == 200, "\(round): \(recovered.bodyText)")
            #expect(try housing.get("/metrics").bodyText.contains("\nheyan_store_ready 1\n"), "\(round): heyan_store_ready")
            let written = try submit()
            #expect(written.status == 202, "\(round): \(written.bodyText)")
            #expect(try state(service) != before)
        }
        let lines = try service.logLines()
        #expect(lines.contains { $0.contains(#""event":"store-not-ready""#) })
        #expect(lines.contains { $0.contains(#""event":"store-ready""#) })
        #expect(lines.contains { $0.contains(#""event":"store-unavailable""#) && $0.contains("sqlite.full") })
        service.runtime.stop(grace: 1)
        withExtendedLifetime(tmpfs) {}
    }
}
