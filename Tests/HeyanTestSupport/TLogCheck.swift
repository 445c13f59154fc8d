import Foundation

/// `tlog_check.py`: the outside judge of heyan's transparency log (RFC 9162 algorithms and C2SP
/// notes written in Python from the texts, roots by pymerkle, Ed25519 by `cryptography`). One
/// request per line in, one verdict per line out (`ok` or `fail: why`).
public enum TLogCheck {
    public struct Request: Encodable, Sendable {
        public var kind: String
        public var leaves: [String]? = nil
        public var leafHash: String? = nil
        public var index: UInt64? = nil
        public var size: UInt64? = nil
        public var proof: [String]? = nil
        public var root: String? = nil
        public var first: UInt64? = nil
        public var second: UInt64? = nil
        public var firstRoot: String? = nil
        public var secondRoot: String? = nil
        public var vkey: String? = nil
        public var note: String? = nil
        public var bundle: String? = nil
        public var attestation: String? = nil

        public init(
            kind: String, leaves: [String]? = nil, leafHash: String? = nil, index: UInt64? = nil, size: UInt64? = nil,
            proof: [String]? = nil, root: String? = nil, first: UInt64? = nil, second: UInt64? = nil,
            firstRoot: String? = nil, secondRoot: String? = nil, vkey: String? = nil, note: String? = nil,
            bundle: String? = nil, attestation: String? = nil
        ) {
            self.kind = kind
            self.leaves = leaves
            self.leafHash = leafHash
            self.index = index
            self.size = size
            self.proof = proof
            self.root = root
            self.first = first
            self.second = second
            self.firstRoot = firstRoot
            self.secondRoot = secondRoot
            self.vkey = vkey
            self.note = note
            self.bundle = bundle
            self.attestation = attestation
        }
    }

    /// One verdict per request, in order.
    public static func verdicts(_ requests: [Request]) throws -> [String] {
        let encoder = JSONEncoder()
        let input = try requests.map { String(decoding: try encoder.encode($0), as: UTF8.self) + "\n" }.joined()
        let result = try Subprocess.run(["python3", PythonScripts.tlogCheck], stdin: Array(input.utf8), timeout: 300)
        guard result.status == 0 else { throw TestFailure("tlog_check.py exited \(result.status): \(result.stderr)") }
        return result.stdout.split(separator: "\n").map(String.init)
    }
}
