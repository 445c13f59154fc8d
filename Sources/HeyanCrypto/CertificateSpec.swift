#if canImport(Glibc)
import Glibc
#endif
import HeyanDomain

/// A keyUsage bit (RFC 5280 §4.2.1.3).
public enum KeyUsage: String, Sendable, CaseIterable {
    case digitalSignature, keyEncipherment, keyAgreement, keyCertSign, cRLSign
}

/// An extendedKeyUsage purpose (RFC 5280 §4.2.1.12).
public enum ExtendedKeyUsage: String, Sendable, CaseIterable {
    case serverAuth, clientAuth
}

/// What a certificate to be issued says: names, validity, CA flag, key usages and SANs.
///
/// Start from a factory (``authority(commonName:organization:notBefore:notAfter:)``,
/// ``server(commonName:dnsNames:ipAddresses:notBefore:notAfter:)``,
/// ``department(code:notBefore:notAfter:)``, ``attestationSigner(commonName:notBefore:notAfter:)``)
/// and change fields for odd test certificates (expired, not yet valid, wrong EKU).
/// ``CertificateIssuer/issue(_:subjectKey:issuer:)`` turns it into a signed certificate.
public struct CertificateSpec: Sendable {
    public var commonName: String
    public var organization: String?
    /// Unix seconds. Any value, including the past (expired certificates for tests).
    public var notBefore: Int64
    /// Unix seconds.
    public var notAfter: Int64
    /// basicConstraints CA:TRUE (critical) when true, CA:FALSE otherwise.
    public var isCA: Bool
    /// keyUsage (critical); omitted when empty.
    public var keyUsage: [KeyUsage]
    /// extendedKeyUsage; omitted when empty.
    public var extendedKeyUsage: [ExtendedKeyUsage]
    public var dnsNames: [String]
    /// IPv4 or IPv6 addresses in text form.
    public var ipAddresses: [String]
    public var uris: [String]

    /// The organization heyan's development PKI writes into its certificates.
    public static let developmentOrganization = "heyan development"
    /// Five minutes of clock skew allowance: default certificates start this long before now.
    public static let backdating: Int64 = 300
    public static let day: Int64 = 86_400

    public init(
        commonName: String, organization: String? = nil, notBefore: Int64, notAfter: Int64, isCA: Bool = false,
        keyUsage: [KeyUsage] = [], extendedKeyUsage: [ExtendedKeyUsage] = [], dnsNames: [String] = [],
        ipAddresses: [String] = [], uris: [String] = []
    ) {
        self.commonName = commonName
        self.organization = organization
        self.notBefore = notBefore
        self.notAfter = notAfter
        self.isCA = isCA
        self.keyUsage = keyUsage
        self.extendedKeyUsage = extendedKeyUsage
        self.dnsNames = dnsNames
        self.ipAddresses = ipAddresses
        self.uris = uris
    }

    /// A CA: CA:TRUE, keyCertSign + cRLSign, valid 10 years from now (minus ``backdating``) by default.
    public static func authority(
        commonName: String, organization: String? = developmentOrganization, notBefore: Int64? = nil,
        notAfter: Int64? = nil
    ) -> CertificateSpec {
        let now = currentTime()
        return CertificateSpec(
            commonName: commonName, organization: organization, notBefore: notBefore ?? now - backdating,
            notAfter: notAfter ?? now + 3650 * day, isCA: true, keyUsage: [.keyCertSign, .cRLSign])
    }

    /// A TLS server: EKU serverAuth, keyUsage digitalSignature, the given SANs; 825 days by default.
    public static func server(
        commonName: String = "localhost", dnsNames: [String] = ["localhost"], ipAddresses: [String] = ["127.0.0.1"],
        notBefore: Int64? = nil, notAfter: Int64? = nil
    ) -> CertificateSpec {
        let now = currentTime()
        return CertificateSpec(
            commonName: commonName, organization: developmentOrganization, notBefore: notBefore ?? now - backdating,
            notAfter: notAfter ?? now + 825 * day, keyUsage: [.digitalSignature], extendedKeyUsage: [.serverAuth],
            dnsNames: dnsNames, ipAddresses: ipAddresses)
    }

    /// A department's TLS client certificate: SAN URI `urn:heyan:dept:<code>`, EKU clientAuth,
    /// keyUsage digitalSignature; 825 days by default.
    public static func department(code: String, notBefore: Int64? = nil, notAfter: Int64? = nil) -> CertificateSpec {
        let now = currentTime()
        return CertificateSpec(
            commonName: code, organization: developmentOrganization, notBefore: notBefore ?? now - backdating,
            notAfter: notAfter ?? now + 825 * day, keyUsage: [.digitalSignature], extendedKeyUsage: [.clientAuth],
            uris: [departmentURI(code)])
    }

    /// A clerk's (经办人's) TLS client certificate (docs/console.md, "Clerks"): the department's
    /// SAN URI `urn:heyan:dept:<code>` (so the server derives the department exactly as from a
    /// department certificate), a second SAN URI `urn:heyan:clerk:<clerkID>`, and the clerk's name
    /// as the subject's commonName (UTF8String; O stays the PKI's organization). EKU clientAuth,
    /// keyUsage digitalSignature; 825 days by default.
    public static func clerk(
        department code: String, clerkID: String, name: String, notBefore: Int64? = nil, notAfter: Int64? = nil
    ) -> CertificateSpec {
        var spec = department(code: code, notBefore: notBefore, notAfter: notAfter)
        spec.commonName = name
        spec.uris.append(clerkURI(clerkID))
        return spec
    }

    /// The attestation signer: keyUsage digitalSignature, no EKU (it signs JWS, not TLS); 825 days by default.
    public static func attestationSigner(
        commonName: String = "heyan attestation signer", notBefore: Int64? = nil, notAfter: Int64? = nil
    ) -> CertificateSpec {
        let now = currentTime()
        return CertificateSpec(
            commonName: commonName, organization: developmentOrganization, notBefore: notBefore ?? now - backdating,
            notAfter: notAfter ?? now + 825 * day, keyUsage: [.digitalSignature])
    }

    /// `urn:heyan:dept:<code>`, the SAN URI that names a department.
    public static func departmentURI(_ code: String) -> String { "urn:heyan:dept:\(code)" }

    /// The prefix of the SAN URI that names a clerk.
    public static let clerkURIPrefix = "urn:heyan:clerk:"

    /// `urn:heyan:clerk:<id>`, the SAN URI that names a clerk within the certificate's department.
    public static func clerkURI(_ id: String) -> String { clerkURIPrefix + id }

    static func currentTime() -> Int64 { SystemClock().nowSeconds() }
}
