import HeyanDomain
import HeyanTestSupport
import Testing

@testable import HeyanStorage

/// The console's lists (docs/console.md): a requester's verifications and an owner's queue items,
/// newest first, in keyset pages — the same on both engines.
@Suite("List pages, on SQLite and PostgreSQL")
struct ListPageTests {
    let t0 = StoreFixture.t0

    @Test("newest first, paged by (createdAt, id), only the department's own", arguments: Engine.all)
    func pages(_ engine: Engine) throws {
        let fixture = try StoreFixture(engine)
        var mine: [NewVerification] = []
        // Two share a creation time: the ID breaks the tie.
        for (index, created) in [t0, t0 + 1, t0 + 1, t0 + 2, t0 + 3].enumerated() {
            let new = fixture.queued(createdAt: created, dueAt: t0 + 3_600_000 + Millis(index))
            #expect(try fixture.submit(new) == .stored)
            mine.append(new)
        }
        #expect(try fixture.submit(fixture.queued(owner: "dept-other", requester: "dept-else", dueAt: t0 + 9)) == .stored)
        let newestFirst = mine.sorted {
            ($0.verification.createdAt, $0.verification.id) > ($1.verification.createdAt, $1.verification.id)
        }

        var seen: [String] = []
        var cursor: ListCursor?
        var pageSizes: [Int] = []
        repeat {
            let page = try fixture.store.verifications(requester: StoreFixture.requester, before: cursor, limit: 2)
            pageSizes.append(page.count)
            seen += page.map(\.id)
            cursor = page.last.map { ListCursor(createdAt: $0.createdAt, id: $0.id) }
        } while pageSizes.last == 2
        #expect(pageSizes == [2, 2, 1])
        #expect(seen == newestFirst.map(\.verification.id))

        let queue = try fixture.store.queueItems(owner: StoreFixture.owner, before: nil, limit: 10)
        #expect(queue.map(\.item.id) == newestFirst.map { $0.queueItem!.id })
        #expect(queue.map(\.verification.id) == newestFirst.map(\.verification.id))
        let second = try fixture.store.queueItems(
            owner: StoreFixture.owner, before: ListCursor(createdAt: queue[1].item.createdAt, id: queue[1].item.id), limit: 10)
        #expect(second.map(\.item.id) == Array(queue.dropFirst(2)).map(\.item.id))
        #expect(try fixture.store.verifications(requester: "dept-nobody", before: nil, limit: 10).isEmpty)

        #expect(ListCursor(text: "1767225600000_ver_01") == ListCursor(createdAt: 1_767_225_600_000, id: "ver_01"))
        #expect(ListCursor(text: "x_ver") == nil && ListCursor(text: "5_") == nil)
    }
}
