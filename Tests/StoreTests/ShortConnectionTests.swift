import Foundation
import Sampling
@testable import Store
import TestSupport
import Testing

/// Sockets seen only through their close event, packed one block per sample: the
/// codec, and the Recorder and HistoryReader around it on a real SQLite file.
struct ShortConnectionTests {
    static func info(received: UInt64, rtt: UInt32 = 40) -> TCPInfo {
        TCPInfo(rttUs: rtt, rttVarUs: 10, minRttUs: 20, rtoUs: 200_000, sendCwnd: 10, sendSsthresh: 0, sendMss: 65483,
                recvMss: 65483, unacked: 0, lost: 0, retransCurrent: 0, totalRetrans: 0, bytesAcked: 1,
                bytesReceived: received, bytesSent: 1, bytesRetrans: 0, segsOut: 3, segsIn: 4, lastSendMs: 0,
                lastRecvMs: 0, pacingRate: nil, deliveryRate: nil, notsentBytes: nil)
    }

    static func closeEvent(cookie: UInt64, localPort: UInt16 = 80, remotePort: UInt16, received: UInt64, at: Double) -> CloseEvent {
        var socket = Socket(proto: .tcp, family: .ipv4, state: .close,
                            local: Endpoint(address: IPAddress("127.0.0.1")!, port: localPort),
                            remote: Endpoint(address: IPAddress("127.0.0.1")!, port: remotePort),
                            recvQ: 0, sendQ: 0, uid: 0, inode: 0, cookie: cookie, processes: [])
        socket.tcpInfo = info(received: received)
        return CloseEvent(socket: socket, at: at)
    }

    static func entry(_ index: Int) -> ShortConnection {
        let v6 = index % 5 == 0
        let localAddress = IPAddress(v6 ? "fd00::1" : "10.0.0.1")!
        let remoteAddress = IPAddress(v6 ? "fd00::\(index % 9 + 2)" : "10.0.\(index % 4).\(index % 200)")!
        let remotePort = UInt16(truncatingIfNeeded: 32768 + index * 37)
        // Cookies with deltas of both signs; close times not in order.
        let cookie: UInt64? = index % 11 == 0 ? nil : UInt64(1 << 40) - UInt64(index * 4099)
        let closedAtMs: Int64 = 1_700_000_000_000 + Int64(index * 3) - (index % 4 == 0 ? 5 : 0)
        let totals: ConnectionTotals? = index % 6 == 0 ? nil : ConnectionTotals(info(received: UInt64(index) * 1_000_003, rtt: UInt32(index)))
        var owners: [ShortOwner] = []
        if index % 2 == 1 { owners.append(ShortOwner(process: Int64(index % 3 + 1), fd: Int32(index % 5 + 3))) }
        if index % 9 == 1 { owners.append(ShortOwner(process: 7, fd: 1 << 23)) }
        let netns: UInt64? = index % 4 == 0 ? nil : 4026532000 + UInt64(index % 3)
        return ShortConnection(
            proto: index % 7 == 0 ? .udp : .tcp, family: v6 ? .ipv6 : .ipv4,
            local: Endpoint(address: localAddress, port: UInt16(80 + index % 3)),
            remote: Endpoint(address: remoteAddress, port: remotePort),
            state: index % 3 == 0 ? .timeWait : .close, cookie: cookie, netns: netns, closedAtMs: closedAtMs,
            totals: totals, owners: owners,
            cgroup: index % 8 == 0 ? nil : "/system.slice/unit-\(index % 3).service")
    }

    @Test("a block gives back every field of every entry, in order")
    func blockRoundTrip() throws {
        let entries = (0..<500).map(Self.entry)
        let decoded = try #require(ShortConnectionBlock.decode(ShortConnectionBlock.encode(entries)))
        #expect(decoded == entries)
        #expect(ShortConnectionBlock.decode(ShortConnectionBlock.encode([])) == [])
        // One entry: every palette has one value, so no index is written.
        #expect(ShortConnectionBlock.decode(ShortConnectionBlock.encode([Self.entry(3)])) == [Self.entry(3)])
    }

