import API
import Foundation
import HTTP
import TestSupport
import Testing

/// The page at `/`: the embedded copy is web/ byte for byte, it is one self-contained
/// HTML document under a Content-Security-Policy naming its script and style by hash,
/// and it loads without the token while every API call it makes still needs one.
struct PageTests {
    /// Each file of web/ and its embedded copy.
    static let embedded = [
        "web/index.html": PageDocument.html,
        "web/app.js": PageDocument.script,
        "web/style.css": PageDocument.style,
    ]

    @Test("the embedded page is web/ byte for byte (run scripts/sync-page after editing web/)",
          arguments: ["web/index.html", "web/app.js", "web/style.css"])
    func embeddedCopyMatchesTheFile(file: String) throws {
        let text = try String(contentsOf: TestEnvironment.packageRoot.appendingPathComponent(file), encoding: .utf8)
        let copy = Self.embedded[file] ?? ""
        // Compared as a Bool so that a failure names the first differing line, not 60 KB twice.
        let same = copy == text
        let fileLines = text.split(separator: "\n", omittingEmptySubsequences: false)
        let copyLines = copy.split(separator: "\n", omittingEmptySubsequences: false)
        let line = (zip(fileLines, copyLines).enumerated().first { $0.element.0 != $0.element.1 }?.offset ?? min(fileLines.count, copyLines.count)) + 1
        #expect(same, "\(file) differs from its copy in Sources/API/Page/PageDocument.swift from line \(line): run scripts/sync-page")
    }

    @Test(
        "the policy's hashes are the SHA-256 of web/app.js and web/style.css",
        .enabled(if: TestEnvironment.hasTool("openssl"), "needs openssl to hash the files"),
        arguments: ["web/app.js", "web/style.css"])
    func hashMatchesTheFile(file: String) throws {
        let path = TestEnvironment.packageRoot.appendingPathComponent(file).path
        let digest = try run(["sh", "-c", "openssl dgst -sha256 -binary \"$0\" | openssl base64 -A", path])
        #expect(digest.status == 0, "\(digest.stderr)")
        let hash = file == "web/app.js" ? PageDocument.scriptSHA256 : PageDocument.styleSHA256
        #expect(digest.text == hash, "run scripts/sync-page after editing \(file)")
    }

    @Test func servedAsOneSelfContainedDocument() throws {
        let api = InProcessAPI()
        let page = api.get("/")
        #expect(page.status == 200)
        #expect(page.header("Content-Type") == "text/html; charset=utf-8")
        #expect(page.body == Data(Page.document))
        let text = page.text
        #expect(text.hasPrefix("<!doctype html>"))
        #expect(text.contains("<script>" + PageDocument.script + "</script>"))
        #expect(text.contains("<style>" + PageDocument.style + "</style>"))
        #expect(!text.contains(#"src="app.js""#) && !text.contains(#"href="style.css""#))
        // Nothing from elsewhere: the only URL is the SVG namespace, which names, never fetches.
        let withoutNamespace = text.replacingOccurrences(of: "http://www.w3.org/2000/svg", with: "")
        #expect(!withoutNamespace.contains("http://") && !withoutNamespace.contains("https://") && !withoutNamespace.contains("src=\"//"))

        let policy = try #require(page.header("Content-Security-Policy"))
        #expect(policy.contains("default-src 'none'"))
        #expect(policy.contains("script-src 'sha256-\(PageDocument.scriptSHA256)'"))
        #expect(policy.contains("style-src 'sha256-\(PageDocument.styleSHA256)'"))
        #expect(policy.contains("connect-src 'self'") && policy.contains("frame-ancestors 'none'"))
        #expect(page.header("X-Content-Type-Options") == "nosniff")

        // The page's view lives in its query string; the server does not read it.
        #expect(api.get("/?q=443%20estab&window=6h&at=2026-11-22T02:00:00Z").status == 200)
        let tag = try #require(page.header("ETag"))
        let again = api.get("/", headers: [("If-None-Match", "\"other\", " + tag)])
        #expect(again.status == 304 && again.body.isEmpty)
        #expect(api.get("/", headers: [("If-None-Match", "W/" + tag)]).status == 304)
        #expect(api.get("/", headers: [("If-None-Match", "\"other\"")]).status == 200)
    }

    @Test("/ loads without the token; the API it calls does not")
    func pageNeedsNoToken() throws {
        var configuration = APIConfiguration()
        configuration.token = "page-token"
        let api = InProcessAPI(configuration: configuration)
        #expect(api.get("/").status == 200)
        #expect(api.get("/api/v1/status").status == 401)
        #expect(api.get("/api/v1/listeners").status == 401)
        #expect(api.get("/api/v1/status", headers: [("Authorization", "Bearer page-token")]).status == 200)
        // Only the page itself: other paths that are not routes still want the token.
        #expect(api.get("/index.html").status == 401)
    }

    @Test(
        "GET and HEAD / through the real server, checked against openapi.yaml",
        .enabled(if: TestEnvironment.hasTool("curl"), "needs curl to send real requests"))
    func liveServer() throws {
        let server = try LiveServer()
        let contract = ContractCheck()
        let page = try server.get("/", ["--compressed"])
        #expect(page.status == 200 && page.contentType == "text/html; charset=utf-8")
        #expect(page.headers["content-encoding"] == "gzip", "curl --compressed gets the page gzipped")
        #expect(page.body == Data(Page.document))
        contract.record(page, path: "/")
        let head = try server.get("/", ["-I"])
        #expect(head.status == 200 && head.body.isEmpty && head.contentType.hasPrefix("text/html"))
        let post = try server.get("/", ["-X", "POST", "-d", "x=1"])
        #expect(post.status == 405 && post.headers["allow"] == "GET, HEAD")
        if canValidateContract {
            let (ok, report) = try contract.verify()
            #expect(ok, "responses differ from openapi.yaml:\n\(report)")
        }
    }
}
