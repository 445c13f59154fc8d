import HeyanCrypto
import HeyanDomain
import HeyanHTTP

/// The fields of an `application/x-www-form-urlencoded` body: `+` is a space, `%XX` a byte, the
/// first value of a name wins. Names repeat for checkboxes (``values(_:)``).
struct ConsoleForm: Sendable {
    private(set) var fields: [(name: String, value: String)] = []

    init(body: [UInt8]) {
        for pair in body.split(separator: UInt8(ascii: "&"), omittingEmptySubsequences: true) {
            let equals = pair.firstIndex(of: UInt8(ascii: "="))
            let name = Self.decode(pair[pair.startIndex..<(equals ?? pair.endIndex)])
            let value = equals.map { Self.decode(pair[pair.index(after: $0)...]) } ?? ""
            fields.append((name, value))
        }
    }

    subscript(name: String) -> String? { fields.first { $0.name == name }?.value }

    /// The value, or "" when absent.
    func text(_ name: String) -> String { self[name] ?? "" }

    func values(_ name: String) -> [String] { fields.filter { $0.name == name }.map(\.value) }

    /// One decoded name or value (the HTTP layer's form decoding, as for query strings).
    static func decode(_ bytes: ArraySlice<UInt8>) -> String {
        String(decoding: HTTPRequest.formDecoded(bytes), as: UTF8.self)
    }
}

/// The console's defence against cross-site request forgery. A browser presents the department's
/// client certificate to any page that posts to heyan, so a state-changing form carries a token
/// only heyan can make — HMAC-SHA-256 of the department and the day (Beijing time) under a secret
/// drawn when the process starts — and the request's `Origin` (or, without one or when it is
/// `null`, `Sec-Fetch-Site`) must be heyan's own. Yesterday's token is still accepted, so a form opened
/// just before midnight can be sent after it; a restart invalidates open forms (the clerk reloads).
struct ConsoleCSRF: Sendable {
    private let secret: [UInt8]

    init(secret: [UInt8] = SecureRandom.bytes(32)) { self.secret = secret }

    func token(department: String, day: Int) -> String {
        Base64URL.encode(Digest.hmacSHA256(key: secret, data: Array("heyan-console-csrf|\(department)|\(day)".utf8)))
    }

    func accepts(_ token: String, department: String, day: Int) -> Bool {
        let given = Array(token.utf8)
        return [day, day - 1].contains { Self.constantTimeEqual(Array(self.token(department: department, day: $0).utf8), given) }
    }

    /// Why `request` does not come from heyan's own pages, or nil when its origin is heyan's.
    static func foreignOrigin(_ request: HTTPRequest) -> String? {
        let host = request.headers["Host"] ?? ""
        // Under `Referrer-Policy: no-referrer` Chromium sends `Origin: null` even for a form on
        // heyan's own page; then `Sec-Fetch-Site` (which no page can set) decides.
        if let origin = request.headers["Origin"], origin != "null" {
            return origin == "https://\(host)" ? nil : "Origin '\(origin)' is not this service"
        }
        switch request.headers["Sec-Fetch-Site"] {
        case "same-origin": return nil
        case nil: return "the request names no Origin"
        case let site?: return "Sec-Fetch-Site is '\(site)'"
        }
    }

    static func constantTimeEqual(_ a: [UInt8], _ b: [UInt8]) -> Bool {
        guard a.count == b.count else { return false }
        var difference: UInt8 = 0
        for (x, y) in zip(a, b) { difference |= x ^ y }
        return difference == 0
    }
}
