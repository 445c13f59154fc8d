#if canImport(Glibc)
import Glibc
#endif
import COpenSSL

/// An X.509 certificate (an owned OpenSSL `X509`), with the fields heyan reads from it.
///
/// A department is identified by its certificate's SAN URI `urn:heyan:dept:<code>`
/// (``departmentCode``), never by its subject name.
public final class Certificate: @unchecked Sendable {
    // @unchecked Sendable: the X509 is never mutated after init; OpenSSL's lazily cached
    // extension data is computed under its own lock, so concurrent reads are safe.
    private let pointer: OpaquePointer

    /// Takes over an `X509*` (+1 reference); it is freed when this object goes away.
    public init(takingOwnership pointer: OpaquePointer) {
        self.pointer = pointer
    }

    /// Shares an `X509*` someone else owns, taking a reference of its own.
    public convenience init(copying pointer: OpaquePointer) {
        X509_up_ref(pointer)
        self.init(takingOwnership: pointer)
    }

    deinit { X509_free(pointer) }

    /// Parses the first certificate of a PEM text.
    public convenience init(pem: String) throws {
        let bio = try MemoryBIO(string: pem)
        guard let x509 = bio.withUnsafePointer({ PEM_read_bio_X509($0, nil, nil, nil) }) else {
            throw OpenSSLError.drain("PEM_read_bio_X509", code: "openssl.certificate-parse")
        }
        self.init(takingOwnership: x509)
    }

    /// Parses a DER certificate; trailing bytes are refused.
    public convenience init(der: [UInt8]) throws {
        let parsed: OpaquePointer? = der.withUnsafeBufferPointer { buffer in
            var cursor: UnsafePointer<UInt8>? = buffer.baseAddress
            guard let x509 = d2i_X509(nil, &cursor, buffer.count) else { return nil }
            if cursor != buffer.baseAddress! + buffer.count {
                X509_free(x509)
                return nil
            }
            return x509
        }
        guard let parsed else {
            throw OpenSSLError.drain("d2i_X509", code: "openssl.certificate-parse")
        }
        self.init(takingOwnership: parsed)
    }

    /// All certificates of a PEM file, in file order (for a chain: leaf first). Throws when the file
    /// holds none.
    public static func loadChain(pemFile path: String) throws -> [Certificate] {
        try parseChain(pemBytes: ProtectedFile.read(path), source: path)
    }

    /// All certificates of a PEM text, in order.
    public static func parseChain(pem: String) throws -> [Certificate] {
        try parseChain(pemBytes: Array(pem.utf8), source: "PEM")
    }

    private static func parseChain(pemBytes: [UInt8], source: String) throws -> [Certificate] {
        let bio = try MemoryBIO(bytes: pemBytes)
        var chain: [Certificate] = []
        while let x509 = bio.withUnsafePointer({ PEM_read_bio_X509($0, nil, nil, nil) }) {
            chain.append(Certificate(takingOwnership: x509))
        }
        // The loop ends with "no start line" at the end of the text; anything else is a broken block.
        let entries = OpenSSLError.drainQueue()
        let endOfText = entries.count == 1 && entries[0].reason == PEM_R_NO_START_LINE
        guard !chain.isEmpty, endOfText else {
            throw OpenSSLError(
                code: "openssl.certificate-parse",
                operation: chain.isEmpty ? "PEM_read_bio_X509(\(source)): no certificate" : "PEM_read_bio_X509(\(source))",
                entries: entries)
        }
        return chain
    }

    /// The DER encoding.
    public var derBytes: [UInt8] {
        let length = i2d_X509(pointer, nil)
        precondition(length > 0, "i2d_X509 failed on a parsed certificate")
        var bytes = [UInt8](repeating: 0, count: Int(length))
        bytes.withUnsafeMutableBufferPointer { buffer in
            var cursor = buffer.baseAddress
            _ = i2d_X509(pointer, &cursor)
        }
        return bytes
    }

    /// The PEM encoding (`-----BEGIN CERTIFICATE-----`).
    public func pemEncoded() -> String {
        let body = Base64.encode(derBytes)
        var lines = ["-----BEGIN CERTIFICATE-----"]
        var index = body.startIndex
        while index < body.endIndex {
            let end = body.index(index, offsetBy: 64, limitedBy: body.endIndex) ?? body.endIndex
            lines.append(String(body[index ..< end]))
            index = end
        }
        lines.append("-----END CERTIFICATE-----")
        return lines.joined(separator: "\n") + "\n"
    }

