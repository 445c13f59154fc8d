import HeyanDomain
import Testing

@testable import HeyanStorage

/// Migration 3: an attestation's JWS protected header is stored once in `jws_headers` and joined
/// back on read, so the stored row holds only the payload and signature.
@Suite("Attestations stored without repeating their JWS header")
struct CompactAttestationTests {
    @Test("rows keep payload and signature only, one header row serves all, reads give back the whole JWS")
    func headerStoredOnce() throws {
        let fixture = try StoreFixture()
        let first = fixture.answeredAtOnce()
        let second = fixture.answeredAtOnce()
        #expect(try fixture.submit(first) == .stored)
        #expect(try fixture.submit(second) == .stored)
        #expect(try fixture.count("jws_headers") == 1)
        for new in [first, second] {
            let attestation = try #require(new.attestation)
            let stored = try fixture.sqliteStore.database.read {
                try $0.fetchScalar("SELECT jws FROM attestations WHERE id = '\(attestation.id)'")?.textValue
            }
            #expect(stored == "e30.sig-\(new.verification.id)")
            #expect(try fixture.sqliteStore.attestation(id: attestation.id) == attestation)
        }
    }

    @Test("a row written whole before migration 3 (no header reference) still reads as written")
    func legacyRowReadsWhole() throws {
        let fixture = try StoreFixture()
        let new = fixture.answeredAtOnce()
        #expect(try fixture.submit(new) == .stored)
        let attestation = try #require(new.attestation)
        try fixture.rawSQL(
            "UPDATE attestations SET jws = 'eyJvbGQiOjF9.e30.c2ln', jws_header = NULL WHERE id = '\(attestation.id)'")
        #expect(try fixture.sqliteStore.attestation(id: attestation.id)?.jws == "eyJvbGQiOjF9.e30.c2ln")
    }

    @Test("a header first stored by a job that rolls back is stored again by the next job")
    func rolledBackHeaderIsForgotten() throws {
        let fixture = try StoreFixture()
        let queued = fixture.queued(dueAt: StoreFixture.t0 + 1000)
        #expect(try fixture.submit(queued) == .stored)

        // A new header, then a failure later in the same job (the queue item id exists already).
        var failing = fixture.answeredAtOnce()
        failing.attestation!.jws = "eyJuZXciOjF9.e30.c2lnMQ"
        failing.queueItem = queued.queueItem
        #expect(throws: (any Error).self) { try fixture.submit(failing) }
        #expect(try fixture.count("jws_headers") == 0)

        var next = fixture.answeredAtOnce()
        next.attestation!.jws = "eyJuZXciOjF9.e30.c2lnMg"
        #expect(try fixture.submit(next) == .stored)
        #expect(try fixture.count("jws_headers") == 1)
        #expect(try fixture.sqliteStore.attestation(id: next.attestation!.id)?.jws == "eyJuZXciOjF9.e30.c2lnMg")
    }
}
