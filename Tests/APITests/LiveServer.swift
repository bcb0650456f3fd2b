import API
import Foundation
import HTTP
import Sampling
import Service
import TestSupport

/// The real HTTP server on an ephemeral loopback port, answering with the real API
/// over a real Collector; requests go through curl, as users send them.
final class LiveServer {
    let api: APIServer
    let server: HTTPServer
    let live: LiveView
    let scheme: String

    init(configuration: APIConfiguration = APIConfiguration(), http: HTTPServerConfiguration = LiveServer.defaultHTTP(),
         history: HistoryAccess? = nil, namespaces: NamespaceScope = .host) throws {
        live = LiveView(collector: Collector(options: {
            var options = CollectorOptions()
            options.tcpInfo = true
            // The sockets most tests count are this process's, in its own namespace,
            // while other tests' namespaces come and go (NamespaceAPITests reads them all).
            options.namespaces = namespaces
            return options
        }()))
        api = APIServer(live: live, configuration: configuration, history: history)
        server = HTTPServer(configuration: http, handler: api.handle)
        scheme = http.tlsCertificatePEM == nil ? "http" : "https"
        try server.start()
    }

    deinit { server.stop() }

    static func defaultHTTP() -> HTTPServerConfiguration {
        var http = HTTPServerConfiguration()
        http.host = "127.0.0.1"
        http.port = 0
        http.threads = 2
        return http
    }

    var base: String { "\(scheme)://127.0.0.1:\(server.port)" }

    /// GET `path` (with query) through curl; extra curl arguments go before the URL.
    func get(_ path: String, _ curlArguments: [String] = []) throws -> Reply {
        try Reply.fetch(base + path, curlArguments)
    }
}

/// One HTTP response as curl saw it.
struct Reply {
    var status: Int
    var headers: [String: String]
    var body: Data

    var text: String { String(decoding: body, as: UTF8.self) }
    var contentType: String { headers["content-type"] ?? "" }
    var json: [String: Any] { (try? JSONSerialization.jsonObject(with: body)) as? [String: Any] ?? [:] }
    var items: [[String: Any]] { json["items"] as? [[String: Any]] ?? [] }

    static func fetch(_ url: String, _ curlArguments: [String] = []) throws -> Reply {
        let result = try run(["curl", "-sS", "-i", "--max-time", "20"] + curlArguments + [url])
        guard result.status == 0 else { throw CommandError(message: "curl \(url): \(result.stderr)") }
        return try parse(result.stdout)
    }

    /// Splits `curl -i` output into status, headers and body (skipping `100 Continue`).
    static func parse(_ raw: Data) throws -> Reply {
        var data = raw
        while true {
            guard let range = data.range(of: Data("\r\n\r\n".utf8)) else {
                throw CommandError(message: "no header block in: \(String(decoding: data.prefix(200), as: UTF8.self))")
            }
            let head = String(decoding: data[..<range.lowerBound], as: UTF8.self)
            let body = data[range.upperBound...]
            let lines = head.components(separatedBy: "\r\n")
            let status = Int(lines[0].split(separator: " ").dropFirst().first ?? "") ?? 0
            if status == 100 {
                data = Data(body)
                continue
            }
            var headers: [String: String] = [:]
            for line in lines.dropFirst() {
                guard let colon = line.firstIndex(of: ":") else { continue }
                headers[line[..<colon].lowercased()] = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
            }
            return Reply(status: status, headers: headers, body: Data(body))
        }
    }
}

/// Collects responses and checks them all against openapi.yaml at the end, with a
/// JSON Schema validator (Fixtures/validate_openapi.py).
final class ContractCheck: @unchecked Sendable {
    // @unchecked: `cases` is only touched under `lock`.
    private var cases: [[String: Any]] = []
    private let lock = NSLock()

    /// Records `reply` as the answer to `method path-template`.
    func record(_ reply: Reply, path: String, method: String = "GET") {
        lock.withLock {
            cases.append(["path": path, "method": method, "status": reply.status,
                          "content_type": reply.contentType, "body": reply.text])
        }
    }

    /// Records a response that must match one schema (for paths outside the contract).
    func record(_ reply: Reply, schema: String) {
        lock.withLock {
            cases.append(["schema": schema, "status": reply.status, "content_type": reply.contentType, "body": reply.text])
        }
    }

    /// Runs the validator; returns its report and whether everything matched.
    func verify() throws -> (ok: Bool, report: String) {
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("netstatd-contract-\(UUID().uuidString).json")
        defer { try? FileManager.default.removeItem(at: file) }
        let snapshot = lock.withLock { cases }
        try JSONSerialization.data(withJSONObject: snapshot).write(to: file)
        let script = Bundle.module.url(forResource: "Fixtures", withExtension: nil)!.appendingPathComponent("validate_openapi.py").path
        let spec = TestEnvironment.packageRoot.appendingPathComponent("openapi.yaml").path
        let result = try run(["python3", script, spec, file.path], timeout: 60)
        return (result.status == 0, result.text + result.stderr)
    }
}

/// True when python3 can validate against the contract (jsonschema and PyYAML).
let canValidateContract: Bool = {
    (try? run(["python3", "-c", "import jsonschema, yaml"]))?.status == 0
}()
