import Foundation
import Sampling
import Store
import TestSupport
import Testing

/// `history/flows` over a history holding connections seen only through their close
/// events (written by the Recorder from synthetic events, as the reader thread hands them).
struct FlowEndpointTests {
    static func closeEvent(cookie: UInt64, remote: String, remotePort: UInt16, bytes: UInt64, at: Double) -> CloseEvent {
        var socket = Socket(proto: .tcp, family: .ipv4, state: .close,
                            local: Endpoint(address: IPAddress("127.0.0.1")!, port: 80),
                            remote: Endpoint(address: IPAddress(remote)!, port: remotePort),
                            recvQ: 0, sendQ: 0, uid: 0, inode: 0, cookie: cookie, processes: [])
        socket.tcpInfo = TCPInfo(rttUs: 100, rttVarUs: 10, minRttUs: 50, rtoUs: 200_000, sendCwnd: 10, sendSsthresh: 0, sendMss: 1460,
                                 recvMss: 1460, unacked: 0, lost: 0, retransCurrent: 0, totalRetrans: UInt32(cookie % 2), bytesAcked: 1,
                                 bytesReceived: bytes, bytesSent: 1, bytesRetrans: 0, segsOut: 3, segsIn: 4, lastSendMs: 0,
                                 lastRecvMs: 0, pacingRate: nil, deliveryRate: nil, notsentBytes: nil)
        return CloseEvent(socket: socket, at: at)
    }

    @Test("flows group short connections by port and by peer network, with bytes; bad keys are 400")
    func flowsGroupShortConnections() throws {
        let dir = try Synthetic.temporaryDirectory("flows")
        defer { try? FileManager.default.removeItem(at: dir) }
        let base = (Date().timeIntervalSince1970 - 30).rounded(.down)
        let listener = Synthetic.socket(cookie: 1, state: .listen, local: 80, owners: [Synthetic.owner(10, "nginx")])
        let api = try InProcessAPI.withHistory(in: dir) { recorder in
            try recorder.record(Synthetic.snapshot(at: base, [listener]))
            // 50 connections between two samples: 30 from 10.1.1.0/24, 20 from 10.2.2.0/24.
            var events: [CloseEvent] = []
            for index in 0..<50 {
                let remote: String = index < 30 ? "10.1.1.\(index + 1)" : "10.2.2.\(index)"
                let at: Double = base + 1 + Double(index) / 100
                events.append(Self.closeEvent(cookie: UInt64(100 + index), remote: remote, remotePort: UInt16(40000 + index),
                                              bytes: UInt64(100 * (index + 1)), at: at))
            }
            try recorder.record(Synthetic.snapshot(at: base + 5, [listener]), closeEvents: events)
        }
        let byPort = api.get("/api/v1/history/flows?from=-5m&group_by=local_port")
        #expect(byPort.status == 200, "\(byPort.text)")
        let port80 = try #require(byPort.items.first { $0["local_port"] as? String == "80" })
        #expect(port80["count"] as? Int == 50 && port80["count_close_event_only"] as? Int == 50)
        let expectedBytes: Int = (1...50).map { $0 * 100 }.reduce(0, +)
        #expect(port80["bytes_received"] as? Int == expectedBytes)
        #expect((port80["duration_ms"] as? [String: Any])?["p50"] is NSNull, "short connections have no known duration")
        let byNet = api.get("/api/v1/history/flows?from=-5m&group_by=remote_net&prefix=24")
        let nets: [String] = byNet.items.compactMap { $0["remote_net"] as? String }
        let netCounts: [Int] = byNet.items.compactMap { $0["count"] as? Int }
        #expect(nets == ["10.1.1.0/24", "10.2.2.0/24"])
        #expect(netCounts == [30, 20])
        let byProcess = api.get("/api/v1/history/flows?from=-5m&group_by=process,local_port&sort=bytes_received&limit=1")
        let topProcess: String? = byProcess.items.first?["process"] as? String
        #expect(byProcess.items.count == 1 && topProcess == "nginx", "the inferred owner: \(byProcess.text)")
        let narrowed = api.get("/api/v1/history/flows?from=-5m&remote_addr=10.2.2.0/24")
        #expect(narrowed.items.first?["count"] as? Int == 20)
        let csv = api.get("/api/v1/history/flows?from=-5m&group_by=remote_net&format=csv")
        #expect(csv.text.hasPrefix("remote_net,count,count_close_event_only,bytes_sent"))
        for bad in ["group_by=bogus", "prefix=33", "prefix6=129", "sort=size", "state=estab", "to=2001-01-01T00:00:00Z&from=2000-01-01"] {
            let answer = api.get("/api/v1/history/flows?" + bad)
            #expect(answer.status == 400 && answer.json["parameter"] is String, "\(bad): \(answer.status) \(answer.text.prefix(200))")
        }
        // The same connections in history/connections, as close-event rows.
        let rows = api.get("/api/v1/history/connections?from=-5m&local_port=80")
        let short = rows.items.filter { $0["seen"] as? String == "close_event" }
        #expect(short.count == 50)
        for row in short {
            let totals = row["totals"] as? [String: Any]
            let owners = row["owners"] as? [[String: Any]] ?? []
            #expect(row["first_seen"] is NSNull && row["uid"] is NSNull && totals?["bytes_received"] is Int)
            #expect(owners.first?["owner_inferred"] as? Bool == true)
        }
    }
}

extension FlowEndpointTests {
    @Test("flows older than the raw rows are answered from the rollups, which outlive them")
    func rollupsOutliveRawRows() throws {
        let dir = try Synthetic.temporaryDirectory("flows-old")
        defer { try? FileManager.default.removeItem(at: dir) }
        let base = ((Date().timeIntervalSince1970 - 900) / 60).rounded(.down) * 60
        var retention = Retention()
        retention.rawSeconds = 120
        retention.everySamples = 1
        let nginx = Synthetic.owner(10, "nginx")
        let api = try InProcessAPI.withHistory(in: dir, retention: retention) { recorder in
            // Ten minutes at 5 s: a short connection to :80 in each sample's interval.
            for index in 0..<120 {
                var sockets = [Synthetic.socket(cookie: 1, state: .listen, local: 80, owners: [nginx])]
                if index % 2 == 0 {
                    sockets.append(Synthetic.socket(cookie: 100 + UInt64(index), state: .established, local: 80,
                                                    remote: UInt16(40000 + index), owners: [nginx]))
                }
                try recorder.record(Synthetic.snapshot(at: base + Double(index) * 5, sockets))
            }
        }
        // The first minute's raw rows are pruned (2 minutes kept); its flows are not.
        let samples = api.get("/api/v1/history/samples?from=\(Int(base))&to=\(Int(base) + 60)")
        #expect(samples.items.isEmpty, "raw samples of the first minute were pruned: \(samples.items.count)")
        let answer = api.get("/api/v1/history/flows?from=\(Int(base))&to=\(Int(base) + 59)&group_by=local_port")
        #expect(answer.status == 200, "\(answer.text)")
        #expect(answer.items.first { $0["local_port"] as? String == "80" }?["count"] as? Int == 6, "\(answer.text)")
    }
}
