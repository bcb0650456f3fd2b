import Foundation
import Glibc
import HTTP
import Sampling
import Service
import Store
import TestSupport
import Testing

/// The exporter on the real path: history recorded by the real Recorder into a real
/// SQLite file, sent by the real client over loopback TCP to a receiver written here
/// that fails, stalls, drops connections and recovers.
@Suite(.enabled(if: TestEnvironment.hasTool("gzip"), "needs gzip to unpack what the receiver got"))
struct EventExporterTests {
    /// `count` samples one second apart from `base`, with churn: connection k opens
    /// in sample k held by pid 10, gains a second owner and a queue in k+1, moves to
    /// CLOSE_WAIT with the queue drained in k+2, and is gone in k+3 (the listener on
    /// 5432 stays throughout). About six events per connection.
    static func recordChurn(_ path: String, from first: Int, count: Int, base: Double = 1_700_000_000) throws {
        let recorder = try Recorder(path: path, version: "test")
        let server = Synthetic.owner(10, "postgres")
        let worker = Synthetic.owner(11, "postgres", fd: 7)
        for sample in first..<(first + count) {
            var sockets = [Synthetic.socket(cookie: 1, state: .listen, local: 5432, owners: [server])]
            for k in max(0, sample - 2)...sample {
                let age = sample - k
                let cookie = UInt64(100 + k)
                let remote = UInt16(40000 + k % 20000)
                switch age {
                case 0: sockets.append(Synthetic.socket(cookie: cookie, state: .established, local: 5432, remote: remote, owners: [server]))
                case 1: sockets.append(Synthetic.socket(cookie: cookie, state: .established, local: 5432, remote: remote, recvQ: 300, owners: [server, worker]))
                default: sockets.append(Synthetic.socket(cookie: cookie, state: .closeWait, local: 5432, remote: remote, owners: [worker]))
                }
            }
            try recorder.record(Synthetic.snapshot(at: base + Double(sample), sockets))
        }
    }

    /// Every event of the feed, oldest first.
    static func feed(_ path: String) throws -> [HistoryEvent] {
        let reader = try HistoryReader(path: path)
        var all: [HistoryEvent] = []
        var cursor = EventCursor.start
        while true {
            let page = try reader.events(after: cursor, limit: 1000)
            guard let last = page.last else { return all }
            all += page
            cursor = last.cursor
        }
    }

    /// Quick retries and short timeouts, so a failure costs the test milliseconds.
    static func settings(_ url: String, instance: String, batch: Int, host: String = "db-1") throws -> EventExporter.Settings {
        var settings = EventExporter.Settings(url: try HTTPClientURL(url), host: host, instance: instance)
        settings.batchSize = batch
        settings.interval = 0.05
        settings.backoff = 0.02
        settings.backoffMax = 0.2
        settings.client.connectTimeout = 1
        settings.client.responseTimeout = 1.0
        return settings
    }


