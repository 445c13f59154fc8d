/// RFC 4180 CSV: output (fields with a comma, quote, CR or LF are quoted, quotes doubled, records
/// end in CRLF) and input (``records(_:)``).
public enum CSVText {
    public static func field(_ text: String) -> String {
        // By bytes (, " LF CR), not Characters: CR LF is one Character, equal to neither "\r" nor "\n".
        guard text.utf8.contains(where: { $0 == 0x2C || $0 == 0x22 || $0 == 0x0A || $0 == 0x0D }) else { return text }
        return "\"" + text.replacing("\"", with: "\"\"") + "\""
    }

    public static func record(_ fields: [String]) -> String {
        fields.map(field).joined(separator: ",") + "\r\n"
    }

    /// One record of a CSV text and the line it starts on (1-based).
    public struct Line: Sendable, Equatable {
        public var number: Int
        public var fields: [String]
    }

    /// A CSV text that is not RFC 4180: a quote left open, or text after a closing quote.
    public struct SyntaxError: Error, Sendable, Equatable {
        public var line: Int
        public var message: String
    }

    /// The records of `text` (RFC 4180; CRLF or LF line ends; a UTF-8 byte order mark and blank
    /// lines are skipped), each with the line it starts on.
    public static func records(_ text: String) throws(SyntaxError) -> [Line] {
        var lines: [Line] = []
        var fields: [String] = []
        var field = ""
        var line = 1
        var start = 1
        var quoted = false
        var afterQuote = false
        var scalars = Array(text.unicodeScalars)
        if scalars.first == "\u{FEFF}" { scalars.removeFirst() }
        func endRecord() {
            fields.append(field)
            if !(fields.count == 1 && fields[0].isEmpty) { lines.append(Line(number: start, fields: fields)) }
            fields = []
            field = ""
            afterQuote = false
        }
        var index = 0
        while index < scalars.count {
            let scalar = scalars[index]
            index += 1
            if quoted {
                if scalar == "\"" {
                    if index < scalars.count, scalars[index] == "\"" {
                        field.unicodeScalars.append("\"")
                        index += 1
                    } else {
                        quoted = false
                        afterQuote = true
                    }
                } else {
                    if scalar == "\n" { line += 1 }
                    field.unicodeScalars.append(scalar)
                }
                continue
            }
            switch scalar {
            case ",":
                fields.append(field)
                field = ""
                afterQuote = false
            case "\r" where index < scalars.count && scalars[index] == "\n":
                continue
            case "\n", "\r":
                endRecord()
                line += 1
                start = line
            case "\"" where field.isEmpty && !afterQuote:
                quoted = true
            default:
                guard !afterQuote else { throw SyntaxError(line: line, message: "text after a closing quote") }
                field.unicodeScalars.append(scalar)
            }
        }
        guard !quoted else { throw SyntaxError(line: start, message: "a quoted field is not closed") }
        endRecord()
        return lines
    }
}
