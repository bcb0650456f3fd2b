import Foundation
import Glibc
import HTTP
import Sampling
import Service
import Store
import TestSupport
import Testing

/// True when python3 can import chdb (ClickHouse's engine as a library).
let canImportChdb: Bool = (try? run(["python3", "-c", "import chdb"], timeout: 60))?.status == 0

/// Two hosts' histories exported by the real exporter, loaded with ClickHouse's own
/// engine (chdb) into deploy/clickhouse/schema.sql, and every fleet question of
/// deploy/clickhouse/queries.sql asked: each answers what the test made.
@Suite(.enabled(if: canImportChdb, "needs Python's chdb (ClickHouse's engine); scripts/install-deps installs it"),
       .enabled(if: TestEnvironment.hasTool("gzip"), "needs gzip to unpack what the receiver got"))
struct ClickHouseFleetTests {
    /// A TCP IPv4 connection from `local` to `remote`, as a sample sees it.
    static func connection(_ cookie: UInt64, _ local: String, _ localPort: UInt16, _ remote: String, _ remotePort: UInt16,
                           owners: SocketOwners = []) -> Socket {
        Socket(proto: .tcp, family: .ipv4, state: .established,
               local: Endpoint(address: IPAddress(local)!, port: localPort), remote: Endpoint(address: IPAddress(remote)!, port: remotePort),
               recvQ: 0, sendQ: 0, uid: 1000, inode: cookie + 5000, cookie: cookie, processes: owners)
    }

    /// The kernel's close event for `socket` at `at`, with its final byte counters.
    static func closed(_ socket: Socket, at: Double, sent: UInt64, received: UInt64) -> CloseEvent {
        var socket = socket
        socket.processes = []
        socket.tcpInfo = TCPInfo(
            rttUs: 300, rttVarUs: 50, minRttUs: 200, rtoUs: 204_000, sendCwnd: 10, sendSsthresh: 0, sendMss: 1448, recvMss: 1448,
            unacked: 0, lost: 0, retransCurrent: 0, totalRetrans: 0, bytesAcked: sent, bytesReceived: received, bytesSent: sent,
            bytesRetrans: 0, segsOut: 10, segsIn: 10, lastSendMs: 0, lastRecvMs: 0, pacingRate: nil, deliveryRate: nil, notsentBytes: nil)
        return CloseEvent(socket: socket, at: at)
    }

    static func snapshot(_ time: Double, _ sockets: [Socket]) -> Snapshot {
        Snapshot(takenAt: time, duration: 0.001, source: .netlink, sockets: sockets, problems: SamplingProblems(), userNames: [1000: "app"])
    }

    /// app-1 (day = yesterday 00:00 UTC):
    /// - A 10.1.0.11:40001 -> 10.0.0.5:5432 (psql), 10:00:00 to 10:00:07, 1,000 + 5,000 bytes
    /// - C 10.1.0.11:40003 -> 10.0.0.9:443 (curl), 10:00:00 to 10:00:15, 200 + 9,000,000 bytes
    /// - B 10.1.0.11:40002 -> 10.0.0.5:5432 (psql), 11:00:00 to 11:00:00.400, 100 + 300 bytes
    /// - E 10.1.0.11:40004 -> 10.0.0.9:443, only its close event at 11:00:03, 50 + 70,000 bytes
    static func recordAppOne(_ path: String, day: Double) throws {
        let recorder = try Recorder(path: path, version: "test")
        let psql = SocketOwner(pid: 100, startTime: 1, name: "psql", fd: 3)
        let curl = SocketOwner(pid: 101, startTime: 1, name: "curl", fd: 5)
        let a = connection(11, "10.1.0.11", 40001, "10.0.0.5", 5432, owners: [psql])
        let c = connection(13, "10.1.0.11", 40003, "10.0.0.9", 443, owners: [curl])
        let b = connection(12, "10.1.0.11", 40002, "10.0.0.5", 5432, owners: [psql])
        let e = connection(14, "10.1.0.11", 40004, "10.0.0.9", 443)
        let ten = day + 10 * 3600, eleven = day + 11 * 3600
        try recorder.record(snapshot(ten, [a, c]))
        try recorder.record(snapshot(ten + 10, [c]), closeEvents: [closed(a, at: ten + 7, sent: 1000, received: 5000)])
        try recorder.record(snapshot(ten + 20, []), closeEvents: [closed(c, at: ten + 15, sent: 200, received: 9_000_000)])
        try recorder.record(snapshot(eleven, [b]))
        try recorder.record(snapshot(eleven + 5, []), closeEvents: [
            closed(b, at: eleven + 0.4, sent: 100, received: 300), closed(e, at: eleven + 3, sent: 50, received: 70_000)])
    }

