/// Text made safe for HTML: the one escaping path every page and drawing uses. Element content
/// and double-quoted attribute values both take it; `&`, `<`, `>`, `"` and `'` are replaced, so a
/// purpose or complaint text written by another department renders as text, never as markup.
public struct HTMLText: Sendable, Equatable, CustomStringConvertible {
    /// The escaped form, ready to place in a page.
    public let escaped: String

    public init(_ text: String) { escaped = Self.escape(text) }

    public var description: String { escaped }

    public static func escape(_ text: String) -> String {
        var result = ""
        result.reserveCapacity(text.utf8.count)
        for scalar in text.unicodeScalars {
            switch scalar {
            case "&": result += "&amp;"
            case "<": result += "&lt;"
            case ">": result += "&gt;"
            case "\"": result += "&quot;"
            case "'": result += "&#39;"
            default: result.unicodeScalars.append(scalar)
            }
        }
        return result
    }
}
