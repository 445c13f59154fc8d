import Foundation
import HeyanHTTP
import HeyanTestSupport
import Testing

/// The fuzzing seeds and every input a fuzz run ever crashed on (`Tests/Fuzz/corpus/FuzzHTTPParser`,
/// `Tests/Fuzz/regressions/FuzzHTTPParser`), replayed in the normal suite with the harness's invariant:
/// parsing the stream whole and one byte at a time gives the same events (docs/fuzzing.md).
@Suite struct FuzzRegressionTests {
    static func inputs(_ target: String) -> [(String, [UInt8])] {
        let root = packageRoot()
        var result: [(String, [UInt8])] = []
        for folder in ["corpus", "regressions"] {
            let directory = "\(root)/Tests/Fuzz/\(folder)/\(target)"
            let names = (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []
            for name in names.sorted() {
                if let bytes = try? readFile("\(directory)/\(name)") { result.append(("\(folder)/\(name)", bytes)) }
            }
        }
        return result
    }

    static func events(_ chunks: [[UInt8]], limits: HTTPParserLimits) -> [HTTPParserEvent] {
        var parser = HTTPRequestParser(limits: limits)
        var events: [HTTPParserEvent] = []
        for chunk in chunks {
            parser.append(chunk)
            while let event = parser.next() { events.append(event) }
        }
        return events
    }

    @Test func httpParserSeedsParseTheSameWholeAndByteByByte() {
        let inputs = Self.inputs("FuzzHTTPParser")
        #expect(inputs.count >= 10)
        for (name, input) in inputs where input.count >= 2 {
            var limits = HTTPParserLimits()
            if input[0] & 1 == 1 {
                limits.requestLineBytes = 64
                limits.headerBytes = 256
                limits.headerCount = 8
                limits.bodyBytes = 128
            }
            let stream = Array(input[2...])
            let whole = Self.events([stream], limits: limits)
            #expect(!whole.isEmpty, "\(name) yields no event")
            #expect(Self.events(stream.map { [$0] }, limits: limits) == whole, "\(name)")
        }
    }
}
