import HeyanDomain
import HeyanTestSupport
import Testing

/// ``CSVText/records(_:)`` reads the CSV a clerk uploads (docs/console.md): untrusted text, so it
/// is checked on exact inputs, on its own writer's output and on its two refusals.
@Suite struct CSVTextTests {
    @Test func readsRecordsWithTheLineEachStartsOn() throws {
        let text = "\u{FEFF}subjectId,name\r\n\r\n1,\"a, \"\"b\"\"\"\n2,\"two\nlines\"\r3,\n"
        let lines = try CSVText.records(text)
        #expect(lines.map(\.number) == [1, 3, 4, 6])
        #expect(lines.map(\.fields) == [["subjectId", "name"], ["1", "a, \"b\""], ["2", "two\nlines"], ["3", ""]])
        #expect(try CSVText.records("").isEmpty)
        #expect(try CSVText.records("a\"b,c").map(\.fields) == [["a\"b", "c"]])
    }

    @Test func refusesAnOpenQuoteAndTextAfterAClosingQuote() {
        for (text, line, message) in [
            ("a\n\"open\nstill open", 2, "a quoted field is not closed"),
            ("\"closed\"x,y", 1, "text after a closing quote"),
        ] {
            do {
                _ = try CSVText.records(text)
                Issue.record("\(text.debugDescription) was read")
            } catch {
                #expect(error.line == line && error.message == message, "\(text.debugDescription)")
            }
        }
    }

    /// What ``CSVText/record(_:)`` writes reads back field for field, each record on its line.
    @Test func readsBackWhatItWrites() throws {
        var generator = SplitMix64(seed: 4180)
        let alphabet: [Character] = ["a", "Z", "0", ",", "\"", "\r", "\n", " ", "婚", "é"]
        for _ in 0..<500 {
            let records = (0..<Int.random(in: 1...4, using: &generator)).map { _ in
                (0..<Int.random(in: 2...4, using: &generator)).map { _ in
                    let length = Int.random(in: 0...5, using: &generator)
                    return String((0..<length).map { _ in alphabet.randomElement(using: &generator)! })
                }
            }
            let text = records.map(CSVText.record).joined()
            var line = 1
            var starts: [Int] = []
            for fields in records {
                starts.append(line)
                line += 1 + fields.reduce(0) { $0 + $1.unicodeScalars.filter { $0 == "\n" }.count }
            }
            let read = try CSVText.records(text)
            #expect(read.map(\.fields) == records, "\(text.debugDescription)")
            #expect(read.map(\.number) == starts, "\(text.debugDescription)")
        }
    }

    /// A field holding CR LF is quoted like one holding CR or LF ("\r\n" is a single Character,
    /// equal to neither: the writer looks at bytes).
    @Test func aFieldHoldingCRLFIsQuoted() throws {
        #expect(CSVText.record(["a\r\nb", "c"]) == "\"a\r\nb\",c\r\n")
        let read = try CSVText.records(CSVText.record(["a\r\nb", "c"]))
        #expect(read.map(\.fields) == [["a\r\nb", "c"]])
    }
}
