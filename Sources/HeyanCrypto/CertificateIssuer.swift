import COpenSSL

/// Signs certificates and CRLs: heyan's development PKI (`heyan pki`) and tests that need odd
/// certificates use it. An issuer is a `(certificate, key)` pair; the key must match the certificate.
///
/// Certificates are X.509 v3 with a random positive 16-byte serial, subjectKeyIdentifier and
/// authorityKeyIdentifier, signed with SHA-256 (ECDSA P-256), no digest (Ed25519) or SM3 (SM2, with
/// OpenSSL's default signer ID so OpenSSL's own X.509 verification accepts it; see `docs/jws-sm2.md`).
public enum CertificateIssuer {
    /// Issues a certificate for `subjectKey` described by `spec`. Self-signed when `issuer` is nil.
    /// Random 16-byte positive serial. SKI/AKI set. SHA-256 (no digest for Ed25519; SM3 for SM2).
    public static func issue(
        _ spec: CertificateSpec, subjectKey: PrivateKey, issuer: (certificate: Certificate, key: PrivateKey)?
    ) throws -> Certificate {
        if let issuer { try requireMatch(issuer) }
        guard let x509 = X509_new() else { throw OpenSSLError.drain("X509_new", code: "openssl.memory") }
        // Owned from here on, so any early throw frees it; nobody else sees it until it is signed.
        let certificate = Certificate(takingOwnership: x509)

        guard X509_set_version(x509, 2) == 1 else { throw OpenSSLError.drain("X509_set_version", code: "openssl.certificate-build") }
        let serial = try SerialNumber.make(hex: randomSerialHex())
        defer { ASN1_INTEGER_free(serial) }
        guard X509_set_serialNumber(x509, serial) == 1 else {
            throw OpenSSLError.drain("X509_set_serialNumber", code: "openssl.certificate-build")
        }
        let subject = try makeName(commonName: spec.commonName, organization: spec.organization)
        defer { X509_NAME_free(subject) }
        guard X509_set_subject_name(x509, subject) == 1 else {
            throw OpenSSLError.drain("X509_set_subject_name", code: "openssl.certificate-build")
        }
        let issuerName = issuer.map { $0.certificate.withUnsafePointer { X509_get_subject_name($0) } } ?? subject
        guard X509_set_issuer_name(x509, issuerName) == 1 else {
            throw OpenSSLError.drain("X509_set_issuer_name", code: "openssl.certificate-build")
        }
        guard ASN1_TIME_set(X509_getm_notBefore(x509), time_t(spec.notBefore)) != nil,
            ASN1_TIME_set(X509_getm_notAfter(x509), time_t(spec.notAfter)) != nil
        else { throw OpenSSLError.drain("ASN1_TIME_set", code: "openssl.certificate-build") }
        guard subjectKey.withUnsafePointer({ X509_set_pubkey(x509, $0) }) == 1 else {
            throw OpenSSLError.drain("X509_set_pubkey", code: "openssl.certificate-build")
        }

        try addExtensions(spec, to: x509, issuer: issuer?.certificate)

        let signingKey = issuer?.key ?? subjectKey
        let context = try DigestSignatureContext.signing(with: signingKey, sm2SignerID: .openSSLDefault)
        guard context.withUnsafePointer({ X509_sign_ctx(x509, $0) }) > 0 else {
            throw OpenSSLError.drain("X509_sign_ctx", code: "openssl.certificate-sign")
        }
        return certificate
    }