    @Test("a damaged block decodes to nil, never to a crash or to made-up entries")
    func damagedBlocks() throws {
        let bytes = ShortConnectionBlock.encode((0..<40).map(Self.entry))
        for length in 0..<bytes.count {
            #expect(ShortConnectionBlock.decode(Array(bytes.prefix(length))) == nil, "truncated to \(length) bytes")
        }
        var other = bytes
        other[0] = 99
        #expect(ShortConnectionBlock.decode(other) == nil, "another version")
        var huge = bytes
        huge.replaceSubrange(1..<2, with: [0xff, 0xff, 0xff, 0xff, 0x0f])  // a count beyond the bytes
        #expect(ShortConnectionBlock.decode(huge) == nil)
    }

    /// Sample 1: a listener of pid 10 on port 80. Sample 2 (5 s later): 200 sockets
    /// that lived between the two, one connection to port 9000 not accepted by anyone,
    /// and a sampled connection that stays open.
    func record(_ path: String, base: Double) throws -> Recorder {
        let recorder = try Recorder(path: path, version: "test")
        let listener = Synthetic.socket(cookie: 1, state: .listen, local: 80, owners: [Synthetic.owner(10, "nginx")])
        try recorder.record(Synthetic.snapshot(at: base, [listener]))
        var events: [CloseEvent] = []
        for index in 0..<200 {
            let at: Double = base + 1 + Double(index) / 100
            events.append(Self.closeEvent(cookie: UInt64(1000 + index), remotePort: UInt16(40000 + index), received: UInt64(index * 10), at: at))
        }
        events.append(Self.closeEvent(cookie: 5000, localPort: 50000, remotePort: 9000, received: 7, at: base + 4))
        try recorder.record(Synthetic.snapshot(at: base + 5, [
            listener, Synthetic.socket(cookie: 2, state: .established, local: 80, remote: 30000)]), closeEvents: events)
        return recorder
    }

    @Test("short connections are served like any other: window, owners inferred, totals, feed, and ids never shared")
    func recordedAndRead() throws {
        let dir = try Synthetic.temporaryDirectory("short")
        defer { try? FileManager.default.removeItem(at: dir) }
        let path = dir.appendingPathComponent("h.db").path
        let base = 1_700_000_000.0
        var recorder: Recorder? = try record(path, base: base)
        // After a restart, the next connection's id follows the short ones.
        recorder = nil
        recorder = try Recorder(path: path, version: "test")
        try recorder!.record(Synthetic.snapshot(at: base + 10, [
            Synthetic.socket(cookie: 2, state: .established, local: 80, remote: 30000),
            Synthetic.socket(cookie: 3, state: .established, local: 80, remote: 30001)]))
        let reader = try HistoryReader(path: path)
        let all = try reader.connections(from: base - 1, to: base + 20, after: 0, limit: 1000)
        #expect(Set(all.map(\.id)).count == all.count, "ids are unique")
        #expect(all.count == 1 + 1 + 200 + 1 + 1, "listener, the open connection, 201 short ones, the new one")
        let shorts = all.filter { $0.origin.contains(.closeEvent) }
        #expect(shorts.count == 201)
        let accepted = shorts.filter { $0.local.port == 80 }.sorted { $0.closedAt! < $1.closedAt! }
        #expect(accepted.map { $0.totals?.bytesReceived } == (0..<200).map { UInt64($0 * 10) })
        #expect(accepted.allSatisfy { $0.owners.map(\.name) == ["nginx"] && $0.owners[0].inferred && !$0.firstSeenKnown })
        #expect(accepted.first?.closedAt == base + 1 && accepted.first?.lastSeen == base + 1)
        let outgoing = try #require(shorts.first { $0.local.port == 50000 })
        #expect(outgoing.owners.isEmpty && !outgoing.origin.contains(.ownerInferred), "no listener accepted it: no owner invented")
        let newest = try #require(all.first { $0.cookie == 3 })
        #expect(newest.id > shorts.map(\.id).max()!)

        // A window holding only part of them: cut by close time.
        let firstHalf = try reader.connections(from: base + 0.5, to: base + 1.995, after: 0, limit: 1000).filter { $0.origin.contains(.closeEvent) }
        #expect(firstHalf.count == 100)
        // Keyset pages of 7 give the same connections once each.
        var paged: [Int64] = []
        var after: Int64 = 0
        while true {
            let page = try reader.connections(from: base - 1, to: base + 20, after: after, limit: 7)
            guard let last = page.last else { break }
            paged += page.map(\.id)
            after = last.id
        }
        #expect(paged == all.map(\.id).sorted())
        // Not present in any sample: they lived between two.
        #expect(try reader.connections(inSample: 2).allSatisfy { !$0.origin.contains(.closeEvent) })

        // The feed: each opened and closed once, in order; the backlog count agrees.
        let events = try reader.events(after: EventCursor(sample: 0, connection: 0, kind: 0, openedThrough: 0), limit: 10_000)
        for short in shorts {
            #expect(events.filter { $0.connection.id == short.id }.map(\.kind) == [.opened, .closed])
        }
        #expect(try reader.eventCount(after: EventCursor(sample: 0, connection: 0, kind: 0, openedThrough: 0), limit: 10_000) == events.count)
        let resumed = try reader.allEvents(pageSize: 13)
        #expect(resumed.map { "\($0.connection.id) \($0.kind)" } == events.map { "\($0.connection.id) \($0.kind)" })
        #expect(try reader.figures().connections == Int64(all.count))
    }

