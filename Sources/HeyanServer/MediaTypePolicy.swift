import HeyanHTTP

/// Request bodies are JSON. A body labelled as something else (`text/plain`, a form, XML) is
/// refused with 415 before any route reads it, rather than parsed as JSON anyway: a client that
/// believes it sent a form must not have it silently reinterpreted. A body without a
/// `Content-Type` is read as JSON (RFC 9110 §8.3 lets the recipient decide), and so is
/// `application/json` or any `application/*+json`, with any parameters.
///
/// The console's routes (``RoutePolicy/Bodies/form``) take the opposite: only
/// `application/x-www-form-urlencoded`, which is what an HTML form sends.
enum MediaTypePolicy {
    static func refusal(for request: HTTPRequest, bodies: RoutePolicy.Bodies = .json) -> Problem? {
        guard !request.body.isEmpty else { return nil }
        let contentType = request.headers["Content-Type"]
        // The usual case, exactly `application/json`, without splitting, trimming and lowercasing
        // (~12,000 instructions per request; docs/performance.md, issue 16).
        if bodies == .json, let contentType, contentType.utf8.elementsEqual("application/json".utf8) { return nil }
        let mediaType = (contentType.map {
            $0.split(separator: ";", maxSplits: 1, omittingEmptySubsequences: false).first ?? ""
        } ?? "").trimmingCharacters(in: [" ", "\t"]).lowercased()
        if bodies == .form {
            if mediaType == "application/x-www-form-urlencoded" { return nil }
            return Problem(
                slug: "unsupported-media-type", title: "Unsupported Media Type", status: 415,
                detail: "Console forms are sent as application/x-www-form-urlencoded.")
        }
        if mediaType.isEmpty || mediaType == "application/json"
            || (mediaType.hasPrefix("application/") && mediaType.hasSuffix("+json"))
        {
            return nil
        }
        return Problem(
            slug: "unsupported-media-type", title: "Unsupported Media Type", status: 415,
            detail: "Request bodies are JSON; send Content-Type: application/json.")
    }
}

extension StringProtocol {
    /// Without the leading and trailing characters in `set` (a media type's spaces and tabs, a
    /// form's or query's spaces).
    func trimmingCharacters(in set: Set<Character>) -> String {
        var slice = Substring(self)
        while let first = slice.first, set.contains(first) { slice.removeFirst() }
        while let last = slice.last, set.contains(last) { slice.removeLast() }
        return String(slice)
    }
}
