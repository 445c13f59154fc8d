#if canImport(Glibc)
import Glibc
#endif
import Foundation
import HeyanCrypto
import HeyanDomain
import HeyanHTTP
import HeyanServer
import HeyanStorage

/// `heyan demo [--config-dir DIR]`: starts heyan on a free port with a temporary PKI and database
/// and plays the main flows, printing each step and its time.
enum DemoCommand {
    static func run(arguments: [String]) throws -> Int32 {
        signal(SIGPIPE, SIG_IGN)
        let options = try CommandLineOptions(arguments, valued: ["--config-dir"])
        let configDirectory = options["--config-dir"] ?? "config"
        var template = Array("/tmp/heyan-demo-XXXXXX".utf8CString)
        guard let made = template.withUnsafeMutableBufferPointer({ mkdtemp($0.baseAddress!) }) else {
            throw DemoFailure("cannot make a temporary directory")
        }
        let work = String(cString: made)
        defer { _ = system("rm -rf '\(work)'") }

        let departmentsFile = "\(configDirectory)/departments.json"
        let departmentsBytes = try ConfigurationLoader.readFile(departmentsFile)
        let pki = DevelopmentPKI(directory: "\(work)/pki")
        _ = try pki.create(departmentCodes: try DevelopmentPKI.departmentCodes(fromJSON: departmentsBytes))
        let absoluteConfig = configDirectory.hasPrefix("/") ? configDirectory : FileManager.default.currentDirectoryPath + "/" + configDirectory
        let config = """
            {"listen":"127.0.0.1:0","database":"\(work)/heyan.sqlite",
             "departments":"\(absoluteConfig)/departments.json","catalog":"\(absoluteConfig)/catalog.json",
             "tls":{"certificate":"\(pki.serverCertificateFile)","privateKey":"\(pki.serverKeyFile)","clientCA":"\(pki.caCertificateFile)","crl":"\(pki.crlFile)"},
             "signing":{"certificate":"\(pki.signingCertificateFile)","privateKey":"\(pki.signingKeyFile)","chain":["\(pki.caCertificateFile)"]}}
            """
        _ = FileManager.default.createFile(atPath: "\(work)/heyan.json", contents: Data(config.utf8))
        let configuration = try ConfigurationLoader.load(path: "\(work)/heyan.json")
        let quiet = EventLog(fd: open("/dev/null", O_WRONLY), minimumLevel: .error)
        let runtime = try ServiceRuntime(configuration: configuration, log: quiet)
        let port = try runtime.start()
        defer { runtime.stop(grace: 1) }
        say("heyan listening on https://127.0.0.1:\(port) (temporary PKI and database in \(work))")

        func client(_ code: String) throws -> TLSClientConnection {
            try TLSClientConnection(
                port: port,
                context: try TLSClientContext(
                    certificate: pki.departmentCertificateFile(code), key: pki.departmentKeyFile(code),
                    trust: pki.caCertificateFile))
        }
        let trust = try TrustStore(caFile: pki.caCertificateFile, crlFile: pki.crlFile)
        let subject = "11010519491231002X"

        // 1. Department verification: housing fund asks civil affairs about a marriage.
        let housing = try client("housing-fund")
        let civil = try client("civil-affairs")
        var (response, ms) = try timed {
            try housing.request("POST", "/v1/verifications", headers: [("Content-Type", "application/json")], body: Array("""
                {"certificateType":"CIV-MARRIAGE","matterCode":"HF-WITHDRAW-001","purpose":"住房公积金提取：核验婚姻状况",
                 "subject":{"idType":"resident-id","id":"\(subject)","name":"张三"},"claims":{"maritalStatus":"married"}}
                """.utf8))
        }
        let submitted = object(response)
        step("housing-fund asks civil-affairs: is \(subject) married? (CIV-MARRIAGE, matter HF-WITHDRAW-001)", response, ms,
            "status \(submitted["status"] ?? "?"), due \(submitted["dueAt"] ?? "?")")
        guard response.status == 202, let verificationID = submitted["id"] as? String else { throw DemoFailure("submit failed") }

        (response, ms) = try timed { try civil.request("GET", "/v1/queue?limit=1&lease=60&wait=5") }
        guard let item = (object(response)["items"] as? [[String: Any]])?.first, let itemID = item["id"] as? String,
            let token = item["leaseToken"] as? String
        else { throw DemoFailure("civil-affairs found nothing in its queue") }
        step("civil-affairs leases the oldest item of its queue", response, ms, "item \(itemID), lease until \(item["leaseExpiresAt"] ?? "?")")

        (response, ms) = try timed {
            try civil.request("POST", "/v1/queue/\(itemID)/answer", headers: [("Content-Type", "application/json")], body: Array(
                #"{"leaseToken":"\#(token)","outcome":"confirmed","note":"婚姻登记信息系统核对一致","disclosed":{"maritalStatus":"married"}}"#.utf8))
        }
        step("civil-affairs confirms (and discloses maritalStatus, which housing-fund's grant allows)", response, ms,
            "outcome \(object(response)["outcome"] ?? "?")")

        (response, ms) = try timed { try housing.request("GET", "/v1/verifications/\(verificationID)?wait=5") }
        let answered = object(response)
        guard let jws = (answered["attestation"] as? [String: Any])?["jws"] as? String else { throw DemoFailure("no attestation") }
        let verified = try JWSVerifier.verify(jws, trust: trust, at: nil)
        step("housing-fund fetches the answer and verifies the attestation offline against ca.pem", response, ms,
            "\(verified.algorithm.rawValue) signature and chain valid")
        say(indent(String(decoding: verified.payload, as: UTF8.self)))

        // 2. Data sharing: hrss asks public security's shared records and is answered at once.
        let police = try client("public-security")
        let hrss = try client("hrss")
        (response, ms) = try timed {
            try police.request("PUT", "/v1/records/PSB-NO-CRIMINAL-RECORD/\(subject)", headers: [("Content-Type", "application/json")],
                body: Array(#"{"claims":{"hasCriminalRecord":false}}"#.utf8))
        }
        step("public-security shares its record for \(subject)", response, ms, "")
        (response, ms) = try timed {
            try hrss.request("POST", "/v1/verifications", headers: [("Content-Type", "application/json")], body: Array("""
                {"certificateType":"PSB-NO-CRIMINAL-RECORD","matterCode":"HR-RECRUIT-001","purpose":"事业单位招聘：核验无犯罪记录",
                 "subject":{"idType":"resident-id","id":"\(subject)","name":"张三"},"claims":{"hasCriminalRecord":false}}
                """.utf8))
        }
        step("hrss asks: has \(subject) a criminal record? (PSB-NO-CRIMINAL-RECORD, data sharing)", response, ms,
            "answered at once: \(object(response)["outcome"] ?? "?")")

        // 3. A cancelled certificate is refused with its reason.
        (response, ms) = try timed {
            try housing.request("POST", "/v1/verifications", headers: [("Content-Type", "application/json")], body: Array("""
                {"certificateType":"COMM-ALIVE","matterCode":"HF-WITHDRAW-001","purpose":"生存认证",
                 "subject":{"idType":"resident-id","id":"\(subject)","name":"张三"},"claims":{}}
                """.utf8))
        }
        step("housing-fund asks for COMM-ALIVE (生存证明)", response, ms, "refused: \(object(response)["reason"] ?? object(response)["detail"] ?? "?")")

        // 4. The audit chain verifies.
        let auditor = try client("audit-office")
        (response, ms) = try timed { try auditor.request("GET", "/v1/audit/checkpoint") }
        let checkpoint = object(response)
        step("audit-office asks for a signed checkpoint of the audit log", response, ms,
            "size \(checkpoint["size"] ?? "?"), head \(String((checkpoint["head"] as? String ?? "").prefix(16)))…")
        let report = try AuditChainVerifier.verify(
            databasePath: "\(work)/heyan.sqlite", hash: { Digest.sha256($0) },
            verifyCheckpoint: { checkpoint in _ = try JWSVerifier.verify(checkpoint.jws, trust: trust, at: nil) })
        if let broken = report.firstBreak {
            say("audit chain BROKEN at entry \(broken.sequence): \(broken.message)")
            return 1
        }
        say("→ heyan audit verify: \(report.entries) entries, \(report.checkpoints) signed checkpoint(s), head \(hex(report.head).prefix(16))… — chain intact")
        return 0
    }

    static func timed(_ body: () throws -> ClientResponse) throws -> (ClientResponse, Double) {
        let start = SystemClock().monotonicNanoseconds()
        let response = try body()
        return (response, Double(SystemClock().monotonicNanoseconds() - start) / 1e6)
    }

    static func object(_ response: ClientResponse) -> [String: Any] {
        (try? JSONSerialization.jsonObject(with: Data(response.body))) as? [String: Any] ?? [:]
    }

    static func step(_ what: String, _ response: ClientResponse, _ ms: Double, _ detail: String) {
        say("→ \(what)\n  \(response.status) in \(String(format: "%.1f", ms)) ms\(detail.isEmpty ? "" : " — \(detail)")")
    }

    static func indent(_ text: String) -> String {
        guard let object = try? JSONSerialization.jsonObject(with: Data(text.utf8)),
            let pretty = try? JSONSerialization.data(withJSONObject: object, options: [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes])
        else { return text }
        return String(decoding: pretty, as: UTF8.self).split(separator: "\n").map { "    " + $0 }.joined(separator: "\n")
    }

    static func say(_ text: String) { print(text) }

    struct DemoFailure: Error, CustomStringConvertible {
        let description: String
        init(_ description: String) { self.description = description }
    }
}
