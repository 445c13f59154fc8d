import HeyanDomain
/// A response to serialize as HTTP/1.1. The body is always sent with a computed Content-Length (heyan never
/// chunks responses).
public struct HTTPResponse: Sendable, Equatable {
    public var status: Int
    public var headers: HTTPHeaders
    public var body: [UInt8]

    public init(status: Int, headers: HTTPHeaders = .init(), body: [UInt8] = []) {
        self.status = status
        self.headers = headers
        self.body = body
    }

    /// The interim response to send on ``HTTPParserEvent/continueExpected``.
    public static let continueBytes: [UInt8] = Array("HTTP/1.1 100 Continue\r\n\r\n".utf8)

    /// A body already encoded as JSON, sent as `application/json`.
    public static func json(_ status: Int, _ body: [UInt8]) -> HTTPResponse {
        HTTPResponse(status: status, headers: ["Content-Type": "application/json"], body: body)
    }

    public static func json(_ status: Int, _ value: JSONValue) -> HTTPResponse {
        json(status, value.jsonBytes())
    }

    public static func text(_ status: Int, _ body: String, contentType: String = "text/plain; charset=utf-8")
        -> HTTPResponse
    {
        HTTPResponse(status: status, headers: ["Content-Type": contentType], body: Array(body.utf8))
    }

    /// An RFC 9457 problem as `application/problem+json`, with the headers its status calls for:
    /// `Allow` for 405 (from the `allowed` member) and `Retry-After` for 429 and 503 (from `retryAfter`).
    public static func problem(_ problem: Problem) -> HTTPResponse {
        var headers: HTTPHeaders = ["Content-Type": "application/problem+json"]
        for (name, value) in problem.extra {
            switch (name, value) {
            case ("allowed", .array(let methods)) where problem.status == 405:
                let names = methods.compactMap { method -> String? in
                    if case .string(let name) = method { return name }
                    return nil
                }
                headers.add("Allow", names.joined(separator: ", "))
            case ("retryAfter", .int(let seconds)) where problem.status == 429 || problem.status == 503:
                headers.add("Retry-After", String(seconds))
            default:
                break
            }
        }
        return HTTPResponse(status: problem.status, headers: headers, body: problem.jsonBytes())
    }

    /// Appends the status line, the header section and the body to `buffer`.
    ///
    /// Written in this order: `Date` (when `date` is given; a `Date` field in ``headers`` is then skipped),
    /// ``headers`` in order, `Content-Length: <body.count>`, and `Connection: close` when `!keepAlive`. A
    /// `Content-Length` or `Transfer-Encoding` in ``headers`` is never written (framing is the serializer's job),
    /// nor `Connection` when `!keepAlive`. 1xx, 204 and 304 responses get neither Content-Length nor body.
    /// With `headOnly` (a response to HEAD) the Content-Length of the body is sent but not the body.
    /// Fields whose name is not a token are skipped, and control characters other than HTAB in values are
    /// written as spaces, so no value can inject a header line.
    public func serialize(into buffer: inout [UInt8], keepAlive: Bool, date: String?, headOnly: Bool = false) {
        // No reserveCapacity(count + n) here: on a buffer holding pipelined responses it would
        // reallocate to the exact size on every call (quadratic copying); appends grow geometrically.
        buffer.append(contentsOf: "HTTP/1.1 ".utf8)
        Self.appendDecimal(status, to: &buffer)
        buffer.append(ASCII.sp)
        buffer.append(contentsOf: HTTPStatus.reason(status).utf8)
        buffer.append(contentsOf: "\r\n".utf8)
        if let date {
            Self.appendField("Date", date, to: &buffer)
        }
        for (name, value) in headers {
            // Fields the serializer owns are recognised by length first: most names skip every check.
            switch name.utf8.count {
            case 14 where HTTPHeaders.namesEqual(name, "Content-Length"): continue
            case 17 where HTTPHeaders.namesEqual(name, "Transfer-Encoding"): continue
            case 10 where !keepAlive && HTTPHeaders.namesEqual(name, "Connection"): continue
            case 4 where date != nil && HTTPHeaders.namesEqual(name, "Date"): continue
            default: break
            }
            guard name.utf8.withContiguousStorageIfAvailable(ASCII.isToken) ?? ASCII.isToken(name.utf8) else { continue }
            Self.appendField(name, value, to: &buffer)
        }
        let hasBody = !(100...199).contains(status) && status != 204 && status != 304
        if hasBody {
            buffer.append(contentsOf: "Content-Length: ".utf8)
            Self.appendDecimal(body.count, to: &buffer)
            buffer.append(contentsOf: "\r\n".utf8)
        }
        if !keepAlive {
            buffer.append(contentsOf: "Connection: close\r\n".utf8)
        }
        buffer.append(contentsOf: "\r\n".utf8)
        if hasBody && !headOnly {
            buffer.append(contentsOf: body)
        }
    }

    /// The serialized response as a new array.
    public func serialized(keepAlive: Bool, date: String?, headOnly: Bool = false) -> [UInt8] {
        var buffer: [UInt8] = []
        serialize(into: &buffer, keepAlive: keepAlive, date: date, headOnly: headOnly)
        return buffer
    }

