/// The page served at `/`, assembled once from `PageDocument`: web/index.html with its
/// stylesheet and script inlined, so the page is one response that needs nothing else,
/// and the Content-Security-Policy that allows exactly that script and that style.
public enum Page {
    /// The HTML document as sent.
    public static let document: [UInt8] = Array(
        assemble(html: PageDocument.html, script: PageDocument.script, style: PageDocument.style).utf8)

    /// Where web/index.html names its stylesheet and its script; the file names them
    /// (instead of holding them) so that web/index.html also opens from disk as it is.
    static let stylesheetLink = #"<link rel="stylesheet" href="style.css">"#
    static let scriptElement = #"<script src="app.js"></script>"#

    /// Only the inline script and style whose hashes it names run or apply, the page
    /// talks to its own origin only, and nothing may frame it or change its base URL.
    /// `data:` images are the empty favicon, which keeps browsers from asking for
    /// /favicon.ico. https://www.w3.org/TR/CSP3/#external-hash
    public static let contentSecurityPolicy = [
        "default-src 'none'",
        "script-src 'sha256-\(PageDocument.scriptSHA256)'",
        "style-src 'sha256-\(PageDocument.styleSHA256)'",
        "connect-src 'self'",
        "img-src 'self' data:",
        "base-uri 'none'",
        "form-action 'none'",
        "frame-ancestors 'none'",
    ].joined(separator: "; ")

    /// The document's entity tag: it changes only with the binary.
    public static let entityTag: String = {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325  // FNV-1a, as ListAnswer's tags
        for byte in document {
            hash ^= UInt64(byte)
            hash = hash &* 0x100_0000_01b3
        }
        return "\"page-\(String(hash, radix: 36))\""
    }()

    /// `html` with `style` and `script` put in place of the elements naming them. The
    /// inline text is the files' bytes exactly: the hashes in the policy are of them.
    static func assemble(html: String, script: String, style: String) -> String {
        html.replacing(stylesheetLink, with: "<style>" + style + "</style>")
            .replacing(scriptElement, with: "<script>" + script + "</script>")
    }
}
