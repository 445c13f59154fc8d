import Foundation
import HeyanDomain
import HeyanHTTP
import HeyanTestSupport

/// A department talking to a running heyan over its own mTLS connection, with JSON helpers.
final class DepartmentClient: @unchecked Sendable {
    // @unchecked: each test uses a client from one thread at a time.
    let code: String
    let connection: TLSClientConnection

    init(_ service: RunningService, _ code: String) throws {
        self.code = code
        connection = try service.connect(code)
    }

    func get(_ target: String) throws -> ClientResponse { try connection.request("GET", target) }

    func send(_ method: String, _ target: String, json: String, headers: [(String, String)] = []) throws -> ClientResponse {
        try connection.request(
            method, target, headers: [("Content-Type", "application/json")] + headers, body: Array(json.utf8))
    }

    func post(_ target: String, _ json: String, headers: [(String, String)] = []) throws -> ClientResponse {
        try send("POST", target, json: json, headers: headers)
    }
}

extension ClientResponse {
    /// The body as a JSON object.
    var object: [String: Any] {
        (try? JSONSerialization.jsonObject(with: Data(body))) as? [String: Any] ?? [:]
    }

    subscript(_ key: String) -> Any? { object[key] }

    /// `errors[].path` of a problem response.
    var errorPaths: [String] {
        ((object["errors"] as? [[String: Any]]) ?? []).compactMap { $0["path"] as? String }
    }
}

/// Valid subject identifiers for tests.
enum TestSubjects {
    /// A valid resident ID born on 1980-01-01 with the given 3-digit sequence.
    static func residentID(_ sequence: Int) -> String {
        let body = "110105" + "19800101" + String(format: "%03d", sequence % 1000)
        let check = SubjectIdentifier.residentIDCheckCharacter(for: body.map { Int(String($0))! })
        return body + String(check)
    }

    /// A valid resident ID from a running number (varies the birth date too).
    static func residentID(number: Int) -> String {
        let day = 1 + (number / 1000) % 28
        let month = 1 + (number / 28_000) % 12
        let body = "110105" + "1980" + String(format: "%02d%02d", month, day) + String(format: "%03d", number % 1000)
        let check = SubjectIdentifier.residentIDCheckCharacter(for: body.map { Int(String($0))! })
        return body + String(check)
    }

    static func verificationBody(
        type: String = "CIV-MARRIAGE", matter: String = "HF-WITHDRAW-001", subject: String, claims: String = #"{"maritalStatus":"married"}"#,
        purpose: String = "住房公积金提取：核验婚姻状况"
    ) -> String {
        """
        {"certificateType":"\(type)","matterCode":"\(matter)","purpose":"\(purpose)",
         "subject":{"idType":"resident-id","id":"\(subject)","name":"张三"},"claims":\(claims)}
        """
    }
}
