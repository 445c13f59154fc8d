#if canImport(Glibc)
import Glibc
#endif
import HeyanCrypto
import HeyanDomain
import HeyanTransparencyLog

/// `heyan pki init|issue|revoke`: the development PKI (see ``DevelopmentPKI``).
///
///     heyan pki init   --out DIR --departments FILE [--algorithm ec-p256|ed25519]
///     heyan pki issue  --out DIR --department CODE [--clerk ID --name 姓名]
///     heyan pki revoke --out DIR CERT.pem
///     heyan pki log    --out DIR
///
/// Every operation is appended to `DIR/pki-audit.log` (``PKIAuditLog``: hash-chained JSON lines); `pki log`
/// checks the chain and prints the entries.
enum PKICommand {
    static let usage = """
        usage: heyan pki init   --out DIR --departments FILE [--algorithm ec-p256|ed25519]
               heyan pki issue  --out DIR --department CODE [--clerk ID --name NAME]
               heyan pki revoke --out DIR CERT.pem
               heyan pki log    --out DIR
               heyan pki log-key --out DIR [--origin NAME]
        """

    static func run(arguments: [String]) throws -> Int32 {
        guard let subcommand = arguments.first else {
            print(usage)
            return 2
        }
        guard let options = Options(Array(arguments.dropFirst())), let directory = options.values["out"] else {
            print(usage)
            return 2
        }
        let pki = DevelopmentPKI(directory: directory)
        switch subcommand {
        case "init":
            guard let departmentsFile = options.values["departments"], options.positional.isEmpty else {
                print(usage)
                return 2
            }
            let algorithmName = options.values["algorithm"] ?? KeyAlgorithm.ecP256.rawValue
            guard let algorithm = KeyAlgorithm(rawValue: algorithmName), algorithm != .sm2 else {
                print("heyan pki: --algorithm must be ec-p256 or ed25519, not '\(algorithmName)'")
                return 2
            }
            let codes = try DevelopmentPKI.departmentCodes(fromJSON: readFile(departmentsFile))
            let written = try pki.create(departmentCodes: codes, algorithm: algorithm)
            try PKIAuditLog.append(try pki.auditEntriesForCreation(departmentCodes: codes), to: pki.auditLogFile)
            print("made a development PKI (\(algorithm.rawValue)) in \(directory):")
            written.forEach { print("  \($0)") }
            print("private keys and .p12 files are mode 0600; the .p12 password is empty")
        case "issue":
            guard let code = options.values["department"], options.positional.isEmpty else {
                print(usage)
                return 2
            }
            switch (options.values["clerk"], options.values["name"]) {
            case (nil, nil):
                let written = try pki.issueDepartment(code: code)
                try PKIAuditLog.append([try pki.auditEntryForIssue(departmentCode: code)], to: pki.auditLogFile)
                print("issued a certificate for department \(code):")
                written.forEach { print("  \($0)") }
            case (let clerk?, let name?):
                let written = try pki.issueClerk(department: code, clerkID: clerk, name: name)
                try PKIAuditLog.append([try pki.auditEntryForClerk(department: code, clerk: clerk)], to: pki.auditLogFile)
                print("issued a certificate for clerk \(clerk) (\(name)) of department \(code):")
                written.forEach { print("  \($0)") }
            default:
                print("--clerk and --name go together")
                print(usage)
                return 2
            }
        case "revoke":
            guard options.positional.count == 1 else {
                print(usage)
                return 2
            }
            let revocation = try pki.revoke(certificateFile: options.positional[0])
            try PKIAuditLog.append(
                [try pki.auditEntryForRevocation(revocation, certificateFile: options.positional[0])], to: pki.auditLogFile)
            if revocation.wasAlreadyRevoked {
                print("serial \(revocation.serialNumberHex) was already revoked; \(pki.crlFile) unchanged")
            } else {
                print("revoked serial \(revocation.serialNumberHex); re-signed \(pki.crlFile)")
            }
        case "log-key":
            guard options.positional.isEmpty else {
                print(usage)
                return 2
            }
            let made = try pki.createLogKey()
            print(made ? "made the audit log key \(pki.logKeyFile)" : "\(pki.logKeyFile) exists; kept")
            let origin = options.values["origin"] ?? AuditLogSettings.defaultOrigin
            let vkey = try NoteSigner(name: origin, key: PrivateKey.load(pemFile: pki.logKeyFile)).verifierKey.vkey
            // Public: what auditors and attestation holders pass as --log-key (README).
            let vkeyFile = String(pki.logKeyFile.dropLast(".key".count)) + ".vkey"
            try ProtectedFile.writeAtomically(Array((vkey + "\n").utf8), to: vkeyFile, mode: 0o644)
            print("wrote \(vkeyFile)")
            // Last, and the last word of it: scripts take the verifier key from here.
            print("verifier key (audit.origin \(origin)): \(vkey)")
        case "log":
            guard options.positional.isEmpty else {
                print(usage)
                return 2
            }
            let records = try PKIAuditLog.verify(path: pki.auditLogFile)
            for record in records {
                print(
                    "\(record.seq)\t\(record.time)\t\(record.operation)\t\(record.serial ?? "-")\t\(record.subject)"
                        + (record.detail.map { "\t\($0)" } ?? ""))
            }
            print("\(pki.auditLogFile): \(records.count) entries, hash chain intact")
        default:
            print(usage)
            return 2
        }
        return 0
    }

    /// `--name value` pairs and positional arguments.
    private struct Options {
        var values: [String: String] = [:]
        var positional: [String] = []
        static let known: Set<String> = ["out", "departments", "algorithm", "department", "origin", "clerk", "name"]

        init?(_ arguments: [String]) {
            var index = 0
            while index < arguments.count {
                let argument = arguments[index]
                if argument.hasPrefix("--") {
                    let name = String(argument.dropFirst(2))
                    guard Self.known.contains(name), index + 1 < arguments.count, values[name] == nil else { return nil }
                    values[name] = arguments[index + 1]
                    index += 2
                } else {
                    positional.append(argument)
                    index += 1
                }
            }
        }
    }

    private static func readFile(_ path: String) throws -> [UInt8] {
        guard let file = fopen(path, "r") else {
            throw CryptoError(code: "pki.departments-file", message: "cannot open \(path)")
        }
        defer { fclose(file) }
        var bytes: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 16_384)
        while true {
            let count = fread(&buffer, 1, buffer.count, file)
            if count == 0 { break }
            bytes += buffer[0 ..< count]
        }
        guard ferror(file) == 0 else { throw CryptoError(code: "pki.departments-file", message: "cannot read \(path)") }
        return bytes
    }
}
