import Foundation
import HeyanTestSupport
import Testing

/// The README and docs/ stand alone: every relative Markdown link resolves to a file inside this
/// repository, so someone who clones it has every document the text points to.
@Suite struct DocumentationLinksTests {
    @Test func everyRelativeLinkResolvesInsideTheRepository() throws {
        let root = URL(fileURLWithPath: packageRoot()).standardizedFileURL.path
        let documents = try ["README.md"] + FileManager.default.contentsOfDirectory(atPath: root + "/docs")
            .filter { $0.hasSuffix(".md") }.sorted().map { "docs/" + $0 }
        #expect(documents.count > 10)
        var broken: [String] = []
        var checked = 0
        for document in documents {
            let text = String(decoding: try readFile(root + "/" + document), as: UTF8.self)
            for target in Self.linkTargets(in: text) {
                if target.hasPrefix("#") || target.contains("://") || target.hasPrefix("mailto:") { continue }
                checked += 1
                let path = String(target.prefix { $0 != "#" })
                let base = URL(fileURLWithPath: root + "/" + document).deletingLastPathComponent()
                let resolved = base.appendingPathComponent(path).standardizedFileURL.path
                if !resolved.hasPrefix(root + "/") || !FileManager.default.fileExists(atPath: resolved) {
                    broken.append("\(document): \(target)")
                }
            }
        }
        #expect(checked > 20)
        #expect(broken == [])
    }

    /// A link outside the repository is caught: the check above can fail.
    @Test func aLinkOutsideTheRepositoryIsFound() {
        #expect(Self.linkTargets(in: "see [the design](../shared/design.md) and [x](#y)") == [
            "../shared/design.md", "#y",
        ])
    }

    /// The targets of `[text](target)` links, in order.
    static func linkTargets(in text: String) -> [String] {
        var targets: [String] = []
        var rest = Substring(text)
        while let open = rest.range(of: "](") {
            let after = rest[open.upperBound...]
            guard let close = after.firstIndex(where: { $0 == ")" || $0 == " " || $0 == "\n" }) else { break }
            if after[close] == ")" { targets.append(String(after[..<close])) }
            rest = after[close...]
        }
        return targets
    }
}
