import Foundation
import HeyanPresentation
import HeyanTestSupport
import Testing

/// QR symbols judged by a decoder heyan did not write: zbarimg (Debian zbar-tools) must read back
/// exactly the bytes encoded, across versions 1–40 and all four error-correction levels.
@Suite struct QRCodeTests {
    static func decode(_ code: QRCode, scale: Int = 3) throws -> String {
        let directory = TemporaryDirectory()
        try directory.write("qr.pgm", code.pgm(scale: scale))
        let result = try Subprocess.run(["zbarimg", "--quiet", "--raw", "-Sbinary", directory.file("qr.pgm")], timeout: 60)
        guard result.status == 0 else { throw TestFailure("zbarimg exited \(result.status): \(result.stderr)") }
        return result.stdout
    }

    @Test func symbolsOfEverySizeAndLevelDecodeOutside() throws {
        var random = SplitMix64(seed: 18004)
        let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.")
        var seenVersions = Set<Int>()
        for (length, level) in [(1, QRCode.ErrorCorrection.high), (17, .medium), (60, .quartile), (150, .low), (300, .medium),
            (700, .high), (1200, .low), (2000, .medium), (2953, .low)]
        {
            let text = String((0..<length).map { _ in alphabet[Int(random.next() % UInt64(alphabet.count))] })
            let code = try QRCode(text: text, errorCorrection: level)
            seenVersions.insert(code.version)
            #expect(code.size == 17 + 4 * code.version)
            #expect(try Self.decode(code, scale: code.version > 20 ? 2 : 3) == text, "version \(code.version) level \(code.errorCorrection)")
        }
        #expect(seenVersions.contains(1))
        #expect(seenVersions.contains(40))
        #expect(seenVersions.count >= 8)
    }

    @Test func chineseTextRoundTrips() throws {
        let text = "核验 ver_01M94G3DMBPZ0DNVKDW680KD4G 住房公积金管理中心"
        #expect(try Self.decode(try QRCode(text: text)) == text)
    }

    @Test func capacityIsTheStandardsAndTooLongIsRefused() throws {
        #expect(QRCode.capacity(version: 1, level: .low) == 17)
        #expect(QRCode.capacity(version: 1, level: .high) == 7)
        #expect(QRCode.capacity(version: 40, level: .low) == 2953)
        #expect(QRCode.capacity(version: 40, level: .high) == 1273)
        #expect(throws: QRCode.EncodeError.tooLong(bytes: 2954, capacity: 2953)) {
            try QRCode(bytes: Array(repeating: 0x41, count: 2954), errorCorrection: .low)
        }
        // A level is raised for free when the data still fits the same version.
        #expect(try QRCode(text: "heyan").errorCorrection == .high)
    }

    @Test func svgIsInlineAndEscapesItsTitle() throws {
        let svg = try QRCode(text: "x").svg(moduleSize: 2, title: "<script>alert(1)</script>")
        #expect(svg.hasPrefix("<svg xmlns=\"http://www.w3.org/2000/svg\""))
        #expect(svg.contains("<title>&lt;script&gt;alert(1)&lt;/script&gt;</title>"))
        #expect(!svg.contains("<script>"))
    }
}
