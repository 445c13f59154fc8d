#if canImport(Glibc)
import Glibc
#endif
import HeyanCrypto
import HeyanTestSupport
import Testing

/// `pki-audit.log`: appended, hash-chained, and any change to a past line is found.
@Suite struct PKIAuditLogTests {
    static let entries = [
        PKIAuditLog.Entry(operation: "ca", subject: "CN=ca", serial: "01", detail: "self-signed"),
        PKIAuditLog.Entry(operation: "issue", subject: "CN=hrss", serial: "0A", detail: "department hrss"),
        PKIAuditLog.Entry(operation: "revoke", subject: "CN=hrss", serial: "0A", detail: "cRLNumber 2"),
    ]

    func lines(_ path: String) throws -> [String] {
        String(decoding: try readFile(path), as: UTF8.self).split(separator: "\n").map(String.init)
    }

    @Test func appendsChainedLinesInOrderWithOwnerOnlyMode() throws {
        let directory = TemporaryDirectory()
        let path = directory.file(PKIAuditLog.fileName)
        try PKIAuditLog.append(Array(Self.entries[0...1]), to: path, at: 1_767_225_600_000)
        try PKIAuditLog.append([Self.entries[2]], to: path, at: 1_767_225_601_000)
        let records = try PKIAuditLog.verify(path: path)
        #expect(records.map(\.seq) == [1, 2, 3])
        #expect(records.map(\.operation) == ["ca", "issue", "revoke"])
        #expect(records.map(\.serial) == ["01", "0A", "0A"])
        #expect(records[0].prev == String(repeating: "0", count: 64))
        #expect(records[1].prev == records[0].hash && records[2].prev == records[1].hash)
        #expect(records[2].time == "2026-01-01T00:00:01.000Z")
        #expect(records[0].user == "uid \(getuid())")
        var status = stat()
        #expect(stat(path, &status) == 0 && status.st_mode & 0o777 == 0o600)
    }

    @Test(arguments: ["edit", "delete", "swap", "garbage"])
    func verifyFindsTheFirstBrokenLine(change: String) throws {
        let directory = TemporaryDirectory()
        let path = directory.file(PKIAuditLog.fileName)
        try PKIAuditLog.append(Self.entries, to: path)
        var lines = try lines(path)
        let expectedLine: Int
        switch change {
        case "edit":
            lines[1] = lines[1].replacing("\"serial\":\"0A\"", with: "\"serial\":\"0B\"")
            expectedLine = 2
        case "delete":
            lines.remove(at: 1)
            expectedLine = 2
        case "swap":
            lines.swapAt(1, 2)
            expectedLine = 2
        default:
            lines[2] = "{}"
            expectedLine = 3
        }
        try writeFile(path, Array((lines.joined(separator: "\n") + "\n").utf8), mode: 0o600)
        let error = try #require(throws: CryptoError.self) { try PKIAuditLog.verify(path: path) }
        #expect(error.code == "pki.audit-log")
        #expect(error.message.contains("line \(expectedLine):"))
        // Appending to a broken log is refused too, so nothing is chained onto a forged line.
        #expect(throws: CryptoError.self) { try PKIAuditLog.append([Self.entries[0]], to: path) }
    }

    @Test func aMissingLogIsEmpty() throws {
        #expect(try PKIAuditLog.verify(path: TemporaryDirectory().file("none.log")).isEmpty)
    }
}
