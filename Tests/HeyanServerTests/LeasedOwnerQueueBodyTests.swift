import Foundation
import HeyanDomain
@testable import HeyanServer
import Testing

/// `GET /v1/queue`'s body is written member by member (no `JSONValue` tree): it must stay one JSON
/// object whose `items` hold the leased verification items, then the spot checks, in lease order,
/// each element as the views show it.
struct LeasedOwnerQueueBodyTests {
    static let now: Millis = 1_768_539_600_000  // 2026-01-16T05:00:00.000Z
    static let subject = Subject(idType: .residentID, id: "11010519491231002X", name: "张\"三")

    static func leasedItem(_ n: Int) -> LeasedItem {
        let verification = Verification(
            id: "ver_0\(n)", certificateType: "CIV-MARRIAGE", method: .departmentVerification, requester: "housing-fund",
            owner: "civil-affairs", matterCode: "HF-WITHDRAW-001", purpose: "提取\n住房公积金", subject: subject,
            claims: ["maritalStatus": .string("married")], state: .pending, createdAt: now, dueAt: now + 86_400_000,
            catalogVersion: 4)
        let item = QueueItem(
            id: "qi_0\(n)", kind: .verification, verificationID: verification.id, owner: "civil-affairs", createdAt: now,
            dueAt: now + 86_400_000, state: .leased(token: "lt_\(n)", expiresAt: now + 60_000), leaseCount: n,
            overdue: n == 2)
        return LeasedItem(item: item, verification: verification)
    }

    static func leasedSpotCheck(_ n: Int) -> LeasedSpotCheck {
        let commitment = Commitment(
            id: "com_0\(n)", certificateType: "TAX-INCOME", requester: "housing-fund", owner: "tax-bureau",
            matterCode: "HF-LOAN-001", purpose: "贷款", subject: subject, claims: [:],
            textSHA256: [UInt8](repeating: 1, count: 32), text: nil, signedAt: now, signedVia: .paper, createdAt: now,
            status: .underCheck,
            sample: SpotCheckSample(rule: SpotCheckSampling.rule, seed: "00", value: "00", rate: 0.2, sampled: true),
            receipt: CommitmentReceipt(id: "att_x", jws: "h.p.s", issuedAt: now, expiresAt: now + 1_000),
            catalogVersion: 1)
        let item = SpotCheck(
            id: "qsc_0\(n)", commitmentID: commitment.id, owner: "tax-bureau", createdAt: now, dueAt: now + 86_400_000,
            state: .leased(token: "lt_s\(n)", expiresAt: now + 60_000), leaseCount: 1)
        return LeasedSpotCheck(item: item, commitment: commitment)
    }

    static func items(_ queue: LeasedOwnerQueue) throws -> [[String: Any]] {
        let object = try #require(try JSONSerialization.jsonObject(with: Data(queue.body)) as? [String: Any])
        #expect(object.count == 1)
        return try #require(object["items"] as? [[String: Any]])
    }

    @Test func emptyLease() throws {
        let queue = LeasedOwnerQueue(items: [], spotChecks: [], now: Self.now)
        #expect(String(decoding: queue.body, as: UTF8.self) == #"{"items":[]}"#)
    }

    @Test func itemsThenSpotChecksInLeaseOrder() throws {
        for (itemCount, spotCheckCount) in [(1, 0), (2, 0), (0, 1), (0, 2), (2, 2)] {
            let queue = LeasedOwnerQueue(
                items: (0..<itemCount).map { Self.leasedItem($0 + 1) },
                spotChecks: (0..<spotCheckCount).map { Self.leasedSpotCheck($0 + 1) }, now: Self.now)
            let items = try Self.items(queue)
            #expect(
                items.map { $0["id"] as? String }
                    == (1...).prefix(itemCount).map { "qi_0\($0)" } + (1...).prefix(spotCheckCount).map { "qsc_0\($0)" })
            // Each element is the view's bytes, in place.
            let body = String(decoding: queue.body, as: UTF8.self)
            for leased in queue.items {
                var element: [UInt8] = []
                APIView.writeQueueItem(leased, into: &element)
                #expect(body.contains(String(decoding: element, as: UTF8.self)))
            }
            for leased in queue.spotChecks {
                let element = APIView.spotCheckItem(leased, now: Self.now).jsonBytes()
                #expect(body.contains(String(decoding: element, as: UTF8.self)))
            }
        }
    }

    @Test func aVerificationItemCarriesItsLeaseAndVerification() throws {
        let item = try #require(try Self.items(LeasedOwnerQueue(items: [Self.leasedItem(2)], spotChecks: [], now: Self.now)).first)
        #expect(item["kind"] as? String == "verification")
        #expect(item["leaseToken"] as? String == "lt_2")
        #expect(item["leaseExpiresAt"] as? String == "2026-01-16T05:01:00.000Z")
        #expect(item["dueAt"] as? String == "2026-01-17T05:00:00.000Z")
        #expect(item["overdue"] as? Bool == true)
        #expect(item["leaseCount"] as? Int == 2)
        let verification = try #require(item["verification"] as? [String: Any])
        #expect(verification["purpose"] as? String == "提取\n住房公积金")
        #expect((verification["subject"] as? [String: Any])?["name"] as? String == "张\"三")
    }
}
