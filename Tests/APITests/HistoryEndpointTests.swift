import API
import Foundation
import Sampling
import Store
import TestSupport
import Testing

/// History through the real server: a Recorder writes a known story to a temp file,
/// and every history endpoint answers about it (checked against openapi.yaml).
@Suite(.enabled(if: TestEnvironment.hasTool("curl"), "needs curl to send real requests"))
struct HistoryEndpointTests {
    let contract = ContractCheck()

    private func verifyContract() throws {
        guard canValidateContract else { return }
        let (ok, report) = try contract.verify()
        #expect(ok, "responses differ from openapi.yaml:\n\(report)")
    }

    /// The story of RecorderTests, ending 60 s ago: A ESTABLISHED -> TIME_WAIT -> gone,
    /// L listening on 80, C with a backlog episode, owners nginx 10 and 11.
    private func storyServer() throws -> (LiveServer, URL, Double) {
        let dir = try Synthetic.temporaryDirectory("history-api")
        let path = dir.appendingPathComponent("h.db").path
        let base = (Date().timeIntervalSince1970 - 64).rounded(.down)
        let recorder = try Recorder(path: path, version: "test")
        let nginx = Synthetic.owner(10, "nginx")
        let worker = Synthetic.owner(11, "nginx", fd: 4)
        let listener = Synthetic.socket(cookie: 2, state: .listen, local: 80, owners: [nginx])
        func counters(_ i: UInt64) -> [CounterKey: UInt64] {
            Synthetic.counters(["Tcp.OutSegs": i * 100, "Tcp.RetransSegs": i, "interface.lo.rx_bytes": i * 5000, "interface.lo.tx_bytes": i * 5000])
        }
        try recorder.record(Synthetic.snapshot(at: base + 1, [
            Synthetic.socket(cookie: 1, state: .established, local: 80, remote: 5000, owners: [nginx]), listener]), counters: counters(1))
        try recorder.record(Synthetic.snapshot(at: base + 2, [
            Synthetic.socket(cookie: 1, state: .timeWait, local: 80, remote: 5000), listener,
            Synthetic.socket(cookie: 3, state: .established, local: 80, remote: 5001, recvQ: 500, owners: [nginx, worker])]), counters: counters(2))
        try recorder.record(Synthetic.snapshot(at: base + 3, [
            listener, Synthetic.socket(cookie: 3, state: .established, local: 80, remote: 5001, recvQ: 900, owners: [nginx, worker])]), counters: counters(3))
        try recorder.record(Synthetic.snapshot(at: base + 4, [
            listener, Synthetic.socket(cookie: 3, state: .established, local: 80, remote: 5001, owners: [worker])]), counters: counters(4))
        let history = HistoryAccess(readers: ReaderPool(path: path), status: RecorderStatus(), path: path)
        return (try LiveServer(history: history), dir, base)
    }

    @Test func windowAtAndPorts() throws {
        let (server, dir, base) = try storyServer()
        defer { try? FileManager.default.removeItem(at: dir) }

        let window = try server.get("/api/v1/history/connections?from=-5m")
        contract.record(window, path: "/api/v1/history/connections")
        #expect(window.status == 200)
        #expect(window.items.count == 3)
        let a = window.items.first { ($0["remote"] as? [String: Any])?["port"] as? Int == 5000 }
        #expect((a?["states"] as? [[String: Any]])?.compactMap { $0["state"] as? String } == ["ESTABLISHED", "TIME_WAIT"])
        #expect(a?["last_seen"] is String)
        let c = window.items.first { ($0["remote"] as? [String: Any])?["port"] as? Int == 5001 }
        #expect(c?["last_seen"] is NSNull)
        #expect((c?["backlog"] as? [[String: Any]])?.first?["peak_recv_q"] as? Int == 900)

        let filtered = try server.get("/api/v1/history/connections?from=-5m&state=time-wait")
        #expect(filtered.items.count == 1, "a connection that was ever in the state")
        let paged = try server.get("/api/v1/history/connections?from=-5m&limit=2")
        #expect(paged.items.count == 2 && paged.json["next"] is String)
        let rest = try server.get("/api/v1/history/connections?from=-5m&limit=2&cursor=\(paged.json["next"] as! String)")
        #expect(rest.items.count == 1 && rest.json["next"] is NSNull)

        let at = try server.get("/api/v1/connections?at=\(Int(base) + 2)")
        contract.record(at, path: "/api/v1/connections")
        #expect(at.status == 200 && at.items.count == 3)
        #expect(at.items.contains { $0["state"] as? String == "TIME_WAIT" })
        let atFiltered = try server.get("/api/v1/connections?at=\(Int(base) + 2)&state=estab&format=table")
        #expect(atFiltered.text.contains("127.0.0.1:80") && atFiltered.text.contains("ESTABLISHED") && atFiltered.text.contains("10/nginx,11/nginx"))
        let later = try server.get("/api/v1/connections?at=-1s")
        #expect(later.items.count == 2, "the last sample at or before T")

        let port = try server.get("/api/v1/history/ports/80?from=-5m")
        contract.record(port, path: "/api/v1/history/ports/{port}")
        #expect((port.json["listeners"] as? [Any])?.count == 1)
        #expect((port.json["connections"] as? [Any])?.count == 2)
        try verifyContract()
    }

