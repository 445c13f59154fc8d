import HeyanHTTP

/// Request bodies are JSON. A body labelled as something else (`text/plain`, a form, XML) is
/// refused with 415 before any route reads it, rather than parsed as JSON anyway: a client that
/// believes it sent a form must not have it silently reinterpreted. A body without a
/// `Content-Type` is read as JSON (RFC 9110 §8.3 lets the recipient decide), and so is
/// `application/json` or any `application/*+json`, with any parameters.
enum MediaTypePolicy {
    static func refusal(for request: HTTPRequest) -> Problem? {
        guard !request.body.isEmpty, let value = request.headers["Content-Type"] else { return nil }
        let mediaType = (value.split(separator: ";", maxSplits: 1, omittingEmptySubsequences: false).first ?? "")
            .trimmingCharacters(in: [" ", "\t"]).lowercased()
        if mediaType == "application/json" || (mediaType.hasPrefix("application/") && mediaType.hasSuffix("+json")) {
            return nil
        }
        return Problem(
            slug: "unsupported-media-type", title: "Unsupported Media Type", status: 415,
            detail: "Request bodies are JSON; send Content-Type: application/json.")
    }
}

extension StringProtocol {
    fileprivate func trimmingCharacters(in set: Set<Character>) -> String {
        var slice = Substring(self)
        while let first = slice.first, set.contains(first) { slice.removeFirst() }
        while let last = slice.last, set.contains(last) { slice.removeLast() }
        return String(slice)
    }
}
