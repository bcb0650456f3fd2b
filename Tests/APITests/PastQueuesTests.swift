import Foundation
import Sampling
@testable import Store
import TestSupport
import Testing

/// `connections?at=` shows each socket's Recv-Q and Send-Q as they were: recorded
/// sparsely (when they change), served exactly, and null where a row was written
/// before queues were kept, never a made-up 0.
struct PastQueuesTests {
    @Test("at= serves the queues each sample had; unknown queues are null")
    func queuesAtEachSample() throws {
        let dir = try Synthetic.temporaryDirectory("past-queues")
        defer { try? FileManager.default.removeItem(at: dir) }
        let base = (Date().timeIntervalSince1970 - 60).rounded(.down)
        let nginx = Synthetic.owner(10, "nginx")
        // recvQ/sendQ of one connection at samples 0...4, and a listener's accept queue.
        let queues: [(UInt32, UInt32)] = [(0, 0), (500, 0), (900, 1448), (900, 1448), (0, 0)]
        let api = try InProcessAPI.withHistory(in: dir) { recorder in
            for (index, queue) in queues.enumerated() {
                try recorder.record(Synthetic.snapshot(at: base + Double(index), [
                    Synthetic.socket(cookie: 1, state: .listen, local: 80, recvQ: UInt32(index), sendQ: 511, owners: [nginx]),
                    Synthetic.socket(cookie: 2, state: .established, local: 80, remote: 5000, recvQ: queue.0, sendQ: queue.1, owners: [nginx]),
                ]))
            }
        }
        for (index, queue) in queues.enumerated() {
            let answer = api.get("/api/v1/connections?at=\(Int(base) + index)&format=json")
            #expect(answer.status == 200)
            let connection = try #require(answer.items.first { ($0["remote"] as? [String: Any])?["port"] as? Int == 5000 })
            #expect(connection["recv_q"] as? Int == Int(queue.0) && connection["send_q"] as? Int == Int(queue.1), "sample \(index): \(connection)")
            let listener = try #require(answer.items.first { $0["state"] as? String == "LISTEN" })
            let accept = listener["accept_queue"] as? [String: Any]
            #expect(accept?["depth"] as? Int == index && accept?["backlog"] as? Int == 511, "sample \(index): \(listener)")
        }
        // A row from before queues were recorded: unknown, so null (and `-` in the table).
        let database = try Database(path: dir.appendingPathComponent("h.db").path)
        try database.prepare("UPDATE connections SET origin = origin & ~4").run([])
        let old = api.get("/api/v1/connections?at=\(Int(base) + 2)")
        let connection = try #require(old.items.first { ($0["remote"] as? [String: Any])?["port"] as? Int == 5000 })
        #expect(connection["recv_q"] is NSNull && connection["send_q"] is NSNull, "\(connection)")
        let table = api.get("/api/v1/connections?at=\(Int(base) + 2)&format=table").text
        #expect(table.contains("tcp") && !table.contains("4294967295"), "\(table)")
        // The feed stays what shippers know: no queue events in it.
        let feed = api.get("/api/v1/events").text
        #expect(!feed.contains("queues_changed"))
    }
}
