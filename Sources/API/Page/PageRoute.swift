import HTTP

/// `GET /`: the page, a live view of this API for a browser.
///
/// It is served without the bearer token: a browser navigating to a URL cannot send an
/// `Authorization` header, and the page is the same bytes for everyone (built into the
/// binary, holding no data about this host). Everything it shows it fetches from the
/// API, with the token once the user has given it.
enum PageRoute {
    /// The document, or 304 when `If-None-Match` names it. Query parameters are the
    /// page's own (its view, kept in the URL) and are not read here.
    static func page(_ context: RouteContext) throws -> HTTPResponse {
        var response: HTTPResponse
        if let condition = context.request.header("If-None-Match"), matches(condition, Page.entityTag) {
            response = HTTPResponse(status: 304)
        } else {
            response = HTTPResponse(status: 200, contentType: "text/html; charset=utf-8", body: Page.document)
        }
        response.setHeader("ETag", Page.entityTag)
        // A new binary may bring a new page: revalidate each time (a 304 while unchanged).
        response.setHeader("Cache-Control", "no-cache")
        response.setHeader("Content-Security-Policy", Page.contentSecurityPolicy)
        response.setHeader("X-Content-Type-Options", "nosniff")
        response.setHeader("Referrer-Policy", "no-referrer")
        return response
    }

    /// Whether an `If-None-Match` list names `tag` (weak or strong, RFC 9110 13.1.2) or is `*`.
    static func matches(_ condition: String, _ tag: String) -> Bool {
        condition.split(separator: ",").contains { item in
            var text = Substring(item)
            while text.first == " " || text.first == "\t" { text.removeFirst() }
            while text.last == " " || text.last == "\t" { text.removeLast() }
            if text.hasPrefix("W/") { text = text.dropFirst(2) }
            return text == "*" || text == tag
        }
    }
}
