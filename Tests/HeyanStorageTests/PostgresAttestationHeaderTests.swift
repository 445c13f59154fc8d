import HeyanDomain
import HeyanPostgres
import HeyanTestSupport
import Synchronization
import Testing

@testable import HeyanPostgresStore

/// PostgreSQL migration 8: an attestation names its JWS protected header's row in `jws_headers` once
/// the writer knows that row committed, and keeps only payload and signature in `jws`; every read
/// rebuilds the identical JWS (docs/postgresql.md, "Database CPU per write"). SQLite's own form is
/// CompactAttestationTests.
@Suite("PostgreSQL attestations without their JWS header", .enabled(if: PostgresCluster.unavailableReason == nil))
struct PostgresAttestationHeaderTests {
    @Test("a new header: the batch that registers it stores whole, later rows by reference, all read back the same")
    func byReferenceOnceKnown() throws {
        let fixture = try StoreFixture(.postgresql)
        // One batch (or a few) of concurrent submissions under a header this node has never seen.
        let first = (0..<8).map { _ in fixture.answeredAtOnce() }
        let results = Mutex<[SubmitResult?]>(Array(repeating: nil, count: first.count))
        runOnThreads(first.count) { index in
            let result = try? wait { fixture.store.submit(first[index], completion: $0) }
            results.withLock { $0[index] = result }
        }
        #expect(results.withLock { $0 } == Array(repeating: .stored, count: first.count))
        #expect(try fixture.count("jws_headers") == 1)

        // Once a batch registering it committed, the header is named by id: by the single round trip
        // (submission) and by the careful path (an owner's answer).
        let later = fixture.answeredAtOnce()
        #expect(try fixture.submit(later) == .stored)
        let queued = fixture.queued(dueAt: StoreFixture.t0 + 3_600_000)
        #expect(try fixture.submit(queued) == .stored)
        let leased = try #require(try fixture.lease(now: StoreFixture.t0 + 1000).first)
        guard case .answered(_, let answered) = try fixture.answer(leased, at: StoreFixture.t0 + 2000) else {
            throw TestFailure("not answered")
        }
        guard case .repeated(_, let repeated) = try fixture.answer(leased, at: StoreFixture.t0 + 2000) else {
            throw TestFailure("not repeated")
        }
        #expect(repeated == answered)
        let stored = try storage(fixture, [later.attestation!.id, answered.id])
        #expect(stored.allSatisfy { $0.headerID != nil && $0.jws.hasPrefix("e30.sig-") })
        // The first batch could not name it (which submissions it held depends on the threads).
        #expect(try storage(fixture, first.map { $0.attestation!.id }).contains { $0.headerID == nil })
        for attestation in first.map({ $0.attestation! }) + [later.attestation!, answered] {
            #expect(try fixture.store.attestation(id: attestation.id) == attestation)
        }

        // Another node (a reopened store) does not know the header committed until its first batch has.
        try fixture.reopen()
        let afterReopen = [fixture.answeredAtOnce(), fixture.answeredAtOnce()]
        for new in afterReopen { #expect(try fixture.submit(new) == .stored) }
        #expect(try storage(fixture, afterReopen.map { $0.attestation!.id }).map { $0.headerID == nil } == [true, false])
        for new in afterReopen { #expect(try fixture.store.attestation(id: new.attestation!.id) == new.attestation) }
        #expect(try fixture.count("jws_headers") == 1)
    }

    @Test("a header first registered by a job that fails is not named by id; the next job registers it again")
    func rolledBackHeaderIsNotKnown() throws {
        let fixture = try StoreFixture(.postgresql)
        let queued = fixture.queued(dueAt: StoreFixture.t0 + 1000)
        #expect(try fixture.submit(queued) == .stored)
        var failing = fixture.answeredAtOnce()
        failing.attestation!.jws = "eyJuZXciOjF9.e30.c2lnMQ"
        failing.queueItem = queued.queueItem  // its id is taken: the job fails after the header's insert
        #expect(throws: (any Error).self) { try fixture.submit(failing) }
        #expect(try fixture.count("jws_headers") == 0)

        var next = [fixture.answeredAtOnce(), fixture.answeredAtOnce()]
        next[0].attestation!.jws = "eyJuZXciOjF9.e30.c2lnMg"
        next[1].attestation!.jws = "eyJuZXciOjF9.e30.c2lnMw"
        for new in next { #expect(try fixture.submit(new) == .stored) }
        #expect(try fixture.count("jws_headers") == 1)
        #expect(try storage(fixture, next.map { $0.attestation!.id }).map(\.jws) == ["eyJuZXciOjF9.e30.c2lnMg", "e30.c2lnMw"])
        for new in next { #expect(try fixture.store.attestation(id: new.attestation!.id) == new.attestation) }
    }

    /// The stored `header_id` and `jws` of each attestation, in the order of `ids`.
    private func storage(_ fixture: StoreFixture, _ ids: [String]) throws -> [(headerID: Int64?, jws: String)] {
        let connection = try PostgresConnection(conninfo: fixture.conninfo)
        defer { connection.close() }
        return try ids.map { id in
            let row = try #require(
                try connection.query("SELECT header_id, jws FROM attestations WHERE id = $1", [.text(id)]).rows.first)
            return (try row.decodeIfPresent("header_id", as: Int64.self), try row.decode("jws", as: String.self))
        }
    }
}
