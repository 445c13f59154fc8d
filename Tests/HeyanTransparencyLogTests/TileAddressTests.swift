import HeyanTransparencyLog
import Testing

/// C2SP `tlog-tiles` paths and which tiles a tree has, by the specification's own examples.
@Suite struct TileAddressTests {
    @Test func pathsParseAndPrintAsTheSpecificationWritesThem() throws {
        let cases: [(String, TileAddress)] = [
            ("0/000", TileAddress(kind: .hashes(level: 0), index: 0)),
            ("0/x001/x234/067", TileAddress(kind: .hashes(level: 0), index: 1_234_067)),
            ("1/x001/000.p/17", TileAddress(kind: .hashes(level: 1), index: 1000, width: 17)),
            ("entries/273.p/112", TileAddress(kind: .entries, index: 273, width: 112)),
            ("63/000.p/1", TileAddress(kind: .hashes(level: 63), index: 0, width: 1)),
            ("0/x018/x446/x744/x073/x709/x551/615", TileAddress(kind: .hashes(level: 0), index: UInt64.max)),
        ]
        for (path, address) in cases {
            #expect(TileAddress(path: path) == address, "\(path)")
            #expect(address.path == path)
        }
        for bad in [
            "", "0", "0/", "0/1", "0/0000", "00/000", "64/000", "-1/000", "0/x000/001", "0/001/x002", "0/x01/002",
            "0/000.p/0", "0/000.p/256", "0/000.p/07", "0/000.p", "0/000.p/", "0/x018/x446/x744/x073/x709/x551/616",
            "0/x001/x002/x003/x004/x005/x006/x007/008", "entries/", "entry/000", "0/000/",
        ] {
            #expect(TileAddress(path: bad) == nil, "\(bad)")
        }
    }

    /// "a tree of size 70,000 will be represented by 273 full level 0 tiles, one partial level 0 tile
    /// of width 112, one full level 1 tile, one partial level 1 tile of width 17, and one partial
    /// level 2 tile of width 1" (tlog-tiles), and a tree of 256 by a full level-0 tile and a partial
    /// level-1 tile of width 1.
    @Test func aTreeHasTheTilesTheSpecificationLists() {
        func has(_ level: Int, _ index: UInt64, _ width: Int = 256, size: UInt64 = 70_000) -> Bool {
            TileAddress(kind: .hashes(level: level), index: index, width: width).exists(inTreeOf: size)
        }
        #expect(has(0, 272) && !has(0, 273) && has(0, 273, 112) && !has(0, 273, 113))
        #expect(has(1, 0) && !has(1, 1) && has(1, 1, 17) && !has(1, 1, 18))
        #expect(has(2, 0, 1) && !has(2, 0, 2) && !has(3, 0, 1))
        #expect(TileAddress(kind: .entries, index: 273, width: 112).exists(inTreeOf: 70_000))
        #expect(has(0, 0, size: 256) && has(1, 0, 1, size: 256) && !has(1, 0, 2, size: 256) && !has(0, 1, 1, size: 256))
        #expect(!has(0, 0, 1, size: 0) && !has(63, 0, 1, size: .max) && !has(0, .max, 1, size: .max))
    }
}