    private static func appendField(_ name: String, _ value: String, to buffer: inout [UInt8]) {
        buffer.append(contentsOf: name.utf8)
        buffer.append(contentsOf: ": ".utf8)
        // On the contiguous UTF-8 of a native string: the UTF8View's iterator cost ~1,700 instructions
        // per field (issue 16).
        let plain =
            value.utf8.withContiguousStorageIfAvailable { $0.allSatisfy(ASCII.isFieldValueByte) }
            ?? value.utf8.allSatisfy(ASCII.isFieldValueByte)
        if plain {
            buffer.append(contentsOf: value.utf8)  // the usual case: one bulk copy
        } else {
            for byte in value.utf8 {
                buffer.append(ASCII.isFieldValueByte(byte) ? byte : ASCII.sp)
            }
        }
        buffer.append(contentsOf: "\r\n".utf8)
    }

    static func appendDecimal(_ value: Int, to buffer: inout [UInt8]) {
        buffer.append(contentsOf: String(value).utf8)  // a small string: no allocation
    }
}

/// Reason phrases (RFC 9110 §15) for the status line.
public enum HTTPStatus {
    /// The registered reason phrase, or "" for an unregistered code (an empty reason-phrase is valid).
    public static func reason(_ status: Int) -> String {
        switch status {
        case 100: "Continue"
        case 101: "Switching Protocols"
        case 200: "OK"
        case 201: "Created"
        case 202: "Accepted"
        case 204: "No Content"
        case 206: "Partial Content"
        case 301: "Moved Permanently"
        case 302: "Found"
        case 303: "See Other"
        case 304: "Not Modified"
        case 307: "Temporary Redirect"
        case 308: "Permanent Redirect"
        case 400: "Bad Request"
        case 401: "Unauthorized"
        case 403: "Forbidden"
        case 404: "Not Found"
        case 405: "Method Not Allowed"
        case 406: "Not Acceptable"
        case 408: "Request Timeout"
        case 409: "Conflict"
        case 410: "Gone"
        case 411: "Length Required"
        case 412: "Precondition Failed"
        case 413: "Content Too Large"
        case 414: "URI Too Long"
        case 415: "Unsupported Media Type"
        case 416: "Range Not Satisfiable"
        case 417: "Expectation Failed"
        case 421: "Misdirected Request"
        case 422: "Unprocessable Content"
        case 425: "Too Early"
        case 426: "Upgrade Required"
        case 428: "Precondition Required"
        case 429: "Too Many Requests"
        case 431: "Request Header Fields Too Large"
        case 500: "Internal Server Error"
        case 501: "Not Implemented"
        case 502: "Bad Gateway"
        case 503: "Service Unavailable"
        case 504: "Gateway Timeout"
        case 505: "HTTP Version Not Supported"
        default: ""
        }
    }
}

/// HTTP dates (RFC 9110 §5.6.7) without Foundation.
public enum HTTPDate {
    private static let weekdays: [String] = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"]
    private static let months: [String] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ]

    /// IMF-fixdate, e.g. `Sun, 06 Nov 1994 08:49:37 GMT` for 784111777. The year is written with four digits
    /// (modulo 10000 outside 0...9999, which no real clock reaches).
    public static func format(unixSeconds: Int64) -> String {
        let (days, secondOfDay) = floorDivision(unixSeconds, 86_400)
        let (year, month, day) = civilDate(daysSinceEpoch: days)
        // 1970-01-01 was a Thursday.
        let weekday = Int(floorDivision(days + 4, 7).remainder)
        var text: [UInt8] = []
        text.reserveCapacity(29)
        text.append(contentsOf: weekdays[weekday].utf8)
        text.append(contentsOf: ", ".utf8)
        appendTwoDigits(day, to: &text)
        text.append(ASCII.sp)
        text.append(contentsOf: months[month - 1].utf8)
        text.append(ASCII.sp)
        let fourDigitYear = Int(((year % 10_000) + 10_000) % 10_000)
        appendTwoDigits(fourDigitYear / 100, to: &text)
        appendTwoDigits(fourDigitYear % 100, to: &text)
        text.append(ASCII.sp)
        appendTwoDigits(Int(secondOfDay / 3600), to: &text)
        text.append(UInt8(ascii: ":"))
        appendTwoDigits(Int(secondOfDay / 60 % 60), to: &text)
        text.append(UInt8(ascii: ":"))
        appendTwoDigits(Int(secondOfDay % 60), to: &text)
        text.append(contentsOf: " GMT".utf8)
        return String(decoding: text, as: UTF8.self)
    }

    private static func floorDivision(_ value: Int64, _ divisor: Int64) -> (quotient: Int64, remainder: Int64) {
        var quotient = value / divisor
        var remainder = value % divisor
        if remainder < 0 {
            quotient -= 1
            remainder += divisor
        }
        return (quotient, remainder)
    }

    /// Proleptic Gregorian date from days since 1970-01-01 (Howard Hinnant's `civil_from_days`).
    private static func civilDate(daysSinceEpoch: Int64) -> (year: Int64, month: Int, day: Int) {
        let shifted = daysSinceEpoch + 719_468
        let era = floorDivision(shifted, 146_097).quotient
        let dayOfEra = shifted - era * 146_097
        let yearOfEra = (dayOfEra - dayOfEra / 1460 + dayOfEra / 36_524 - dayOfEra / 146_096) / 365
        let dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100)
        let monthIndex = (5 * dayOfYear + 2) / 153
        let day = Int(dayOfYear - (153 * monthIndex + 2) / 5 + 1)
        let month = Int(monthIndex < 10 ? monthIndex + 3 : monthIndex - 9)
        let year = yearOfEra + era * 400 + (month <= 2 ? 1 : 0)
        return (year, month, day)
    }

    private static func appendTwoDigits(_ value: Int, to buffer: inout [UInt8]) {
        buffer.append(UInt8(ascii: "0") + UInt8(value / 10))
        buffer.append(UInt8(ascii: "0") + UInt8(value % 10))
    }
}