    /// A new directory holding `record`'s file (closed): the directory, to remove, and the file's path.
    func recordedStory(_ name: String) throws -> (URL, String) {
        let dir = try Synthetic.temporaryDirectory(name)
        let path = dir.appendingPathComponent("h.db").path
        _ = try record(path, base: 1_700_000_000)
        return (dir, path)
    }

    /// Every event of the feed from its start, read in pages of `pageSize`, as "id kind".
    static func feed(_ reader: HistoryReader, pageSize: Int) throws -> [String] {
        try reader.allEvents(pageSize: pageSize).map { "\($0.connection.id) \($0.kind)" }
    }

    /// The `changes` row of `sample`, decoded.
    static func changes(_ path: String, sample: Int64) throws -> [ChangeLog.FeedEntry] {
        let database = try Database(path: path)
        defer { database.close() }
        let row = try database.prepare("SELECT data FROM changes WHERE sample_id = ?")
        defer { row.reset() }
        try row.bind([.integer(sample)])
        return try row.step() ? ChangeLog.decodeFeed(row.blob(0)) : []
    }

    @Test("a short connection's closing is derived from its block, not logged in changes; the feed still has it once")
    func closingsAreDerived() throws {
        let (dir, path) = try recordedStory("short-closings")
        defer { try? FileManager.default.removeItem(at: dir) }
        let reader = try HistoryReader(path: path)
        let shortIDs = Set(try reader.connections(from: 0, to: 2e9, after: 0, limit: 1000)
            .filter { $0.origin.contains(.closeEvent) }.map(\.id))
        #expect(shortIDs.count == 201)
        #expect(try Self.changes(path, sample: 2).allSatisfy { !shortIDs.contains($0.connection) },
                "nothing is logged for them")
        let events = try Self.feed(reader, pageSize: 10_000)
        for id in shortIDs { #expect(events.filter { $0.hasPrefix("\(id) ") } == ["\(id) opened", "\(id) closed"]) }
        // Pages that end inside the block's closings resume where they ended.
        for size in [1, 7, 200, 201, 202] { #expect(try Self.feed(reader, pageSize: size) == events, "pages of \(size)") }
        for (index, cursor) in try reader.events(after: .start, limit: 10_000).map(\.cursor).enumerated() {
            #expect(try reader.eventCount(after: cursor, limit: 10_000) == events.count - index - 1)
        }
        #expect(try reader.eventCount(after: .start, limit: 300) == nil, "more than the limit")
    }

    @Test("a cursor at the edges of its numbers is answered, never a crash (it is a client's text)")
    func extremeCursors() throws {
        let (dir, path) = try recordedStory("short-extreme")
        defer { try? FileManager.default.removeItem(at: dir) }
        let reader = try HistoryReader(path: path)
        let all = try reader.events(after: .start, limit: 10_000)
        // Sample 2 holds the block (ids 3...203).
        for sample: Int64 in [0, 2, .max] {
            for connection: Int64 in [203, .max - 1, .max] {
                for kind: Int64 in [-1, 2, .max] {
                    for opened: Int64 in [203, .max] {
                        let cursor = EventCursor(sample: sample, connection: connection, kind: kind, openedThrough: opened)
                        // (Openings go by `openedThrough`, the rest by key, as for any cursor.)
                        let page = try reader.events(after: cursor, limit: 10_000)
                        #expect(page.allSatisfy { $0.kind == .opened ? $0.connection.id > opened : cursor < $0.cursor }, "\(cursor.text)")
                        #expect(try reader.eventCount(after: cursor, limit: 10_000) == page.count, "\(cursor.text)")
                    }
                }
            }
        }
        #expect(try reader.events(after: EventCursor(sample: 2, connection: .max, kind: 2, openedThrough: .max), limit: 10).isEmpty)
        #expect(!all.isEmpty)
    }

    @Test("blocks written before closings were derived keep the closings logged for them, served once")
    func loggedClosingsOfOlderBlocks() throws {
        let (dir, path) = try recordedStory("short-closings-old")
        defer { try? FileManager.default.removeItem(at: dir) }
        let derived = try Self.feed(try HistoryReader(path: path), pageSize: 10_000)
        // As the writer before migration 010 left it: the closings in the sample's
        // `changes` row, and the blocks below the first derived id.
        do {
            let database = try Database(path: path)
            let blocks = try database.prepare("SELECT first_id, count FROM short_connections")
            var ids: [Int64] = []
            while try blocks.step() { ids += Array(blocks.int64(0)..<(blocks.int64(0) + blocks.int64(1))) }
            blocks.reset()
            var entries = try Self.changes(path, sample: 2)
            entries += ids.map { ChangeLog.FeedEntry(connection: $0, kind: .closed, value: nil) }
            try database.prepare("INSERT OR REPLACE INTO changes(sample_id, data) VALUES(2, ?)").run([.blob(ChangeLog.encodeFeed(entries))])
            try database.prepare("UPDATE short_closings_derived SET from_id = ?").run([.integer(ids.max()! + 1)])
            database.close()
        }
        let reader = try HistoryReader(path: path)
        #expect(try Self.feed(reader, pageSize: 10_000) == derived)
        #expect(try Self.feed(reader, pageSize: 9) == derived)
        #expect(try reader.eventCount(after: .start, limit: 10_000) == derived.count)
    }

    @Test("short connections go after --flow-retention, their counts stay in the flow rollups")
    func flowRetentionPrunesBlocks() throws {
        let dir = try Synthetic.temporaryDirectory("short-prune")
        defer { try? FileManager.default.removeItem(at: dir) }
        let path = dir.appendingPathComponent("h.db").path
        let base = 1_700_000_000.0
        var retention = Retention()
        retention.flowRawSeconds = 3600
        retention.everySamples = 1
        do {
            let recorder = try record(path, base: base)
            _ = recorder
        }
        var recorder: Recorder? = try Recorder(path: path, version: "test", retention: retention)
        try recorder?.record(Synthetic.snapshot(at: base + 7200, [Synthetic.socket(cookie: 2, state: .established, local: 80, remote: 30000)]))
        let reader = try HistoryReader(path: path)
        let left = try reader.connections(from: base - 1, to: base + 7200, after: 0, limit: 1000)
        #expect(left.filter { $0.origin.contains(.closeEvent) }.count == 0, "within the raw retention, past the flow retention")
        #expect(!left.isEmpty, "sampled connections are kept for the raw retention")
        let flows = try reader.database.scalar("SELECT sum(count) FROM flow_minutes WHERE close_event_only > 0")
        #expect(flows == 201)

        // After a restart, ids go on past the pruned blocks' (a reader whose cursor
        // is past them would skip reused ones), and the new block's events are served
        // to a reader that had read everything before it.
        let readUpTo = try #require(try reader.events(after: .start, limit: 10_000).last?.cursor)
        recorder = nil
        let restarted = try Recorder(path: path, version: "test", retention: retention)
        try restarted.record(Synthetic.snapshot(at: base + 7205, [Synthetic.socket(cookie: 2, state: .established, local: 80, remote: 30000)]),
                             closeEvents: [Self.closeEvent(cookie: 7000, remotePort: 41000, received: 1, at: base + 7203)])
        let short = try #require(try reader.connections(from: base + 7200, to: base + 7206, after: 0, limit: 10)
            .first { $0.origin.contains(.closeEvent) })
        #expect(short.id > 203, "ids 3...203 were given to the pruned block")
        let after = try reader.events(after: readUpTo, limit: 100)
        #expect(after.map { "\($0.connection.id) \($0.kind)" } == ["\(short.id) opened", "\(short.id) closed"])
        #expect(try reader.eventCount(after: readUpTo, limit: 100) == 2)
    }

