/// One complete HTTP/1.x request as delivered by ``HTTPRequestParser``: the body is fully read and de-chunked.
public struct HTTPRequest: Sendable, Equatable {
    /// The method token as sent (case-sensitive, e.g. `GET`).
    public var method: String
    /// The raw request-target: origin-form (`/v1/catalog?x=1`) or `*` for `OPTIONS`.
    public var target: String
    /// ``target`` before the first `?`, not percent-decoded.
    public var path: String
    /// ``target`` after the first `?`, raw; nil when there is no `?`.
    public var query: String?
    public var version: HTTPVersion
    public var headers: HTTPHeaders
    /// The message body, de-chunked; trailers are dropped.
    public var body: [UInt8]
    /// Whether the connection may carry another request: HTTP/1.1 without `Connection: close`.
    /// Always false for HTTP/1.0: heyan closes 1.0 connections after the response.
    public var keepAlive: Bool

    /// Builds a request, splitting `target` into ``path`` and ``query``. `keepAlive` defaults to the RFC 9112
    /// rule heyan applies (see ``keepAlive``).
    public init(
        method: String, target: String, version: HTTPVersion = .http1_1, headers: HTTPHeaders = .init(),
        body: [UInt8] = [], keepAlive: Bool? = nil
    ) {
        self.method = method
        self.target = target
        if let question = target.utf8.firstIndex(of: UInt8(ascii: "?")) {
            self.path = String(target[..<question])
            self.query = String(target[target.utf8.index(after: question)...])
        } else {
            self.path = target
            self.query = nil
        }
        self.version = version
        self.headers = headers
        self.body = body
        self.keepAlive = keepAlive ?? Self.defaultKeepAlive(version: version, headers: headers)
    }

    /// Memberwise initializer used by the parser, which has already split the target.
    init(
        method: String, target: String, path: String, query: String?, version: HTTPVersion, headers: HTTPHeaders,
        body: [UInt8], keepAlive: Bool
    ) {
        self.method = method
        self.target = target
        self.path = path
        self.query = query
        self.version = version
        self.headers = headers
        self.body = body
        self.keepAlive = keepAlive
    }

    static func defaultKeepAlive(version: HTTPVersion, headers: HTTPHeaders) -> Bool {
        guard version == .http1_1 else { return false }
        return !headers.values("Connection").contains { value in
            ASCII.listElements(value).contains { ASCII.equalsLowercase($0, "close") }
        }
    }

    /// The first value of the query parameter `name` in `application/x-www-form-urlencoded` style:
    /// `+` is a space and `%XX` a byte, in both names and values; a malformed `%` escape is kept literally.
    /// A parameter without `=` has the empty value. Nil when absent.
    public func queryValue(_ name: String) -> String? {
        guard var query else { return nil }
        var name = name
        // On the bytes, without an array per pair: a name with no `%` or `+` is compared as it is
        // (a lease's `?limit=1&lease=60&wait=5` read three times cost ~16,000 instructions).
        return query.withUTF8 { bytes in
            name.withUTF8 { wanted in
                var start = 0
                while start < bytes.count {
                    let end = bytes[start...].firstIndex(of: UInt8(ascii: "&")) ?? bytes.count
                    defer { start = end + 1 }
                    guard start < end else { continue }
                    let pair = bytes[start..<end]
                    let equals = pair.firstIndex(of: UInt8(ascii: "="))
                    let rawName = pair[pair.startIndex..<(equals ?? pair.endIndex)]
                    let matches =
                        rawName.contains(where: { $0 == UInt8(ascii: "%") || $0 == UInt8(ascii: "+") })
                        ? Self.formDecoded(rawName).elementsEqual(wanted) : rawName.elementsEqual(wanted)
                    guard matches else { continue }
                    guard let equals else { return "" }
                    return String(decoding: Self.formDecoded(pair[pair.index(after: equals)...]), as: UTF8.self)
                }
                return nil
            }
        }
    }

    /// `application/x-www-form-urlencoded` decoding of one name or value: `+` is a space, `%XX` a
    /// byte, a malformed escape kept literally. Query strings and console form bodies both use it.
    public static func formDecoded<C: Collection<UInt8>>(_ bytes: C) -> [UInt8] {
        var decoded: [UInt8] = []
        decoded.reserveCapacity(bytes.count)
        var index = bytes.startIndex
        while index < bytes.endIndex {
            let byte = bytes[index]
            if byte == UInt8(ascii: "+") {
                decoded.append(UInt8(ascii: " "))
            } else if byte == UInt8(ascii: "%") {
                let first = bytes.index(after: index)
                if first < bytes.endIndex, bytes.index(after: first) < bytes.endIndex,
                    let high = hexValue(bytes[first]), let low = hexValue(bytes[bytes.index(after: first)])
                {
                    decoded.append(high << 4 | low)
                    index = bytes.index(index, offsetBy: 3)
                    continue
                }
                decoded.append(byte)
            } else {
                decoded.append(byte)
            }
            index = bytes.index(after: index)
        }
        return decoded
    }

    @inline(__always)
    static func hexValue(_ byte: UInt8) -> UInt8? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): return byte &- UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): return byte &- UInt8(ascii: "a") &+ 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): return byte &- UInt8(ascii: "A") &+ 10
        default: return nil
        }
    }
}
