import HeyanDomain

/// Size limits the parser enforces while bytes arrive, so a client can never make it buffer more than
/// one request line, one header section and one body allowance (see design.md, "Limits").
public struct HTTPParserLimits: Sendable {
    /// Longest request line, CRLF excluded. Longer → 414, without waiting for the line end.
    public var requestLineBytes = 8192
    /// Largest header section: the field lines with their CRLFs, the request line and the final empty line
    /// excluded. Larger → 431. The same allowance applies to a chunked body's trailer section (431) and to all its
    /// chunk extensions together (400).
    public var headerBytes = 16384
    /// Most field lines in the header section (and in the trailer section). More → 431.
    public var headerCount = 100
    /// Largest body (after de-chunking). Larger → 413, as soon as the declared length or a chunk size says so.
    public var bodyBytes = 1 << 20
    /// Larger body allowance for specific routes (e.g. `POST /v1/records:batch` gets 16 MiB):
    /// called with (method, path) once the request line is read; nil keeps ``bodyBytes``.
    public var bodyLimitOverride: (@Sendable (String, String) -> Int?)? = nil

    public init() {}
}

/// Why a request was refused while parsing: the HTTP status to answer with, a stable code, and a message
/// for the problem detail. The connection must be closed after answering, since framing is lost.
///
/// Each kind is a static member (``bareLF``, ``contentLengthInvalid`` …), so callers and tests compare with
/// `==` and new kinds never break a `switch`. ``Problem/from(_:)`` maps it to a problem body.
public struct HTTPParseError: HeyanError, Equatable {
    /// 400, 413, 414, 417, 431, 501 or 505.
    public let status: Int
    /// Stable, dotted identifier such as `http.bare-lf`.
    public let code: String
    /// A sentence for the problem detail.
    public let message: String

    public init(status: Int, code: String, message: String) {
        self.status = status
        self.code = code
        self.message = message
    }
}

extension HTTPParseError {
    // Request line (RFC 9112 §3).
    public static let requestLineTooLong = HTTPParseError(
        status: 414, code: "http.request-line-too-long", message: "The request line is longer than allowed.")
    public static let requestLineInvalid = HTTPParseError(
        status: 400, code: "http.request-line-invalid",
        message: "The request line must be: method SP request-target SP HTTP-version.")
    public static let methodInvalid = HTTPParseError(
        status: 400, code: "http.method-invalid", message: "The method must be a token.")
    public static let targetInvalid = HTTPParseError(
        status: 400, code: "http.target-invalid",
        message: "The request-target contains a control character, a space, a fragment or a non-ASCII byte.")
    public static let targetForm = HTTPParseError(
        status: 400, code: "http.target-form",
        message: "Only origin-form request-targets (starting with '/') are accepted, or '*' for OPTIONS.")
    public static let versionInvalid = HTTPParseError(
        status: 400, code: "http.version-invalid", message: "The HTTP-version is malformed.")
    public static let versionUnsupported = HTTPParseError(
        status: 505, code: "http.version-unsupported", message: "Only HTTP/1.1 and HTTP/1.0 are supported.")
    public static let tooManyEmptyLines = HTTPParseError(
        status: 400, code: "http.too-many-empty-lines", message: "Too many empty lines before the request line.")

    // Line endings and field lines (RFC 9112 §2.2, §5).
    public static let bareLF = HTTPParseError(
        status: 400, code: "http.bare-lf", message: "Lines must end with CRLF; a bare LF was received.")
    public static let bareCR = HTTPParseError(
        status: 400, code: "http.bare-cr", message: "A CR not followed by LF was received.")
    public static let obsFold = HTTPParseError(
        status: 400, code: "http.obs-fold", message: "Obsolete line folding (a line starting with whitespace).")
    public static let fieldMissingColon = HTTPParseError(
        status: 400, code: "http.field-missing-colon", message: "A field line has no colon.")
    public static let fieldNameInvalid = HTTPParseError(
        status: 400, code: "http.field-name-invalid", message: "A field name is empty or not a token.")
    public static let fieldNameWhitespace = HTTPParseError(
        status: 400, code: "http.field-name-whitespace",
        message: "Whitespace between a field name and the colon is not allowed.")
    public static let fieldValueInvalid = HTTPParseError(
        status: 400, code: "http.field-value-invalid",
        message: "A field value contains NUL, DEL or a control character other than HTAB.")
    public static let headerTooLarge = HTTPParseError(
        status: 431, code: "http.header-too-large", message: "The header section is larger than allowed.")
    public static let tooManyFields = HTTPParseError(
        status: 431, code: "http.too-many-fields", message: "The header section has more fields than allowed.")

    // Semantics of the header section (RFC 9110 §7.2, RFC 9112 §6).
    public static let hostMissing = HTTPParseError(
        status: 400, code: "http.host-missing", message: "An HTTP/1.1 request must carry a Host field.")
    public static let hostDuplicate = HTTPParseError(
        status: 400, code: "http.host-duplicate", message: "A request must not carry more than one Host field.")
    public static let contentLengthInvalid = HTTPParseError(
        status: 400, code: "http.content-length-invalid",
        message: "Content-Length must be a single decimal number without sign, spaces or commas.")
    public static let contentLengthDuplicate = HTTPParseError(
        status: 400, code: "http.content-length-duplicate", message: "More than one Content-Length field.")
    public static let transferEncodingWithContentLength = HTTPParseError(
        status: 400, code: "http.te-and-content-length",
        message: "A request must not carry both Transfer-Encoding and Content-Length.")
    public static let transferEncodingInHTTP10 = HTTPParseError(
        status: 400, code: "http.transfer-encoding-http10", message: "Transfer-Encoding is not allowed in HTTP/1.0.")
    public static let transferEncodingInvalid = HTTPParseError(
        status: 400, code: "http.transfer-encoding-invalid",
        message: "Transfer-Encoding must end with chunked, applied once, with no empty elements.")
    public static let transferEncodingUnsupported = HTTPParseError(
        status: 501, code: "http.transfer-encoding-unsupported",
        message: "Only the chunked transfer coding is supported.")
    public static let expectationUnsupported = HTTPParseError(
        status: 417, code: "http.expectation-unsupported", message: "Only 'Expect: 100-continue' is supported.")
    public static let bodyTooLarge = HTTPParseError(
        status: 413, code: "http.body-too-large", message: "The request body is larger than allowed for this route.")

    // Chunked transfer coding (RFC 9112 §7.1).
    public static let chunkSizeInvalid = HTTPParseError(
        status: 400, code: "http.chunk-size-invalid", message: "A chunk size is not a hexadecimal number or overflows.")
    public static let chunkLineTooLong = HTTPParseError(
        status: 400, code: "http.chunk-line-too-long", message: "A chunk-size line is longer than allowed.")
    public static let chunkExtensionInvalid = HTTPParseError(
        status: 400, code: "http.chunk-extension-invalid", message: "A chunk extension is malformed.")
    public static let chunkExtensionsTooLarge = HTTPParseError(
        status: 400, code: "http.chunk-extensions-too-large", message: "The chunk extensions are larger than allowed.")
    public static let chunkMissingCRLF = HTTPParseError(
        status: 400, code: "http.chunk-missing-crlf", message: "Chunk data must be followed by CRLF.")
    public static let trailerTooLarge = HTTPParseError(
        status: 431, code: "http.trailer-too-large", message: "The trailer section is larger than allowed.")
    public static let tooManyTrailerFields = HTTPParseError(
        status: 431, code: "http.too-many-trailer-fields", message: "The trailer section has more fields than allowed.")
}