    /// Issues a CRL listing `revoked`, signed by `issuer`, with authorityKeyIdentifier and cRLNumber
    /// `number` (which must grow with each new CRL of the same issuer).
    public static func issueRevocationList(
        revoked: [CertificateRevocationList.RevokedCertificate], thisUpdate: Int64, nextUpdate: Int64, number: Int,
        issuer: (certificate: Certificate, key: PrivateKey)
    ) throws -> CertificateRevocationList {
        try requireMatch(issuer)
        guard let crl = X509_CRL_new() else { throw OpenSSLError.drain("X509_CRL_new", code: "openssl.memory") }
        let list = CertificateRevocationList(takingOwnership: crl)
        guard X509_CRL_set_version(crl, 1) == 1,
            issuer.certificate.withUnsafePointer({ X509_CRL_set_issuer_name(crl, X509_get_subject_name($0)) }) == 1
        else { throw OpenSSLError.drain("X509_CRL_set_issuer_name", code: "openssl.crl-build") }
        let lastUpdate = try ASN1Time.make(thisUpdate)
        defer { ASN1_TIME_free(lastUpdate) }
        let next = try ASN1Time.make(nextUpdate)
        defer { ASN1_TIME_free(next) }
        guard X509_CRL_set1_lastUpdate(crl, lastUpdate) == 1, X509_CRL_set1_nextUpdate(crl, next) == 1 else {
            throw OpenSSLError.drain("X509_CRL_set1_lastUpdate", code: "openssl.crl-build")
        }
        for entry in revoked {
            guard let revokedEntry = X509_REVOKED_new() else { throw OpenSSLError.drain("X509_REVOKED_new", code: "openssl.memory") }
            let serial = try SerialNumber.make(hex: entry.serialNumberHex)
            defer { ASN1_INTEGER_free(serial) }
            let date = try ASN1Time.make(entry.revokedAt)
            defer { ASN1_TIME_free(date) }
            guard X509_REVOKED_set_serialNumber(revokedEntry, serial) == 1,
                X509_REVOKED_set_revocationDate(revokedEntry, date) == 1,
                X509_CRL_add0_revoked(crl, revokedEntry) == 1
            else {
                X509_REVOKED_free(revokedEntry)
                throw OpenSSLError.drain("X509_CRL_add0_revoked", code: "openssl.crl-build")
            }
        }
        guard X509_CRL_sort(crl) == 1 else { throw OpenSSLError.drain("X509_CRL_sort", code: "openssl.crl-build") }

        var v3 = X509V3_CTX()
        issuer.certificate.withUnsafePointer { X509V3_set_ctx(&v3, $0, nil, nil, crl, 0) }
        guard let authorityKeyID = X509V3_EXT_nconf_nid(nil, &v3, NID_authority_key_identifier, "keyid:always") else {
            throw OpenSSLError.drain("X509V3_EXT_nconf_nid(authorityKeyIdentifier)", code: "openssl.crl-build")
        }
        defer { X509_EXTENSION_free(authorityKeyID) }
        guard X509_CRL_add_ext(crl, authorityKeyID, -1) == 1 else {
            throw OpenSSLError.drain("X509_CRL_add_ext", code: "openssl.crl-build")
        }
        guard let crlNumber = ASN1_INTEGER_new() else { throw OpenSSLError.drain("ASN1_INTEGER_new", code: "openssl.memory") }
        defer { ASN1_INTEGER_free(crlNumber) }
        guard ASN1_INTEGER_set(crlNumber, number) == 1,
            X509_CRL_add1_ext_i2d(crl, NID_crl_number, crlNumber, 0, 0) == 1
        else { throw OpenSSLError.drain("X509_CRL_add1_ext_i2d(cRLNumber)", code: "openssl.crl-build") }

        let context = try DigestSignatureContext.signing(with: issuer.key, sm2SignerID: .openSSLDefault)
        guard context.withUnsafePointer({ X509_CRL_sign_ctx(crl, $0) }) > 0 else {
            throw OpenSSLError.drain("X509_CRL_sign_ctx", code: "openssl.crl-sign")
        }
        return list
    }

    // MARK: - Parts

    private static func requireMatch(_ issuer: (certificate: Certificate, key: PrivateKey)) throws {
        guard issuer.certificate.matches(issuer.key) else {
            throw CryptoError(
                code: "certificate.issuer-key",
                message: "the issuer key does not belong to the issuer certificate \(issuer.certificate.subject)")
        }
    }

    /// 16 random bytes as a positive DER INTEGER of exactly 16 bytes: top bit clear (positive),
    /// second bit set (no leading zero byte to strip).
    private static func randomSerialHex() throws -> String {
        var bytes = [UInt8](repeating: 0, count: 16)
        guard RAND_bytes(&bytes, Int32(bytes.count)) == 1 else { throw OpenSSLError.drain("RAND_bytes", code: "openssl.random") }
        bytes[0] = (bytes[0] & 0x7F) | 0x40
        return bytes.map { String($0, radix: 16, uppercase: true).leftPadded(to: 2) }.joined()
    }

    private static func makeName(commonName: String, organization: String?) throws -> OpaquePointer {
        guard let name = X509_NAME_new() else { throw OpenSSLError.drain("X509_NAME_new", code: "openssl.memory") }
        var entries: [(String, String)] = []
        if let organization { entries.append(("O", organization)) }
        entries.append(("CN", commonName))
        for (field, value) in entries {
            let bytes = Array(value.utf8)
            let added = bytes.withUnsafeBufferPointer {
                X509_NAME_add_entry_by_txt(name, field, heyan_MBSTRING_UTF8(), $0.baseAddress, Int32($0.count), -1, 0)
            }
            guard added == 1 else {
                X509_NAME_free(name)
                throw OpenSSLError.drain("X509_NAME_add_entry_by_txt(\(field))", code: "openssl.certificate-build")
            }
        }
        return name
    }

