/// Conditional GET by If-None-Match (RFC 9110 §13.1.2): a client that already holds the
/// representation a response carries, named by its ETag, gets 304 Not Modified instead
/// of the body again.
enum ConditionalRequest {
    /// `response` as 304 Not Modified when `request` is a GET or HEAD whose
    /// If-None-Match lists the response's ETag (or is `*`); nil when the full response
    /// is to be sent.
    static func notModified(_ response: HTTPResponse, for request: HTTPRequest) -> HTTPResponse? {
        guard request.method == "GET" || request.method == "HEAD", response.status == 200,
              let etag = response.header("ETag"), let condition = request.header("If-None-Match"),
              matches(condition, etag)
        else { return nil }
        // RFC 9110 §15.4.5: a 304 carries what a 200 would for caches (ETag,
        // Cache-Control, Vary, Expires, ...) but no representation metadata.
        let kept = response.headers.filter { header in
            let name = header.name.lowercased()
            return !name.hasPrefix("content-") || name == "content-location"
        }
        return HTTPResponse(status: 304, headers: kept)
    }

    /// Whether If-None-Match value `condition` is `*` or lists `etag`, compared weakly
    /// as If-None-Match requires (RFC 9110 §8.8.3.2: `W/"a"` matches `"a"`).
    static func matches(_ condition: String, _ etag: String) -> Bool {
        if condition.allSatisfy({ $0 == " " || $0 == "\t" || $0 == "*" }) && condition.contains("*") { return true }
        guard let wanted = opaqueTags(in: etag).first else { return false }
        return opaqueTags(in: condition).contains(wanted)
    }

    /// The opaque tags, quotes included and `W/` dropped, of a list of entity tags
    /// (`W/"a", "b"` gives `"a"` and `"b"`). A tag may contain a comma, so the list is
    /// split at quotes, not commas.
    static func opaqueTags(in list: String) -> [Substring] {
        var tags: [Substring] = []
        var rest = Substring(list)
        while let open = rest.firstIndex(of: "\"") {
            let inside = rest.index(after: open)
            guard let close = rest[inside...].firstIndex(of: "\"") else { break }
            tags.append(rest[open...close])
            rest = rest[rest.index(after: close)...]
        }
        return tags
    }
}
