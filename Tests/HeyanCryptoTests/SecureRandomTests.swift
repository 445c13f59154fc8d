import HeyanCrypto
import Testing

/// `SecureRandom` hands small draws out of a pool it refills from `RAND_bytes` (issue 16): no byte
/// may be handed out twice, across refills and from several threads at once.
@Suite struct SecureRandomTests {
    @Test func drawsAreDistinctAcrossRefills() {
        var seen = Set<[UInt8]>()
        for index in 0..<5_000 {
            let count = [10, 16, 1, 64, 33][index % 5]
            let bytes = SecureRandom.bytes(count)
            #expect(bytes.count == count)
            if count >= 10 { #expect(seen.insert(bytes).inserted, "a draw of \(count) bytes came twice") }
        }
        #expect(SecureRandom.bytes(0).isEmpty)
        let large = SecureRandom.bytes(4_096)  // past the pool: one RAND_bytes call
        #expect(large.count == 4_096 && Set(large).count > 200)
    }

    @Test func concurrentDrawsAreDistinct() async {
        let draws = await withTaskGroup(of: [[UInt8]].self) { group in
            for _ in 0..<4 { group.addTask { (0..<2_000).map { _ in SecureRandom.bytes(16) } } }
            var all: [[UInt8]] = []
            for await part in group { all += part }
            return all
        }
        #expect(draws.count == 8_000)
        #expect(Set(draws).count == 8_000)
    }
}
