extension TestPKI.ClientFiles {
    /// Any certificate and key pair as a client identity (e.g. the CA's own, for negative tests).
    public static func pair(certificate: String, key: String) -> TestPKI.ClientFiles {
        TestPKI.ClientFiles(certificate: certificate, key: key)
    }
}
