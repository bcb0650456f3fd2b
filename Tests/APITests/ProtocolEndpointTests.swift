import API
import Foundation
import Glibc
import Sampling
import TestSupport
import Testing

/// Protocol counters, socket totals, interfaces, routes and /metrics through the real server.
@Suite(.enabled(if: TestEnvironment.hasTool("curl"), "needs curl to send real requests"))
struct ProtocolEndpointTests {
    let contract = ContractCheck()

    private func verifyContract() throws {
        guard canValidateContract else { return }
        let (ok, report) = try contract.verify()
        #expect(ok, "responses differ from openapi.yaml:\n\(report)")
    }

    private func readCounters() throws -> [String: UInt64] {
        let text = try String(contentsOfFile: "/proc/net/snmp", encoding: .utf8)
        return Dictionary(ProcNetSNMP.parse(text).map { ($0.key, $0.value) }, uniquingKeysWith: { a, _ in a })
    }

    @Test("a counter served lies between reads of /proc just before and just after")
    func protocolsMatchTheKernel() throws {
        let server = try LiveServer()
        let before = try readCounters()
        let reply = try server.get("/api/v1/stats/protocols")
        let after = try readCounters()
        contract.record(reply, path: "/api/v1/stats/protocols")
        let groups = reply.json["groups"] as? [String: [String: [String: Any]]] ?? [:]
        for key in ["Tcp.InSegs", "Tcp.OutSegs", "Ip.InReceives", "Udp.InDatagrams"] {
            let parts = key.split(separator: ".").map(String.init)
            let served = try #require((groups[parts[0]]?[parts[1]]?["value"] as? NSNumber)?.uint64Value, "\(key) served")
            #expect(served >= before[key]! && served <= after[key]!, "\(key): \(before[key]!) <= \(served) <= \(after[key]!)")
        }
        let names = (reply.json["health"] as? [[String: Any]])?.compactMap { $0["name"] as? String } ?? []
        #expect(names.contains("tcp_retransmission_ratio") && names.contains("tcp_listen_overflows_per_second"))
        // A second reading a little later has rates.
        usleep(1_100_000)
        let second = try server.get("/api/v1/stats/protocols?group=Tcp")
        contract.record(second, path: "/api/v1/stats/protocols")
        let tcp = (second.json["groups"] as? [String: [String: [String: Any]]])?["Tcp"] ?? [:]
        #expect(tcp["InSegs"]?["rate"] is Double)
        #expect((second.json["groups"] as? [String: Any])?.keys.sorted() == ["Tcp"])
        let one = try server.get("/api/v1/stats/protocols?counter=Tcp.RetransSegs")
        #expect(((one.json["groups"] as? [String: [String: Any]])?["Tcp"])?.keys.sorted() == ["RetransSegs"])
        try verifyContract()
    }

    @Test func unknownCounterSuggests() throws {
        let server = try LiveServer()
        let reply = try server.get("/api/v1/stats/protocols?counter=Tcp.RetransSeg")
        #expect(reply.status == 400 && reply.json["parameter"] as? String == "counter")
        #expect((reply.json["detail"] as? String)?.contains("Tcp.RetransSegs") == true)
        contract.record(reply, schema: "Problem")
        try verifyContract()
    }

    @Test func socketsInterfacesRoutes() throws {
        let pair = try LoopbackPair()
        defer { pair.close() }
        let server = try LiveServer()
        let sockets = try server.get("/api/v1/stats/sockets")
        contract.record(sockets, path: "/api/v1/stats/sockets")
        #expect(((sockets.json["sockstat"] as? [String: Any])?["TCP"] as? [String: Int])?["inuse"] ?? 0 >= 3)
        let interfaces = try server.get("/api/v1/interfaces")
        contract.record(interfaces, path: "/api/v1/interfaces")
        let lo = interfaces.items.first { $0["name"] as? String == "lo" }
        #expect(((lo?["counters"] as? [String: [String: Any]])?["rx_bytes"]?["value"] as? Double ?? 0) > 0)
        #expect(lo?["mtu"] as? Int == 65536)
        let missing = try server.get("/api/v1/interfaces?name=nope0")
        #expect(missing.status == 400 && missing.json["parameter"] as? String == "name")
        let routes = try server.get("/api/v1/routes")
        contract.record(routes, path: "/api/v1/routes")
        #expect(routes.status == 200)
        try verifyContract()
    }

    @Test("/metrics parses with Prometheus' own parser",
          .enabled(if: (try? run(["python3", "-c", "import prometheus_client"]))?.status == 0, "needs python3 prometheus_client"))
    func metricsParse() throws {
        let pair = try LoopbackPair()
        defer { pair.close() }
        let server = try LiveServer()
        let reply = try server.get("/metrics")
        #expect(reply.contentType.hasPrefix("text/plain; version=0.0.4"))
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("netstatd-metrics-\(UUID().uuidString).txt")
        try reply.body.write(to: file)
        defer { try? FileManager.default.removeItem(at: file) }
        let script = Bundle.module.url(forResource: "Fixtures", withExtension: nil)!.appendingPathComponent("parse_metrics.py").path
        let parsed = try run(["sh", "-c", "python3 '\(script)' < '\(file.path)'"])
        #expect(parsed.status == 0, "\(parsed.text)")
        let families = Set(parsed.text.split(separator: "\n").map { String($0.split(separator: " ")[0]) })
        for name in ["netstatd_sockets", "netstatd_listen_queue_length", "netstatd_listen_backlog", "netstatd_tcp_retrans_segs",
                     "netstatd_tcp_ext_listen_overflows", "netstatd_network_receive_bytes", "netstatd_samples"] {
            #expect(families.contains(name), "\(name) in \(families.count) families")
        }
        #expect(reply.text.contains("netstatd_listen_queue_length{address=\"127.0.0.1\",port=\"\(pair.port)\"} 0"))
        #expect(reply.text.contains("netstatd_tcp_retrans_segs_total "))
    }

    @Test("netstatd stats reads a captured tree", .enabled(if: TestEnvironment.netstatdBinary != nil, "needs the built binary"))
    func statsCommand() throws {
        let binary = try #require(TestEnvironment.netstatdBinary)
        let live = try run([binary, "stats"])
        #expect(live.status == 0 && live.text.contains("Tcp:") && live.text.contains("ActiveOpens"))
        let json = try run([binary, "stats", "--json"])
        let document = try JSONSerialization.jsonObject(with: json.stdout) as? [String: Any]
        #expect(((document?["groups"] as? [String: Any])?["Tcp"] as? [String: Any])?["RtoMin"] as? Int == 200)
        let bad = try run([binary, "stats", "--proc-root", "/nonexistent"])
        #expect(bad.status == 64)
    }
}
