import API
import Foundation
import HTTP
import Sampling
import Service
import Store
import TestSupport
import Testing

/// What `--export-url` shows through the API: the lines it sends are the feed's lines
/// (one writer) with `host` and `instance` first, and /api/v1/status and /metrics say
/// how each export is doing.
@Suite(.enabled(if: TestEnvironment.hasTool("curl") && TestEnvironment.hasTool("gzip"), "needs curl and gzip"))
struct ExportEndpointTests {
    let contract = ContractCheck()

    /// The live view the exporters name users from, known only once the server exists.
    final class LiveHolder: @unchecked Sendable {
        // @unchecked: written once, before any exporter starts.
        var live: LiveView?
    }


    @Test("the exporter's lines are the route's lines with host and instance first; status and metrics follow it")
    func linesStatusAndMetrics() throws {
        let dir = try Synthetic.temporaryDirectory("export-api")
        defer { try? FileManager.default.removeItem(at: dir) }
        let path = dir.appendingPathComponent("h.db").path
        do {
            let recorder = try Recorder(path: path, version: "test")
            let base = (Date().timeIntervalSince1970 - 30).rounded(.down)
            let nginx = Synthetic.owner(10, "nginx")
            let listener = Synthetic.socket(cookie: 2, state: .listen, local: 80, owners: [nginx])
            try recorder.record(Synthetic.snapshot(at: base + 1, [
                Synthetic.socket(cookie: 1, state: .established, local: 80, remote: 5000, owners: [nginx]), listener]))
            try recorder.record(Synthetic.snapshot(at: base + 2, [
                Synthetic.socket(cookie: 1, state: .timeWait, local: 80, remote: 5000), listener,
                Synthetic.socket(cookie: 3, state: .established, local: 80, remote: 5001, recvQ: 500, owners: [nginx])]))
            try recorder.record(Synthetic.snapshot(at: base + 3, [
                listener, Synthetic.socket(cookie: 3, state: .established, local: 80, remote: 5001, owners: [nginx])]))
        }
        let receiver = try TestReceiver(script: [])
        defer { receiver.stop() }
        let dead = try TestReceiver(script: [])
        dead.stop()
        let instance = try ExportCursors(path: path).instanceID()
        let holder = LiveHolder()
        func exporter(_ url: String) throws -> EventExporter {
            var settings = EventExporter.Settings(url: try HTTPClientURL(url), host: "web-1", instance: instance)
            settings.interval = 0.05
            settings.backoff = 0.05
            settings.backoffMax = 0.1
            return try EventExporter(settings: settings, databasePath: path, userNames: { holder.live?.newest?.userNames ?? [:] })
        }
        let working = try exporter("http://default:hunter2@127.0.0.1:\(receiver.port)/?query=INSERT%20INTO%20netstatd.events%20FORMAT%20JSONEachRow")
        let failing = try exporter("http://127.0.0.1:\(dead.port)/ingest?password=hunter2")
        var history = HistoryAccess(readers: ReaderPool(path: path), status: RecorderStatus(), path: path)
        history.exporters = [working, failing]
        let server = try LiveServer(history: history)
        holder.live = server.live
        // A sample first, so the route and the exporter name users from the same snapshot.
        _ = try server.get("/api/v1/connections?limit=1")
        try working.start()
        try failing.start()
        defer {
            working.stop()
            failing.stop()
        }
        let feed = try server.get("/api/v1/events?after=start")
        let routeLines = feed.text.split(separator: "\n").map(String.init)
        #expect(routeLines.count >= 8)
        #expect(wait(10) { working.status.eventsSent == routeLines.count && failing.status.failures >= 2 })

        let sent = try receiver.received.flatMap { try $0.lines() }
        let prefix = "{\"host\":\"web-1\",\"instance\":\"\(instance)\","
        #expect(sent.allSatisfy { $0.hasPrefix(prefix) })
        #expect(sent.map { "{" + $0.dropFirst(prefix.count) } == routeLines, "byte for byte the route's lines after host and instance")

        let status = try server.get("/api/v1/status")
        contract.record(status, path: "/api/v1/status")
        let exports = try #require(status.json["exports"] as? [[String: Any]])
        #expect(exports.count == 2)
        #expect(exports[0]["url"] as? String == "http://default:***@127.0.0.1:\(receiver.port)/?query=INSERT%20INTO%20netstatd.events%20FORMAT%20JSONEachRow")
        #expect(exports[0]["last_success"] is String && exports[0]["consecutive_failures"] as? Int == 0 && exports[0]["last_error"] is NSNull)
        #expect(exports[0]["backlog"] as? Int == 0 && exports[0]["events_sent"] as? Int == routeLines.count)
        #expect(exports[1]["url"] as? String == "http://127.0.0.1:\(dead.port)/ingest?password=***")
        #expect(exports[1]["last_success"] is NSNull && (exports[1]["consecutive_failures"] as? Int ?? 0) >= 2)
        #expect((exports[1]["last_error"] as? String)?.contains("Connection refused") == true, "\(exports[1])")
        #expect(exports[1]["backlog"] as? Int == routeLines.count, "nothing acknowledged: the whole feed waits")
        #expect(!status.text.contains("hunter2"))

        let metrics = try server.get("/metrics")
        let working_ = "{url=\"http://default:***@127.0.0.1:\(receiver.port)/?query=INSERT%20INTO%20netstatd.events%20FORMAT%20JSONEachRow\"}"
        let failing_ = "{url=\"http://127.0.0.1:\(dead.port)/ingest?password=***\"}"
        for line in [
            "# TYPE netstatd_export_events_sent_total counter", "netstatd_export_events_sent_total\(working_) \(routeLines.count)",
            "netstatd_export_events_sent_total\(failing_) 0", "# TYPE netstatd_export_failures_total counter",
            "netstatd_export_failures_total\(working_) 0", "# TYPE netstatd_export_backlog_events gauge",
            "netstatd_export_backlog_events\(working_) 0", "netstatd_export_backlog_events\(failing_) \(routeLines.count)",
            "# TYPE netstatd_export_last_success_timestamp_seconds gauge", "# TYPE netstatd_export_consecutive_failures gauge",
        ] {
            #expect(metrics.text.split(separator: "\n").contains { $0 == line }, "missing: \(line)")
        }
        #expect(metrics.text.contains("netstatd_export_failures_total\(failing_) "))
        #expect(!metrics.text.contains("netstatd_export_last_success_timestamp_seconds\(failing_)"), "absent before the first success")
        #expect(!metrics.text.contains("hunter2"))
        if canValidateContract {
            let (ok, report) = try contract.verify()
            #expect(ok, "responses differ from openapi.yaml:\n\(report)")
        }
    }

    @Test("without exports, status has an empty exports array and /metrics no export families")
    func noExports() throws {
        let server = try LiveServer()
        let status = try server.get("/api/v1/status")
        contract.record(status, path: "/api/v1/status")
        #expect((status.json["exports"] as? [Any])?.isEmpty == true)
        #expect(!(try server.get("/metrics")).text.contains("netstatd_export_"))
        if canValidateContract {
            let (ok, report) = try contract.verify()
            #expect(ok, "responses differ from openapi.yaml:\n\(report)")
        }
    }
}