    private static func addExtensions(_ spec: CertificateSpec, to x509: OpaquePointer, issuer: Certificate?) throws {
        var v3 = X509V3_CTX()
        if let issuer {
            issuer.withUnsafePointer { X509V3_set_ctx(&v3, $0, x509, nil, nil, 0) }
        } else {
            X509V3_set_ctx(&v3, x509, x509, nil, nil, 0)
        }
        // Values below come from enums and fixed strings only: the config syntax never sees caller text.
        var configured: [(Int32, String)] = [(NID_basic_constraints, spec.isCA ? "critical,CA:TRUE" : "critical,CA:FALSE")]
        if !spec.keyUsage.isEmpty {
            configured.append((NID_key_usage, "critical," + spec.keyUsage.map(\.rawValue).joined(separator: ",")))
        }
        if !spec.extendedKeyUsage.isEmpty {
            configured.append((NID_ext_key_usage, spec.extendedKeyUsage.map(\.rawValue).joined(separator: ",")))
        }
        // The SKI must exist before the AKI: a self-signed certificate's AKI copies it.
        configured.append((NID_subject_key_identifier, "hash"))
        configured.append((NID_authority_key_identifier, "keyid:always"))
        for (nid, value) in configured {
            guard let ext = X509V3_EXT_nconf_nid(nil, &v3, nid, value) else {
                throw OpenSSLError.drain("X509V3_EXT_nconf_nid(\(value))", code: "openssl.certificate-build")
            }
            defer { X509_EXTENSION_free(ext) }
            guard X509_add_ext(x509, ext, -1) == 1 else {
                throw OpenSSLError.drain("X509_add_ext", code: "openssl.certificate-build")
            }
        }
        if !(spec.dnsNames.isEmpty && spec.ipAddresses.isEmpty && spec.uris.isEmpty) {
            try addSubjectAlternativeNames(spec, to: x509)
        }
    }

    /// Builds the SAN extension value by value (never through the config syntax, where a comma in a
    /// name would smuggle in another entry).
    private static func addSubjectAlternativeNames(_ spec: CertificateSpec, to x509: OpaquePointer) throws {
        guard let names = heyan_sk_GENERAL_NAME_new_null() else {
            throw OpenSSLError.drain("sk_GENERAL_NAME_new_null", code: "openssl.memory")
        }
        defer { heyan_GENERAL_NAMES_free(names) }
        func append(type: Int32, value: UnsafeMutableRawPointer) throws {
            guard let name = GENERAL_NAME_new() else { throw OpenSSLError.drain("GENERAL_NAME_new", code: "openssl.memory") }
            GENERAL_NAME_set0_value(name, type, value)
            guard heyan_sk_GENERAL_NAME_push(names, name) > 0 else {
                GENERAL_NAME_free(name)
                throw OpenSSLError.drain("sk_GENERAL_NAME_push", code: "openssl.memory")
            }
        }
        func ia5(_ text: String, field: String) throws -> UnsafeMutableRawPointer {
            guard text.utf8.allSatisfy({ $0 >= 0x20 && $0 < 0x7F }), !text.isEmpty else {
                throw CryptoError(code: "certificate.name", message: "\(field) '\(text)' must be non-empty printable ASCII")
            }
            guard let string = ASN1_IA5STRING_new() else { throw OpenSSLError.drain("ASN1_IA5STRING_new", code: "openssl.memory") }
            guard ASN1_STRING_set(string, text, Int32(text.utf8.count)) == 1 else {
                ASN1_IA5STRING_free(string)
                throw OpenSSLError.drain("ASN1_STRING_set", code: "openssl.memory")
            }
            return UnsafeMutableRawPointer(string)
        }
        for dns in spec.dnsNames { try append(type: GEN_DNS, value: ia5(dns, field: "DNS name")) }
        for address in spec.ipAddresses {
            guard let octets = a2i_IPADDRESS(address) else {
                _ = OpenSSLError.drainQueue()
                throw CryptoError(code: "certificate.name", message: "'\(address)' is not an IP address")
            }
            try append(type: GEN_IPADD, value: UnsafeMutableRawPointer(octets))
        }
        for uri in spec.uris { try append(type: GEN_URI, value: ia5(uri, field: "URI")) }
        guard X509_add1_ext_i2d(x509, NID_subject_alt_name, UnsafeMutableRawPointer(names), 0, UInt(X509V3_ADD_DEFAULT)) == 1 else {
            throw OpenSSLError.drain("X509_add1_ext_i2d(subjectAltName)", code: "openssl.certificate-build")
        }
    }
}

extension String {
    func leftPadded(to width: Int) -> String {
        count >= width ? self : String(repeating: "0", count: width - count) + self
    }
}
