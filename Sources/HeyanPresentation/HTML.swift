/// Markup that is safe by construction: the literal parts come from heyan's source, and every
/// `String` interpolated into it is escaped (``HTMLText``). Other `HTML` values are inserted as
/// they are, so pages compose from pieces without double escaping and without a way to slip
/// unescaped text in:
///
///     let row: HTML = "<tr><td>\(verification.purpose)</td><td>\(statusBadge)</td></tr>"
///
/// A page that needs a URL built from data uses ``HTML/path(_:)``, which refuses anything but a
/// same-origin path.
public struct HTML: Sendable, Equatable, CustomStringConvertible, ExpressibleByStringInterpolation {
    /// The markup, ready to send.
    public private(set) var rendered: String

    public var description: String { rendered }

    public init(stringLiteral literal: StaticString) { rendered = literal.description }

    public init(stringInterpolation: Interpolation) { rendered = stringInterpolation.rendered }

    /// Markup from a trusted source that is not a literal (e.g. a QR code's SVG, a chart).
    /// Only heyan's own drawing code may call this.
    init(trusted markup: String) { rendered = markup }

    public static let empty = HTML(trusted: "")

    public struct Interpolation: StringInterpolationProtocol {
        var rendered = ""

        public init(literalCapacity: Int, interpolationCount: Int) { rendered.reserveCapacity(literalCapacity * 2) }

        public mutating func appendLiteral(_ literal: StaticString) { rendered += literal.description }

        /// Text: escaped.
        public mutating func appendInterpolation(_ text: String) { rendered += HTMLText.escape(text) }

        /// Text or nothing.
        public mutating func appendInterpolation(_ text: String?) { if let text { appendInterpolation(text) } }

        /// Numbers need no escaping but go through the same path.
        public mutating func appendInterpolation<N: BinaryInteger>(_ number: N) { rendered += String(number) }

        /// Composed markup: inserted as is.
        public mutating func appendInterpolation(_ html: HTML) { rendered += html.rendered }

        /// A list of pieces, in order.
        public mutating func appendInterpolation(_ pieces: [HTML]) { for piece in pieces { rendered += piece.rendered } }
    }

    /// `pieces` joined.
    public static func join(_ pieces: [HTML], separator: HTML = .empty) -> HTML {
        HTML(trusted: pieces.map(\.rendered).joined(separator: separator.rendered))
    }

    /// A same-origin path for `href`/`action` (escaped), or nil for anything else: no scheme, no
    /// `//host`, no backslash, no control character — so data can never make a `javascript:` link.
    public static func path(_ path: String) -> HTML? {
        guard path.hasPrefix("/"), !path.hasPrefix("//"),
            !path.unicodeScalars.contains(where: { $0 == "\\" || $0.value < 0x20 || $0.value == 0x7F })
        else { return nil }
        return HTML(trusted: HTMLText.escape(path))
    }
}

extension QRCode {
    /// The symbol as inline markup for a page.
    public func html(moduleSize: Int = 4, title: String? = nil) -> HTML {
        HTML(trusted: svg(moduleSize: moduleSize, title: title))
    }
}