    @Test("every event arrives exactly once, in order, through failures, an outage and a restart of the exporter")
    func exactlyOnceAcrossFailuresAndRestart() throws {
        let dir = try Synthetic.temporaryDirectory("export")
        defer { try? FileManager.default.removeItem(at: dir) }
        let path = dir.appendingPathComponent("h.db").path
        try Self.recordChurn(path, from: 0, count: 30)
        let instance = try ExportCursors(path: path).instanceID()
        #expect(instance.count == 36 && instance.split(separator: "-").map(\.count) == [8, 4, 4, 4, 12], "a UUID: \(instance)")
        let firstFeed = try Self.feed(path)
        #expect(firstFeed.count > 150, "\(firstFeed.count) events")

        // The receiver fails in every way it can, then (past its script) refuses everything.
        let receiver = try TestReceiver(script: [.fail(500), .accept, .delay(0.3), .drop, .accept, .stall(1.2), .accept, .fail(502), .accept],
                                        otherwise: .fail(503))
        let url = "http://ingest:s3cret@127.0.0.1:\(receiver.port)/?query=INSERT%20INTO%20netstatd.events%20FORMAT%20JSONEachRow"
        let first = try EventExporter(settings: Self.settings(url, instance: instance, batch: 10), databasePath: path,
                                      userNames: { [0: "root"] })
        #expect(first.key == "http://ingest:***@127.0.0.1:\(receiver.port)/?query=INSERT%20INTO%20netstatd.events%20FORMAT%20JSONEachRow")
        try first.start()
        // Five batches acknowledged, then the receiver keeps failing: stopped mid-feed.
        #expect(wait(20) { receiver.log.count >= 12 }, "\(receiver.log)")
        first.stop()
        receiver.stop()
        let stopped = first.status
        #expect(receiver.received.count == 5)
        #expect(stopped.eventsSent == 50 && stopped.batchesSent == 5)
        // The request in flight when it stopped may have reached the receiver: not a failure.
        #expect((receiver.log.count - 6...receiver.log.count - 5).contains(stopped.failures), "each failure counted once: \(receiver.log)")
        #expect(stopped.consecutiveFailures >= 3)
        #expect(stopped.lastError?.contains("503") == true, "\(stopped.lastError ?? "nil")")
        #expect(stopped.backlog == firstFeed.count - 50, "the backlog is the count of events not acknowledged")
        #expect(stopped.url.contains("ingest:***@") && !stopped.url.contains("s3cret"))
        let saved = try #require(try ExportCursors(path: path).position(of: first.key))
        #expect(saved.cursor == firstFeed[49].cursor, "the cursor saved is the last acknowledged event's")

        // netstatd goes on recording (a new run) while nothing listens on the port.
        try Self.recordChurn(path, from: 30, count: 20)
        let feed = try Self.feed(path)
        #expect(feed.count > firstFeed.count + 100)
        let second = try EventExporter(settings: Self.settings(url, instance: instance, batch: 25), databasePath: path,
                                       userNames: { [0: "root"] })
        try second.start()
        #expect(wait(10) { second.status.failures >= 3 }, "connection refused while the receiver is down")
        #expect(second.status.lastError?.contains("Connection refused") == true, "\(second.status.lastError ?? "nil")")
        #expect(second.status.backlog == feed.count - 50, "counted from the saved cursor")
        #expect(second.status.lastSuccess == saved.acknowledgedAt, "the last success survives the restart")

        // The receiver comes back on the same port.
        let back = try TestReceiver(port: receiver.port, script: [.fail(500), .drop])
        defer { back.stop() }
        #expect(wait(30) { second.status.backlog == 0 && back.received.count * 25 >= feed.count - 50 }, "\(second.status)")
        second.stop()

        let lines = try (receiver.received + back.received).flatMap { try $0.lines() }
        let objects = try lines.map { try #require(try JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any]) }
        let cursors = objects.compactMap { $0["cursor"] as? String }
        #expect(cursors.count == feed.count, "received \(cursors.count) of \(feed.count)")
        #expect(cursors == feed.map(\.cursor.text), "every event once, in the feed's order")
        #expect(Set(cursors).count == cursors.count, "no event twice")
        #expect(objects.allSatisfy { $0["host"] as? String == "db-1" && $0["instance"] as? String == instance })
        #expect(lines.allSatisfy { $0.hasPrefix("{\"host\":\"db-1\",\"instance\":\"\(instance)\",\"cursor\":") }, "host and instance lead each line")
        let kinds = Set(objects.compactMap { $0["kind"] as? String })
        #expect(kinds == ["opened", "owner_added", "owner_removed", "backlog_began", "backlog_ended", "state_changed", "closed"], "\(kinds)")
        let final = second.status
        #expect(final.eventsSent == feed.count - 50 && final.consecutiveFailures == 0 && final.lastError == nil)
        #expect(final.failures >= 5, "refused while down, then 500 and a dropped connection")

        // What went over the wire: POST to the URL's target, credentials from its userinfo,
        // NDJSON gzipped, and a key that names the batch.
        for request in receiver.received + back.received {
            #expect(request.target == "/?query=INSERT%20INTO%20netstatd.events%20FORMAT%20JSONEachRow")
            #expect(request.headers["authorization"] == "Basic " + Data("ingest:s3cret".utf8).base64EncodedString())
            #expect(request.headers["content-type"] == "application/x-ndjson" && request.headers["content-encoding"] == "gzip")
            #expect(request.headers["idempotency-key"]?.hasPrefix(instance + "/") == true)
        }
        let keys = (receiver.received + back.received).compactMap { $0.headers["idempotency-key"] }
        #expect(Set(keys).count == keys.count)
        print("exporter: \(feed.count) events in \(receiver.received.count + back.received.count) batches, exactly once; first run survived \(stopped.failures) failures (\(receiver.log.joined(separator: ", "))), second run \(final.failures) (\(back.log.prefix(4).joined(separator: ", ")), and connection refused while down)")
    }

    @Test("a retried batch goes again byte for byte, with the same idempotency key")
    func retriesResendTheSameBytes() throws {
        let dir = try Synthetic.temporaryDirectory("export-retry")
        defer { try? FileManager.default.removeItem(at: dir) }
        let path = dir.appendingPathComponent("h.db").path
        try Self.recordChurn(path, from: 0, count: 5)
        // A stall past the client's timeout and a drop after reading: the receiver saw the
        // body twice; the third time it keeps it.
        let receiver = try TestReceiver(script: [.stall(1.2), .drop])
        defer { receiver.stop() }
        var settings = try Self.settings(receiver.base + "/ingest", instance: "i-1", batch: 1000)
        settings.gzip = false
        let exporter = try EventExporter(settings: settings, databasePath: path)
        try exporter.start()
        defer { exporter.stop() }
        #expect(wait(10) { receiver.received.count == 1 })
        #expect(receiver.log.prefix(3) == ["stall", "drop", "accept"])
        #expect(exporter.status.failures == 2)
        let body = try #require(receiver.received.first).body
        #expect(body == EventLine.ndjson(try Self.feed(path), userNames: [:], leading: [("host", "db-1"), ("instance", "i-1")]))
    }

    @Test("a batch too large for the receiver (413) goes again in halves")
    func tooLargeHalves() throws {
        let dir = try Synthetic.temporaryDirectory("export-413")
        defer { try? FileManager.default.removeItem(at: dir) }
        let path = dir.appendingPathComponent("h.db").path
        try Self.recordChurn(path, from: 0, count: 8)
        let feed = try Self.feed(path)
        let receiver = try TestReceiver(script: [.fail(413), .fail(413)])
        defer { receiver.stop() }
        let exporter = try EventExporter(settings: Self.settings(receiver.base, instance: "i", batch: 1000), databasePath: path)
        try exporter.start()
        defer { exporter.stop() }
        #expect(wait(10) { exporter.status.eventsSent == feed.count })
        let batches = try receiver.received.map { try $0.lines().count }
        #expect(batches.first == feed.count / 4, "halved twice: \(batches)")
        #expect(batches.allSatisfy { $0 <= feed.count / 4 } && batches.reduce(0, +) == feed.count)
        let cursors = try receiver.received.flatMap { try $0.lines() }.map { try #require(try JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any])["cursor"] as? String }
        #expect(cursors == feed.map(\.cursor.text))
    }

    @Test("an empty feed sends nothing and has no backlog")
    func emptyFeed() throws {
        let dir = try Synthetic.temporaryDirectory("export-empty")
        defer { try? FileManager.default.removeItem(at: dir) }
        let path = dir.appendingPathComponent("h.db").path
        _ = try Recorder(path: path, version: "test")
        let receiver = try TestReceiver(script: [])
        defer { receiver.stop() }
        let exporter = try EventExporter(settings: Self.settings(receiver.base, instance: "i", batch: 10), databasePath: path)
        try exporter.start()
        #expect(wait(5) { exporter.status.backlog == 0 })
        exporter.stop()
        #expect(receiver.log.isEmpty && exporter.status.failures == 0 && exporter.status.lastSuccess == nil)
    }

    @Test("stop ends a request in flight at once")
    func stopIsPrompt() throws {
        let dir = try Synthetic.temporaryDirectory("export-stop")
        defer { try? FileManager.default.removeItem(at: dir) }
        let path = dir.appendingPathComponent("h.db").path
        try Self.recordChurn(path, from: 0, count: 3)
        let receiver = try TestReceiver(script: [.stall(3)])
        defer { receiver.stop() }
        var settings = try Self.settings(receiver.base, instance: "i", batch: 10)
        settings.client.responseTimeout = 30
        let exporter = try EventExporter(settings: settings, databasePath: path)
        try exporter.start()
        #expect(wait(5) { receiver.log == ["stall"] })
        let started = Date()
        exporter.stop()
        #expect(Date().timeIntervalSince(started) < 0.5, "stopped in \(Date().timeIntervalSince(started)) s")
        #expect(exporter.status.eventsSent == 0 && exporter.status.failures == 0, "a cancelled request is not a failure")
    }
}

/// The URL an exporter is given: http:// only, its password never shown.
struct HTTPClientURLTests {
    @Test(arguments: [
        ("http://ch:8123/?query=INSERT%20INTO%20t%20FORMAT%20JSONEachRow", "ch", 8123, "/?query=INSERT%20INTO%20t%20FORMAT%20JSONEachRow", nil, nil),
        ("http://u:p%40ss@10.0.0.9/ingest", "10.0.0.9", 80, "/ingest", "u", "p@ss"),
        ("HTTP://[::1]:9000", "::1", 9000, "/", nil, nil),
        ("http://sink?x=1#frag", "sink", 80, "/?x=1", nil, nil),
    ] as [(String, String, Int, String, String?, String?)])
    func parses(text: String, host: String, port: Int, target: String, user: String?, password: String?) throws {
        let url = try HTTPClientURL(text)
        #expect(url.host == host && Int(url.port) == port && url.target == target && url.user == user && url.password == password)
    }

    @Test(arguments: [
        ("http://default:secret@ch:8123/?query=X", "http://default:***@ch:8123/?query=X"),
        ("http://ch:8123/?user=default&password=secret&query=X", "http://ch:8123/?user=default&password=***&query=X"),
        ("http://ch/", "http://ch/"),
    ])
    func redacts(text: String, redacted: String) throws {
        #expect(try HTTPClientURL(text).redacted == redacted)
    }

    @Test(arguments: [
        ("https://u:secret@ch:8443/", "TLS proxy"),
        ("ftp://ch/", "expected an http:// URL"),
        ("http://:8123/", "names no host"),
        ("http://ch:99999/", "port must be a number"),
        ("http://::1:80/", "IPv6 host in brackets"),
        ("http://ch/a b", "percent-encoded"),
    ])
    func refuses(text: String, problem: String) {
        do {
            _ = try HTTPClientURL(text)
            Issue.record("accepted \(text)")
        } catch {
            #expect(error.problem.contains(problem), "\(error)")
            #expect(!error.description.contains("secret"), "the password is never shown: \(error)")
        }
    }
}