    @Test func statesSamplesAndStatus() throws {
        let (server, dir, _) = try storyServer()
        defer { try? FileManager.default.removeItem(at: dir) }
        let states = try server.get("/api/v1/history/states?from=-5m&step=1s")
        contract.record(states, path: "/api/v1/history/states")
        let series = states.json["series"] as? [[String: Any]] ?? []
        #expect(series.count == 4 && states.json["tier"] as? String == "raw")
        let counts = series.compactMap { (($0["counts"] as? [String: Any])?["tcp"] as? [String: Double]) }
        #expect(counts.first?["ESTABLISHED"] == 1 && counts.first?["LISTEN"] == 1)
        #expect(counts[1]["TIME_WAIT"] == 1)
        let grouped = try server.get("/api/v1/history/states?from=-5m&step=1s&group_by=remote_addr")
        contract.record(grouped, path: "/api/v1/history/states")
        let firstGroups = (grouped.json["series"] as? [[String: Any]])?.first?["groups"] as? [String: [String: [String: Int]]]
        #expect(firstGroups?["127.0.0.1"]?["tcp"]?["ESTABLISHED"] == 1 && firstGroups?["0.0.0.0"]?["tcp"]?["LISTEN"] == 1)
        // Longer than a day: from the hourly grouped counts (steps of an hour or more).
        let wide = try server.get("/api/v1/history/states?from=-3d&step=1h&group_by=process")
        contract.record(wide, path: "/api/v1/history/states")
        #expect(wide.status == 200 && wide.json["tier"] as? String == "1h", "\(wide.text)")
        let tooFine = try server.get("/api/v1/history/states?from=-3d&step=5m&group_by=process")
        #expect(tooFine.status == 400 && tooFine.json["parameter"] as? String == "step")
        let coarse = try server.get("/api/v1/history/states?from=-5m&step=1h")
        #expect((coarse.json["series"] as? [Any])?.count == 1)

        let samples = try server.get("/api/v1/history/samples?from=-5m")
        contract.record(samples, path: "/api/v1/history/samples")
        #expect(samples.items.count == 4 && (samples.json["gaps"] as? [Any])?.isEmpty == true)

        let status = try server.get("/api/v1/status")
        contract.record(status, path: "/api/v1/status")
        let history = status.json["history"] as? [String: Any]
        #expect(history?["samples"] as? Int == 4)
        #expect(history?["size_bytes"] as? Int ?? 0 > 0)
        try verifyContract()
    }

    @Test func counterRateSeries() throws {
        let (server, dir, _) = try storyServer()
        defer { try? FileManager.default.removeItem(at: dir) }
        let protocols = try server.get("/api/v1/history/protocols?from=-5m&step=1s&counter=Tcp.OutSegs&counter=Tcp.RetransSegs")
        contract.record(protocols, path: "/api/v1/history/protocols")
        let series = protocols.json["series"] as? [String: [[String: Any]]] ?? [:]
        #expect(series["Tcp.OutSegs"]?.compactMap { $0["rate"] as? Double } == [100, 100, 100])
        #expect(series["Tcp.RetransSegs"]?.last?["value"] as? Double == 4)
        let unknown = try server.get("/api/v1/history/protocols?counter=Tcp.OutSeg")
        #expect(unknown.status == 400 && (unknown.json["detail"] as? String)?.contains("Tcp.OutSegs") == true)
        let interfaces = try server.get("/api/v1/history/interfaces?from=-5m&step=1s&name=lo&counter=rx_bytes")
        contract.record(interfaces, path: "/api/v1/history/interfaces")
        let lo = (interfaces.json["series"] as? [String: [String: [[String: Any]]]])?["lo"]?["rx_bytes"] ?? []
        #expect(lo.compactMap { $0["rate"] as? Double } == [5000, 5000, 5000])
        let badName = try server.get("/api/v1/history/interfaces?name=eth9")
        #expect(badName.status == 400 && badName.json["parameter"] as? String == "name")
        try verifyContract()
    }

