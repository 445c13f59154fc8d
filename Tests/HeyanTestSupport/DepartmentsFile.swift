/// `departments.json` (as `config/departments.json` writes it: `"rateLimit"` on its own line, last
/// in its object) with every `rateLimit` removed, for tests that measure something other than
/// fairness (the benchmark smoke run, the crash test).
public func departmentsWithoutRateLimits(_ bytes: [UInt8]) -> [UInt8] {
    var lines: [String] = []
    for line in String(decoding: bytes, as: UTF8.self).split(separator: "\n", omittingEmptySubsequences: false) {
        if line.contains("\"rateLimit\"") {
            if let last = lines.last, last.hasSuffix(",") { lines[lines.count - 1] = String(last.dropLast()) }
            continue
        }
        lines.append(String(line))
    }
    return Array(lines.joined(separator: "\n").utf8)
}