    /// app-2:
    /// - F 10.2.0.22:41001 -> 10.0.0.5:5432 two days ago, 20:00:00 to 20:00:05
    /// - I 10.2.0.22:41009 -> 10.0.0.5:5432 (app) from two days ago at 20:00, still open
    /// - G 10.2.0.22:41002 -> 10.0.0.7:6379, yesterday 10:00:00 to 10:00:00.200, 5 + 7 bytes
    /// - H 10.2.0.22:41003 -> 10.0.0.7:6379, yesterday 10:00:00 to 10:00:25, 1,000 + 2,000 bytes
    static func recordAppTwo(_ path: String, day: Double) throws {
        let recorder = try Recorder(path: path, version: "test")
        let app = SocketOwner(pid: 200, startTime: 1, name: "app", fd: 9)
        let redis = SocketOwner(pid: 201, startTime: 1, name: "worker", fd: 4)
        let f = connection(21, "10.2.0.22", 41001, "10.0.0.5", 5432, owners: [app])
        let i = connection(29, "10.2.0.22", 41009, "10.0.0.5", 5432, owners: [app])
        let g = connection(22, "10.2.0.22", 41002, "10.0.0.7", 6379, owners: [redis])
        let h = connection(23, "10.2.0.22", 41003, "10.0.0.7", 6379, owners: [redis])
        let before = day - 86400 + 20 * 3600, ten = day + 10 * 3600
        try recorder.record(snapshot(before, [f, i]))
        try recorder.record(snapshot(before + 10, [i]), closeEvents: [closed(f, at: before + 5, sent: 10, received: 20)])
        try recorder.record(snapshot(ten, [i, g, h]))
        try recorder.record(snapshot(ten + 5, [i, h]), closeEvents: [closed(g, at: ten + 0.2, sent: 5, received: 7)])
        try recorder.record(snapshot(ten + 30, [i]), closeEvents: [closed(h, at: ten + 25, sent: 1000, received: 2000)])
    }

