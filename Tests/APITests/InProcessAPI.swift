import API
import Foundation
import HTTP
import Sampling
import Service
import Store
import TestSupport

/// The whole API called in-process through `APIServer.handle`: the same routing,
/// parsing and rendering as the live server, without sockets, so logic tests are fast.
struct InProcessAPI {
    let api: APIServer
    let live: LiveView

    init(configuration: APIConfiguration = APIConfiguration(), history: HistoryAccess? = nil) {
        live = LiveView(collector: Collector(options: {
            var options = CollectorOptions()
            options.tcpInfo = true
            // As LiveServer: this process's namespace only, so counts are this test's.
            options.namespaces = .host
            return options
        }()))
        api = APIServer(live: live, configuration: configuration, history: history)
    }

    /// A history file in `directory` holding what `write` records, served by a new API.
    static func withHistory(in directory: URL, retention: Retention = Retention(), _ write: (Recorder) throws -> Void) throws -> InProcessAPI {
        let path = directory.appendingPathComponent("h.db").path
        do {
            let recorder = try Recorder(path: path, version: "test", retention: retention)
            try write(recorder)
        }
        let status = RecorderStatus()
        return InProcessAPI(history: HistoryAccess(readers: ReaderPool(path: path, status: status), status: status, path: path))
    }

    /// GET `target` (`/path?a=1&b=2`, query percent-encoded as a client would send it).
    func get(_ target: String, headers: [(name: String, value: String)] = []) -> Answer {
        let parts = target.split(separator: "?", maxSplits: 1)
        var query: [(name: String, value: String)] = []
        if parts.count == 2 {
            for pair in parts[1].split(separator: "&", omittingEmptySubsequences: true) {
                let kv = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
                let decode = { (text: Substring) in (String(text).replacingOccurrences(of: "+", with: " ").removingPercentEncoding ?? String(text)) }
                query.append((decode(kv[0]), kv.count > 1 ? decode(kv[1]) : ""))
            }
        }
        let response = api.handle(HTTPRequest(method: "GET", path: String(parts[0]), query: query, headers: headers))
        return Answer(status: response.status, headers: response.headers, body: Data(response.body))
    }
}

/// A response as a test reads it.
struct Answer {
    var status: Int
    var headers: [(name: String, value: String)]
    var body: Data

    var text: String { String(decoding: body, as: UTF8.self) }
    var json: [String: Any] { (try? JSONSerialization.jsonObject(with: body)) as? [String: Any] ?? [:] }
    var items: [[String: Any]] { json["items"] as? [[String: Any]] ?? [] }
    func header(_ name: String) -> String? { headers.first { $0.name.lowercased() == name.lowercased() }?.value }
}
