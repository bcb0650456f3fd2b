import Foundation
import Glibc
import TestSupport
import Testing

/// `netstatd serve --export-url` as a process: it sends what it records, says so in
/// /api/v1/status, and SIGTERM stops it at once even with a request in flight.
@Suite(
    .enabled(if: TestEnvironment.netstatdBinary != nil, "needs the built netstatd binary"),
    .enabled(if: TestEnvironment.hasTool("curl") && TestEnvironment.hasTool("gzip"), "needs curl and gzip"))
struct ExportServeTests {
    @Test("serve exports its history; SIGTERM ends it within a second, a request in flight or not")
    func exportsAndStops() throws {
        let binary = try #require(TestEnvironment.netstatdBinary)
        let directory = try Synthetic.temporaryDirectory("export-serve")
        defer { try? FileManager.default.removeItem(at: directory) }
        let database = directory.appendingPathComponent("history.db").path

        // A receiver that takes the request and never answers in time.
        let stalled = try TestReceiver(script: [.stall(3)])
        let url = "http://netstatd:hunter2@127.0.0.1:\(stalled.port)/?query=INSERT%20INTO%20netstatd.events%20FORMAT%20JSONEachRow"
        let arguments = ["--listen", "127.0.0.1:0", "--db", database, "--interval", "0.5", "--namespaces", "host", "--export-url", url]
        let first = try ServeProcess(arguments, binary: binary, directory: directory)
        _ = try first.port()
        #expect(first.waitForLog("exporting the event feed to http://netstatd:***@127.0.0.1:\(stalled.port)/"), "\(first.log)")
        #expect(!first.log.contains("hunter2"))
        let inFlight = Date().addingTimeInterval(10)
        while stalled.log.isEmpty && Date() < inFlight { usleep(20_000) }
        #expect(stalled.log == ["stall"], "a request is in flight")
        let stopping = Date()
        #expect(first.stop() == 0)
        let seconds = Date().timeIntervalSince(stopping)
        #expect(seconds < 1.5, "stopped in \(seconds) s")
        stalled.stop()

        // The receiver is back on the same port: everything recorded so far arrives.
        let receiver = try TestReceiver(port: stalled.port, script: [])
        defer { receiver.stop() }
        let second = try ServeProcess(arguments, binary: binary, directory: directory)
        let port = try second.port()
        let deadline = Date().addingTimeInterval(20)
        var exports: [[String: Any]] = []
        while Date() < deadline {
            exports = try CurlReply.get("http://127.0.0.1:\(port)/api/v1/status").json["exports"] as? [[String: Any]] ?? []
            if (exports.first?["events_sent"] as? Int ?? 0) > 0 { break }
            usleep(100_000)
        }
        #expect(exports.count == 1)
        #expect(exports.first?["url"] as? String == "http://netstatd:***@127.0.0.1:\(stalled.port)/?query=INSERT%20INTO%20netstatd.events%20FORMAT%20JSONEachRow")
        #expect((exports.first?["events_sent"] as? Int ?? 0) > 0, "\(exports)")
        let metrics = try CurlReply.get("http://127.0.0.1:\(port)/metrics").body
        #expect(metrics.contains("netstatd_export_events_sent_total{url=\"http://netstatd:***@127.0.0.1:\(stalled.port)/"))
        let stopping2 = Date()
        #expect(second.stop() == 0)
        #expect(Date().timeIntervalSince(stopping2) < 1.5)

        let lines = try receiver.received.flatMap { try $0.lines() }
        let objects = lines.compactMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }
        #expect(objects.count == lines.count && !lines.isEmpty)
        let cursors = objects.compactMap { $0["cursor"] as? String }
        #expect(Set(cursors).count == cursors.count, "no event twice")
        #expect(cursors.first == "1.1.0.1", "the stalled batch was never acknowledged: the feed starts again at its first event")
        #expect(Set(objects.compactMap { $0["instance"] as? String }).count == 1, "one history file, one instance")
        var name = [CChar](repeating: 0, count: 256)
        gethostname(&name, 255)
        let host = String(decoding: name.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        #expect(objects.allSatisfy { $0["host"] as? String == host })
        #expect(receiver.received.allSatisfy { $0.headers["authorization"] == "Basic " + Data("netstatd:hunter2".utf8).base64EncodedString() })
    }
}