    @Test("the event feed as NDJSON, resumed from X-Next-Cursor without loss or duplicates")
    func eventFeed() throws {
        let (server, dir, _) = try storyServer()
        defer { try? FileManager.default.removeItem(at: dir) }
        let all = try server.get("/api/v1/events?after=start")
        contract.record(all, path: "/api/v1/events")
        #expect(all.contentType == "application/x-ndjson")
        let lines = all.text.split(separator: "\n").compactMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }
        #expect(lines.count >= 9)
        #expect(lines.first?["kind"] as? String == "opened")
        // Every opening names its owners: the listener's first pid appears in the feed.
        let listenerOpened = lines.first { $0["kind"] as? String == "opened" && ($0["connection"] as? [String: Any])?["cookie"] as? Int == 2 }
        #expect((listenerOpened?["owners"] as? [[String: Any]])?.compactMap { $0["pid"] as? Int } == [10])
        var cursor = "start"
        var collected: [String] = []
        for _ in 0..<100 {
            let page = try server.get("/api/v1/events?after=\(cursor)&limit=3")
            let pageLines = page.text.split(separator: "\n").map(String.init)
            if pageLines.isEmpty {
                #expect(page.headers["x-next-cursor"] == cursor, "an empty page hands the cursor back")
                break
            }
            collected += pageLines
            cursor = try #require(page.headers["x-next-cursor"])
        }
        #expect(collected == all.text.split(separator: "\n").map(String.init))
        try verifyContract()
    }

    @Test("bad history input is a 400 naming the parameter", arguments: [
        ("/api/v1/history/connections?from=now&to=-1h", "from"),
        ("/api/v1/history/connections?from=yesterday", "from"),
        ("/api/v1/history/states?from=-30d&step=1s", "step"),
        ("/api/v1/history/states?step=0", "step"),
        ("/api/v1/connections?at=noon", "at"),
        ("/api/v1/events?after=garbage", "after"),
        ("/api/v1/events?limit=0", "limit"),
        ("/api/v1/history/ports/0", "port"),
        ("/api/v1/history/samples?window=1h", "window"),
    ])
    func badInput(path: String, parameter: String) throws {
        let (server, dir, _) = try storyServer()
        defer { try? FileManager.default.removeItem(at: dir) }
        let reply = try server.get(path)
        #expect(reply.status == 400, "\(path): \(reply.text)")
        #expect(reply.json["parameter"] as? String == parameter, "\(path): \(reply.text)")
        contract.record(reply, schema: "Problem")
        try verifyContract()
    }

    @Test("when history cannot be written, /healthz says degraded and /status says why")
    func writeFailuresAreVisible() throws {
        let (server, dir, _) = try storyServer()
        defer { try? FileManager.default.removeItem(at: dir) }
        let status = RecorderStatus()
        status.update {
            $0.failed = 3
            $0.lastError = "SQLite error 13: database or disk is full"
        }
        let path = dir.appendingPathComponent("h.db").path
        let degraded = try LiveServer(history: HistoryAccess(readers: ReaderPool(path: path), status: status, path: path))
        let health = try degraded.get("/healthz")
        contract.record(health, path: "/healthz")
        #expect(health.status == 200 && health.json["status"] as? String == "degraded")
        #expect((health.json["reasons"] as? [String])?.first?.contains("disk is full") == true)
        let report = try degraded.get("/api/v1/status")
        contract.record(report, path: "/api/v1/status")
        let history = report.json["history"] as? [String: Any]
        #expect(history?["failed"] as? Int == 3 && (history?["last_error"] as? String)?.contains("disk is full") == true)
        #expect(try server.get("/healthz").json["status"] as? String == "ok")
        try verifyContract()
    }

    @Test func withoutHistoryTheEndpointsSaySo() throws {
        let server = try LiveServer()
        let reply = try server.get("/api/v1/history/samples")
        #expect(reply.status == 503 && (reply.json["detail"] as? String)?.contains("--db") == true)
        contract.record(reply, path: "/api/v1/history/samples")
        try verifyContract()
    }
}