    @Test("the fleet queries answer what two hosts recorded")
    func fleetQueries() throws {
        let dir = try Synthetic.temporaryDirectory("clickhouse")
        defer { try? FileManager.default.removeItem(at: dir) }
        let day = (Date().timeIntervalSince1970 / 86400).rounded(.down) * 86400 - 86400
        let receiver = try TestReceiver(script: [])
        defer { receiver.stop() }
        var exported = 0
        for (host, record) in [("app-1", Self.recordAppOne), ("app-2", Self.recordAppTwo)] {
            let path = dir.appendingPathComponent("\(host).db").path
            try record(path, day)
            var settings = EventExporter.Settings(
                url: try HTTPClientURL(receiver.base + "/?query=INSERT%20INTO%20netstatd.events%20FORMAT%20JSONEachRow&date_time_input_format=best_effort"),
                host: host, instance: try ExportCursors(path: path).instanceID())
            settings.interval = 0.05
            let exporter = try EventExporter(settings: settings, databasePath: path, userNames: { [1000: "app"] })
            try exporter.start()
            let total = try EventExporterTests.feed(path).count
            #expect(wait(10) { exporter.status.eventsSent == total })
            exporter.stop()
            exported += total
        }
        let lines = try receiver.received.flatMap { try $0.lines() }
        #expect(lines.count == exported)
        let file = dir.appendingPathComponent("events.ndjson")
        try Data((lines.joined(separator: "\n") + "\n").utf8).write(to: file)

        let fixtures = Bundle.module.url(forResource: "Fixtures", withExtension: nil)!
        let deploy = TestEnvironment.packageRoot.appendingPathComponent("deploy/clickhouse")
        func utc(_ seconds: Double) -> String {
            let date = Date(timeIntervalSince1970: seconds)
            let formatter = DateFormatter()
            formatter.timeZone = TimeZone(identifier: "UTC")
            formatter.locale = Locale(identifier: "en_US_POSIX")
            formatter.dateFormat = "yyyy-MM-dd HH:mm:ss"
            return formatter.string(from: date)
        }
        let params = ["address": "10.0.0.5", "port": "5432", "from": utc(day), "to": utc(day + 86400)]
        let result = try run(["python3", fixtures.appendingPathComponent("clickhouse_fleet.py").path,
                              deploy.appendingPathComponent("schema.sql").path, deploy.appendingPathComponent("queries.sql").path,
                              file.path, String(decoding: try JSONSerialization.data(withJSONObject: params), as: UTF8.self)], timeout: 240)
        #expect(result.status == 0, "\(result.stderr)")
        let report = try #require(try JSONSerialization.jsonObject(with: result.stdout) as? [String: Any], "\(result.text)")
        #expect(report["rows"] as? Int == exported, "every line is a row")
        #expect(report["rows_after_repeat"] as? Int == exported, "a repeated batch is dropped, not stored twice")
        #expect(report["basic_refused"] as? Bool == true, "without best_effort the times do not parse: \(report["basic_error"] ?? "")")
        let results = try #require(report["results"] as? [String: [[String: Any]]])

        // Which hosts talked to 10.0.0.5:5432 yesterday: app-1 (A and B), app-2 (I, open
        // since two days ago); F closed two days ago.
        let talked = try #require(results["hosts_that_talked_to"])
        #expect(talked.map { $0["host"] as? String } == ["app-1", "app-2"], "\(talked)")
        #expect(talked.map { Self.integer($0["connections"]) } == [2, 1], "\(talked)")
        #expect(talked.map { $0["processes"] as? [String] } == [["psql"], ["app"]], "\(talked)")
        #expect(talked.map { $0["local_addresses"] as? [String] } == [["10.1.0.11"], ["10.2.0.22"]], "\(talked)")

        // Top talkers per host per hour (bytes sent + received of the connections closed in the hour).
        let top = try #require(results["top_talkers_per_host_per_hour"])
        let rows = top.map { "\($0["host"] as? String ?? "") \(($0["hour"] as? String ?? "").suffix(8)) \($0["peer"] as? String ?? "") \(Self.integer($0["connections"])) \(Self.integer($0["bytes"]))" }
        #expect(rows == [
            "app-1 10:00:00 10.0.0.9 1 9000200",
            "app-1 10:00:00 10.0.0.5 1 6000",
            "app-1 11:00:00 10.0.0.9 1 70050",
            "app-1 11:00:00 10.0.0.5 1 400",
            "app-2 10:00:00 10.0.0.7 2 3012",
        ], "\(top)")

        // Connections under a second by host and port: B and G measured, E between samples.
        let short = try #require(results["short_connections_by_host_and_port"])
        let shortRows = short.map { "\($0["host"] as? String ?? "") \(Self.integer($0["port"])) \(Self.integer($0["under_a_second"])) \(Self.integer($0["between_samples"]))" }
        #expect(shortRows == ["app-1 443 0 1", "app-1 5432 1 0", "app-2 6379 1 0"], "\(short)")
        #expect(short.first?["median_ms"] is NSNull, "no measured life among those seen only at their close: \(short)")
        #expect(short.dropFirst().map { Self.integer($0["median_ms"]) } == [400, 200], "\(short)")
        print("chdb \(report["engine"] ?? ""): \(exported) lines from 2 hosts, \(report["rows"] ?? 0) rows (again after a repeated insert: \(report["rows_after_repeat"] ?? 0)); hosts_that_talked_to \(talked.map { "\($0["host"] ?? "")=\($0["connections"] ?? "")" }); top talkers \(rows); short \(shortRows)")
    }

    /// ClickHouse's JSON writes 64-bit integers as strings (output_format_json_quote_64bit_integers).
    static func integer(_ value: Any?) -> Int {
        if let number = value as? Int { return number }
        if let number = value as? Double { return Int(number) }
        if let text = value as? String { return Int(Double(text) ?? -1) }
        return -1
    }
}
