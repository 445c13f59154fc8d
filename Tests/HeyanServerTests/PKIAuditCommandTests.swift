import HeyanCrypto
import HeyanTestSupport
import Testing

/// `heyan pki init|issue|revoke` leave a record in `pki-audit.log`, and `heyan pki log` checks it.
@Suite struct PKIAuditCommandTests {
    static let binary = packageRoot() + "/.build/debug/heyan"

    @Test func everyPKIOperationIsLoggedWithSubjectAndSerial() throws {
        let directory = TemporaryDirectory()
        let out = directory.file("pki")
        let departments = packageRoot() + "/config/departments.json"
        #expect(try Subprocess.run([Self.binary, "pki", "init", "--out", out, "--departments", departments]).status == 0)
        let codes = try DevelopmentPKI.departmentCodes(fromJSON: try readFile(departments))
        let pki = DevelopmentPKI(directory: out)
        var records = try PKIAuditLog.verify(path: pki.auditLogFile)
        // CA, server, signer, one certificate per department, the first CRL.
        #expect(records.count == 3 + codes.count + 1)
        #expect(records.first?.operation == "ca")
        #expect(records.last?.operation == "crl")
        let hrss = try Certificate.loadChain(pemFile: pki.departmentCertificateFile("hrss"))[0]
        #expect(records.contains { $0.operation == "issue" && $0.serial == hrss.serialNumberHex && $0.subject == hrss.subject })

        #expect(try Subprocess.run([Self.binary, "pki", "issue", "--out", out, "--department", "new-dept"]).status == 0)
        let revoked = try Subprocess.run([Self.binary, "pki", "revoke", "--out", out, pki.departmentCertificateFile("new-dept")])
        #expect(revoked.status == 0)
        let newDept = try Certificate.loadChain(pemFile: pki.departmentCertificateFile("new-dept"))[0]
        records = try PKIAuditLog.verify(path: pki.auditLogFile)
        #expect(records.suffix(2).map(\.operation) == ["issue", "revoke"])
        #expect(records.suffix(2).allSatisfy { $0.serial == newDept.serialNumberHex })
        #expect(records.last?.detail == "cRLNumber 2")

        let log = try Subprocess.run([Self.binary, "pki", "log", "--out", out])
        #expect(log.status == 0)
        #expect(log.stdout.contains("\(records.count) entries, hash chain intact"))

        // A refused operation (the PKI exists) adds nothing.
        #expect(try Subprocess.run([Self.binary, "pki", "init", "--out", out, "--departments", departments]).status != 0)
        #expect(try PKIAuditLog.verify(path: pki.auditLogFile).count == records.count)

        // A changed line is reported by `heyan pki log`.
        var text = String(decoding: try readFile(pki.auditLogFile), as: UTF8.self)
        text = text.replacing("\"operation\":\"revoke\"", with: "\"operation\":\"issue\"")
        try writeFile(pki.auditLogFile, Array(text.utf8), mode: 0o600)
        let broken = try Subprocess.run([Self.binary, "pki", "log", "--out", out])
        #expect(broken.status != 0)
        #expect((broken.stdout + broken.stderr).contains("pki.audit-log"))
    }
}