    @Test("rows a file recorded before the packed blocks are still served, and go after --flow-retention")
    func legacyRowsStillServed() throws {
        let dir = try Synthetic.temporaryDirectory("short-legacy")
        defer { try? FileManager.default.removeItem(at: dir) }
        let path = dir.appendingPathComponent("h.db").path
        let base = 1_700_000_000.0
        do {
            let recorder = try Recorder(path: path, version: "test")
            try recorder.record(Synthetic.snapshot(at: base, [Synthetic.socket(cookie: 1, state: .listen, local: 80)]))
        }
        // As the writer before migration 009 wrote one: a `connections` row of its own.
        do {
            let database = try Database(path: path)
            try database.prepare("""
                INSERT INTO connections(id, kind, local_addr, local_port, remote_addr, remote_port, uid, inode, cookie, first_sample,
                                        last_sample, state, origin, closed_at_ms, totals, netns)
                VALUES(2, 0, x'7f000001', 80, x'7f000001', 40000, 0, 0, 900, 1, 1, 7, 1, ?, NULL, NULL)
                """).run([.integer(Int64(base * 1000) + 500)])
            try database.prepare("UPDATE samples SET connections_through = 2 WHERE id = 1").run([])
            try database.prepare("UPDATE legacy_short_through SET through = 2").run([])
            database.close()
        }
        var retention = Retention()
        retention.flowRawSeconds = 3600
        retention.everySamples = 1
        let recorder = try Recorder(path: path, version: "test", retention: retention)
        try recorder.record(Synthetic.snapshot(at: base + 5, [Synthetic.socket(cookie: 1, state: .listen, local: 80)]),
                            closeEvents: [Self.closeEvent(cookie: 901, remotePort: 40001, received: 3, at: base + 4)])
        let reader = try HistoryReader(path: path)
        let both = try reader.connections(from: base, to: base + 6, after: 0, limit: 100).filter { $0.origin.contains(.closeEvent) }
        #expect(both.map(\.cookie) == [900, 901], "the old row and the new block's entry, in id order")
        #expect(both.map(\.id) == [2, 3])
        try recorder.record(Synthetic.snapshot(at: base + 7200, [Synthetic.socket(cookie: 1, state: .listen, local: 80)]))
        #expect(try reader.connections(from: base, to: base + 7200, after: 0, limit: 100).filter { $0.origin.contains(.closeEvent) }.count == 0)
    }
}

extension HistoryReader {
    /// Every event of the feed from its start, read in pages of `pageSize`, each page
    /// resumed from the text of the last cursor (as a client would); at most 10,000 pages.
    func allEvents(pageSize: Int) throws -> [HistoryEvent] {
        var events: [HistoryEvent] = []
        var cursor = EventCursor.start
        for _ in 0..<10_000 {
            let page = try self.events(after: cursor, limit: pageSize)
            guard let last = page.last else { break }
            events += page
            cursor = try #require(EventCursor(text: last.cursor.text))
        }
        return events
    }
}