    /// The subject alternative name URIs, in order.
    public var sanURIs: [String] { subjectAlternativeNames(ofType: GEN_URI) }

    /// The subject alternative name DNS names, in order.
    public var sanDNSNames: [String] { subjectAlternativeNames(ofType: GEN_DNS) }

    /// Every department code the certificate's SAN URIs `urn:heyan:dept:<code>` name, in order
    /// (an empty code is no code). A department certificate has exactly one.
    public var departmentCodes: [String] { sanURIValues(after: "urn:heyan:dept:") }

    /// The department the certificate names: the code of its one SAN URI `urn:heyan:dept:<code>`.
    /// Nil when there is none, and also when there are several (even twice the same): a
    /// certificate names exactly one department, and heyan never picks one of several.
    public var departmentCode: String? {
        let codes = departmentCodes
        return codes.count == 1 ? codes[0] : nil
    }

    /// Every clerk ID the certificate's SAN URIs `urn:heyan:clerk:<id>` name, in order (an empty
    /// ID is no ID). A clerk's certificate (docs/console.md, "Clerks") has exactly one, next to its
    /// department's `urn:heyan:dept:<code>`; a department's own certificate has none. The server
    /// checks the count and the spelling.
    public var clerkIDs: [String] { sanURIValues(after: CertificateSpec.clerkURIPrefix) }

    /// What follows `prefix` in each SAN URI that starts with it, in order (an empty rest is none).
    private func sanURIValues(after prefix: String) -> [String] {
        sanURIs.compactMap { uri in
            guard uri.hasPrefix(prefix) else { return nil }
            let value = String(uri.dropFirst(prefix.count))
            return value.isEmpty ? nil : value
        }
    }

    /// The subject's first commonName as text (a UTF8String or an ASCII string type), or nil when
    /// there is none. For a clerk's certificate, the clerk's name (姓名).
    public var commonName: String? {
        guard let name = X509_get_subject_name(pointer) else { return nil }
        let index = X509_NAME_get_index_by_NID(name, NID_commonName, -1)
        guard index >= 0, let entry = X509_NAME_get_entry(name, index), let data = X509_NAME_ENTRY_get_data(entry) else {
            _ = OpenSSLError.drainQueue()
            return nil
        }
        return ASN1StringValue.utf8(data)
    }

    /// The subject name in RFC 2253 form, e.g. `CN=housing-fund,O=heyan development`.
    public var subject: String { Self.rfc2253(X509_get_subject_name(pointer)) }

    /// The issuer name in RFC 2253 form.
    public var issuer: String { Self.rfc2253(X509_get_issuer_name(pointer)) }

    /// The serial number in uppercase hexadecimal, whole bytes (as `openssl x509 -serial` prints it).
    public var serialNumberHex: String {
        guard let serial = X509_get0_serialNumber(pointer) else { return "" }
        return SerialNumber.hex(serial)
    }

    /// The start of the validity period, in unix seconds.
    public var notBefore: Int64 { ASN1Time.unixSeconds(heyan_X509_get_notBefore(pointer)) }

    /// The end of the validity period, in unix seconds.
    public var notAfter: Int64 { ASN1Time.unixSeconds(heyan_X509_get_notAfter(pointer)) }

    /// Whether the certificate is a CA (basicConstraints CA:TRUE).
    public var isCA: Bool { X509_check_ca(pointer) != 0 }

    /// Whether the certificate has a keyUsage extension that includes digitalSignature.
    public var allowsDigitalSignature: Bool {
        let flags = X509_get_extension_flags(pointer)
        return flags & heyan_EXFLAG_KUSAGE() != 0 && X509_get_key_usage(pointer) & heyan_KU_DIGITAL_SIGNATURE() != 0
    }

    /// The algorithm of the certified public key, nil when heyan does not use that key type.
    public var publicKeyAlgorithm: KeyAlgorithm? {
        guard let key = X509_get0_pubkey(pointer) else {
            _ = OpenSSLError.drainQueue()
            return nil
        }
        return KeyAlgorithm(publicKey: key)
    }

    /// Whether `key` is the private half of this certificate's public key.
    public func matches(_ key: PrivateKey) -> Bool {
        let result = key.withUnsafePointer { X509_check_private_key(pointer, $0) } == 1
        _ = OpenSSLError.drainQueue()
        return result
    }

    /// Whether `issuer`'s public key verifies this certificate's signature (and the names chain up).
    /// Checks nothing else: not validity, not usage; use ``TrustStore`` for that.
    public func isSigned(by issuer: Certificate) -> Bool {
        let result = issuer.withUnsafePointer { issuerPointer -> Bool in
            guard X509_check_issued(issuerPointer, pointer) == X509_V_OK,
                let key = X509_get0_pubkey(issuerPointer)
            else { return false }
            return X509_verify(pointer, key) == 1
        }
        _ = OpenSSLError.drainQueue()
        return result
    }

    /// Calls `body` with the `X509*`, valid only for the duration of the call. Do not free it.
    public func withUnsafePointer<R>(_ body: (OpaquePointer) throws -> R) rethrows -> R { try body(pointer) }

    private func subjectAlternativeNames(ofType wanted: Int32) -> [String] {
        guard let raw = X509_get_ext_d2i(pointer, NID_subject_alt_name, nil, nil) else {
            _ = OpenSSLError.drainQueue()
            return []
        }
        let names = OpaquePointer(raw)
        defer { heyan_GENERAL_NAMES_free(names) }
        var result: [String] = []
        for index in 0 ..< heyan_sk_GENERAL_NAME_num(names) {
            var type: Int32 = 0
            guard let name = heyan_sk_GENERAL_NAME_value(names, index),
                let value = GENERAL_NAME_get0_value(name, &type), type == wanted
            else { continue }
            result.append(ASN1StringValue.utf8(value.assumingMemoryBound(to: ASN1_STRING.self)))
        }
        return result
    }

    private static func rfc2253(_ name: OpaquePointer?) -> String {
        guard let name, let bio = try? MemoryBIO() else { return "" }
        guard bio.withUnsafePointer({ X509_NAME_print_ex($0, name, 0, heyan_XN_FLAG_RFC2253()) }) >= 0 else {
            _ = OpenSSLError.drainQueue()
            return ""
        }
        return bio.string
    }
}

/// Reading OpenSSL's ASN.1 values into Swift.
enum ASN1StringValue {
    static func utf8(_ string: UnsafePointer<ASN1_STRING>) -> String {
        let length = Int(ASN1_STRING_length(string))
        guard length > 0, let data = ASN1_STRING_get0_data(string) else { return "" }
        return String(decoding: UnsafeBufferPointer(start: data, count: length), as: UTF8.self)
    }
}

enum ASN1Time {
    /// Unix seconds of an ASN.1 UTCTime or GeneralizedTime.
    static func unixSeconds(_ time: UnsafePointer<ASN1_TIME>?) -> Int64 {
        guard let time else { return 0 }
        var parts = tm()
        guard ASN1_TIME_to_tm(time, &parts) == 1 else {
            _ = OpenSSLError.drainQueue()
            return 0
        }
        return Int64(timegm(&parts))
    }

    /// A new ASN1_TIME (caller frees with ASN1_TIME_free): UTCTime up to 2049, GeneralizedTime after.
    static func make(_ unixSeconds: Int64) throws -> UnsafeMutablePointer<ASN1_TIME> {
        guard let time = ASN1_TIME_set(nil, time_t(unixSeconds)) else {
            throw OpenSSLError.drain("ASN1_TIME_set", code: "openssl.time")
        }
        return time
    }
}

enum SerialNumber {
    static func hex(_ serial: UnsafePointer<ASN1_INTEGER>) -> String {
        guard let number = ASN1_INTEGER_to_BN(serial, nil) else {
            _ = OpenSSLError.drainQueue()
            return ""
        }
        defer { BN_free(number) }
        return hex(number)
    }

    static func hex(_ number: OpaquePointer) -> String {
        guard let text = BN_bn2hex(number) else {
            _ = OpenSSLError.drainQueue()
            return ""
        }
        defer { heyan_OPENSSL_free(text) }
        var hex = String(cString: text)
        if hex.count % 2 == 1 { hex = "0" + hex }
        return hex
    }

    /// A new ASN1_INTEGER (caller frees) for an uppercase or lowercase hex serial.
    static func make(hex: String) throws -> UnsafeMutablePointer<ASN1_INTEGER> {
        guard !hex.isEmpty, hex.allSatisfy(\.isHexDigit) else {
            throw CryptoError(code: "certificate.serial", message: "'\(hex)' is not a hexadecimal serial number")
        }
        var number: OpaquePointer?
        guard BN_hex2bn(&number, hex) > 0, let number else {
            throw OpenSSLError.drain("BN_hex2bn", code: "openssl.serial")
        }
        defer { BN_free(number) }
        guard let integer = BN_to_ASN1_INTEGER(number, nil) else {
            throw OpenSSLError.drain("BN_to_ASN1_INTEGER", code: "openssl.serial")
        }
        return integer
    }
}
