import Foundation
import Glibc
import Sampling
import Store
import TestSupport
import Testing

/// The Recorder and HistoryReader on a real SQLite file in a temp folder.
struct RecorderTests {
    /// Four samples one second apart:
    /// 1: A (cookie 1) ESTABLISHED held by pid 10; L (cookie 2) LISTEN
    /// 2: A TIME_WAIT, no owner; C (cookie 3) ESTABLISHED with 500 unread bytes, held by 10 and 11
    /// 3: A gone; C 900 unread
    /// 4: C drained
    func recordStory(_ path: String, base: Double = 1_700_000_000) throws {
        let recorder = try Recorder(path: path, version: "test")
        let nginx = Synthetic.owner(10, "nginx")
        let worker = Synthetic.owner(11, "nginx", fd: 4)
        let listener = Synthetic.socket(cookie: 2, state: .listen, local: 80, owners: [nginx])
        try recorder.record(Synthetic.snapshot(at: base + 1, [
            Synthetic.socket(cookie: 1, state: .established, local: 80, remote: 5000, owners: [nginx]), listener]))
        try recorder.record(Synthetic.snapshot(at: base + 2, [
            Synthetic.socket(cookie: 1, state: .timeWait, local: 80, remote: 5000), listener,
            Synthetic.socket(cookie: 3, state: .established, local: 80, remote: 5001, recvQ: 500, owners: [nginx, worker])]))
        try recorder.record(Synthetic.snapshot(at: base + 3, [
            listener, Synthetic.socket(cookie: 3, state: .established, local: 80, remote: 5001, recvQ: 900, owners: [nginx, worker])]))
        try recorder.record(Synthetic.snapshot(at: base + 4, [
            listener, Synthetic.socket(cookie: 3, state: .established, local: 80, remote: 5001, owners: [worker])]))
    }

    @Test func connectionsAreIntervalsWithStatesOwnersAndBacklog() throws {
        let dir = try Synthetic.temporaryDirectory("recorder")
        defer { try? FileManager.default.removeItem(at: dir) }
        let path = dir.appendingPathComponent("h.db").path
        let base = 1_700_000_000.0
        try recordStory(path, base: base)
        let reader = try HistoryReader(path: path)

        let window = try reader.connections(from: base, to: base + 10, after: 0, limit: 100)
        #expect(window.count == 3)
        let a = try #require(window.first { $0.cookie == 1 })
        #expect(a.states.map(\.state) == [.established, .timeWait])
        #expect(a.states.map(\.at) == [base + 1, base + 2])
        #expect(a.firstSeen == base + 1 && a.lastSeen == base + 2)
        #expect(a.owners.count == 1 && a.owners[0].pid == 10 && a.owners[0].from == base + 1 && a.owners[0].to == base + 2)
        let c = try #require(window.first { $0.cookie == 3 })
        #expect(c.lastSeen == nil, "still open")
        #expect(Set(c.owners.map(\.pid)) == [10, 11])
        #expect(c.owners.first { $0.pid == 10 }?.to == base + 4)
        #expect(c.backlog.count == 1)
        #expect(c.backlog[0].start == base + 2 && c.backlog[0].end == base + 4 && c.backlog[0].peakRecvQ == 900)

        let second = try #require(try reader.sample(atOrBefore: base + 2.5))
        let present = try reader.connections(inSample: second.id)
        #expect(Set(present.compactMap(\.cookie)) == [1, 2, 3])
        #expect(present.first { $0.cookie == 1 }?.state(at: second.takenAt) == .timeWait)
        let fourth = try #require(try reader.sample(atOrBefore: base + 100))
        #expect(Set(try reader.connections(inSample: fourth.id).compactMap(\.cookie)) == [2, 3])
        #expect(fourth.counts.values.reduce(0, +) == 2)
    }

    @Test("the event feed resumes from any cursor without loss or duplicates")
    func eventFeedIsResumable() throws {
        let dir = try Synthetic.temporaryDirectory("feed")
        defer { try? FileManager.default.removeItem(at: dir) }
        let path = dir.appendingPathComponent("h.db").path
        try recordStory(path)
        let reader = try HistoryReader(path: path)
        let all = try reader.events(after: .start, limit: 1000)
        let kinds = all.map(\.kind.name)
        #expect(kinds.filter { $0 == "opened" }.count == 3)
        #expect(kinds.contains("state_changed") && kinds.contains("closed"))
        #expect(kinds.contains("backlog_began") && kinds.contains("backlog_ended") && kinds.contains("owner_removed"))
        // The owners a connection opened with travel in `opened`, not as additions.
        #expect(!kinds.contains("owner_added"))
        let openedC = try #require(all.first { $0.kind == .opened && $0.connection.cookie == 3 })
        #expect(Set(openedC.owners.map(\.pid)) == [10, 11])
        let openedL = try #require(all.first { $0.kind == .opened && $0.connection.cookie == 2 })
        #expect(openedL.owners.map(\.pid) == [10], "a listener's first owner is named")
        #expect(zip(all, all.dropFirst()).allSatisfy { $0.at <= $1.at })
        for size in [1, 2, 3] {
            #expect(try reader.allEvents(pageSize: size).map { "\($0.cursor.sample).\($0.cursor.connection).\($0.kind.rawValue)" }
                    == all.map { "\($0.cursor.sample).\($0.cursor.connection).\($0.kind.rawValue)" }, "page size \(size)")
        }
    }

    @Test("several owners added to one connection in one sample are each an event with a cursor of its own")
    func ownersAddedTogetherEachHaveACursor() throws {
        let dir = try Synthetic.temporaryDirectory("feed-owners")
        defer { try? FileManager.default.removeItem(at: dir) }
        let path = dir.appendingPathComponent("h.db").path
        let base = 1_700_000_000.0
        let master = Synthetic.owner(10, "nginx")
        let workers = (11...14).map { Synthetic.owner($0, "nginx", fd: 6) }
        let recorder = try Recorder(path: path, version: "test")
        // A reload: four workers take the listener in one sample, then two leave.
        try recorder.record(Synthetic.snapshot(at: base, [Synthetic.socket(cookie: 2, state: .listen, local: 80, owners: [master])]))
        try recorder.record(Synthetic.snapshot(at: base + 1, [
            Synthetic.socket(cookie: 2, state: .listen, local: 80, owners: [master] + workers)]))
        try recorder.record(Synthetic.snapshot(at: base + 2, [
            Synthetic.socket(cookie: 2, state: .listen, local: 80, owners: [master] + workers.prefix(2))]))
        let reader = try HistoryReader(path: path)
        let all = try reader.events(after: .start, limit: 1000)
        #expect(all.map(\.kind.name) == ["opened"] + Array(repeating: "owner_added", count: 4) + Array(repeating: "owner_removed", count: 2))
        #expect(Set(all.filter { $0.kind == .ownerAdded }.compactMap { $0.owner?.pid }) == [11, 12, 13, 14])
        #expect(Set(all.map(\.cursor.text)).count == all.count, "no two events share a cursor")
        for size in [1, 2, 3] {
            #expect(try reader.allEvents(pageSize: size).map(\.cursor.text) == all.map(\.cursor.text), "page size \(size)")
        }
        for (index, event) in all.enumerated() {
            #expect(try reader.eventCount(after: event.cursor, limit: 1000) == all.count - index - 1)
        }
    }

    @Test("after a restart in the same boot, sockets still open keep their rows; what closed meanwhile closes at the gap's start")
    func restartContinuesOpenIntervals() throws {
        let dir = try Synthetic.temporaryDirectory("restart")
        defer { try? FileManager.default.removeItem(at: dir) }
        let path = dir.appendingPathComponent("h.db").path
        let base = 1_700_000_000.0
        try recordStory(path, base: base)
        let recorder = try Recorder(path: path, version: "test")
        let nginx = Synthetic.owner(10, "nginx")
        try recorder.record(Synthetic.snapshot(at: base + 60, [Synthetic.socket(cookie: 2, state: .listen, local: 80, owners: [nginx])]))
        let reader = try HistoryReader(path: path)
        let window = try reader.connections(from: base, to: base + 100, after: 0, limit: 100)
        let c = try #require(window.first { $0.cookie == 3 })
        #expect(c.lastSeen == base + 4, "closed at the previous run's last sample")
        #expect(c.closedDuringGap)
        let listeners = window.filter { $0.cookie == 2 }
        #expect(listeners.count == 1, "the listener lived through the restart: one row")
        #expect(listeners.first?.firstSeen == base + 1 && listeners.first?.lastSeen == nil)
        #expect(listeners.first?.owners.count == 1, "its owner did not change")
        let samples = try reader.samples(from: base, to: base + 100, limit: 100)
        #expect(Set(samples.map(\.runID)).count == 2)
        let feed = try reader.events(after: .start, limit: 1000)
        #expect(feed.filter { $0.kind == .closed && $0.connection.cookie == 3 }.map(\.closedDuringGap) == [true])
        #expect(feed.filter { $0.connection.cookie == 2 }.map(\.kind) == [.opened], "no close and reopen of the listener")
    }

    @Test("after a reboot, everything open is closed at the last sample before it")
    func rebootClosesOpenIntervals() throws {
        let dir = try Synthetic.temporaryDirectory("reboot")
        defer { try? FileManager.default.removeItem(at: dir) }
        let path = dir.appendingPathComponent("h.db").path
        let base = 1_700_000_000.0
        do {
            let recorder = try Recorder(path: path, version: "test", bootID: "boot-1")
            try recorder.record(Synthetic.snapshot(at: base, [Synthetic.socket(cookie: 2, state: .listen, local: 80)]))
        }
        let recorder = try Recorder(path: path, version: "test", bootID: "boot-2")
        // Cookies restart after a reboot: the same cookie is another socket.
        try recorder.record(Synthetic.snapshot(at: base + 60, [Synthetic.socket(cookie: 2, state: .listen, local: 80)]))
        let reader = try HistoryReader(path: path)
        let rows = try reader.connections(from: base, to: base + 100, after: 0, limit: 100)
        #expect(rows.count == 2)
        #expect(rows[0].lastSeen == base && rows[0].closedDuringGap)
        #expect(rows[1].firstSeen == base + 60 && rows[1].lastSeen == nil)
    }

    @Test func retentionPrunesOldRowsAndKeepsTheSeries() throws {
        let dir = try Synthetic.temporaryDirectory("retention")
        defer { try? FileManager.default.removeItem(at: dir) }
        let path = dir.appendingPathComponent("h.db").path
        var retention = Retention()
        retention.rawSeconds = 3600
        retention.everySamples = 1
        let recorder = try Recorder(path: path, version: "test", retention: retention)
        let old = 1_700_000_000.0
        for i in 0..<5 {
            try recorder.record(Synthetic.snapshot(at: old + Double(i) * 60, [
                Synthetic.socket(cookie: UInt64(100 + i), state: .established, local: 80, remote: UInt16(6000 + i))]))
        }
        try recorder.record(Synthetic.snapshot(at: old + 86400, [Synthetic.socket(cookie: 1, state: .listen, local: 22)]))
        let reader = try HistoryReader(path: path)
        #expect(try reader.samples(from: 0, to: .infinity, limit: 100).count == 1)
        #expect(try reader.connections(from: 0, to: old + 90000, after: 0, limit: 100).map(\.cookie) == [1])
        let series = try reader.stateSeries(from: old - 60, to: old + 600, step: 60)
        #expect(series.tier == "1m")
        #expect(series.buckets.count == 5, "downsampled counts outlive the raw rows")
    }

    @Test("a foreign or corrupt file is refused and left untouched", arguments: ["text", "other-sqlite"])
    func refusesForeignFiles(kind: String) throws {
        let dir = try Synthetic.temporaryDirectory("foreign")
        defer { try? FileManager.default.removeItem(at: dir) }
        let path = dir.appendingPathComponent("h.db").path
        if kind == "text" {
            try Data("not a database at all, just some text that is long enough to look like a file\n".utf8).write(to: URL(fileURLWithPath: path))
        } else {
            let other = try Database(path: path)
            try other.execute("CREATE TABLE customers(id INTEGER PRIMARY KEY, name TEXT); INSERT INTO customers(name) VALUES('x')")
        }
        let before = try Data(contentsOf: URL(fileURLWithPath: path))
        #expect(throws: StoreError.self) { _ = try Recorder(path: path, version: "test") }
        do { _ = try Recorder(path: path, version: "test") } catch {
            #expect("\(error)".contains("not a netstatd history file") && "\(error)".contains("--db"))
        }
        #expect(try Data(contentsOf: URL(fileURLWithPath: path)) == before)
        #expect(!FileManager.default.fileExists(atPath: path + "-wal"))
    }

    @Test("a file a newer netstatd migrated is refused, not written the old way beside the new")
    func refusesFilesFromNewerVersions() throws {
        let dir = try Synthetic.temporaryDirectory("newer")
        defer { try? FileManager.default.removeItem(at: dir) }
        let path = dir.appendingPathComponent("h.db").path
        do {
            let recorder = try Recorder(path: path, version: "test")
            try recorder.record(Synthetic.snapshot(at: 1_700_000_000, [Synthetic.socket(cookie: 1, state: .listen, local: 80)]))
        }
        do {
            let database = try Database(path: path)
            try database.prepare("INSERT INTO schema_migrations(name, applied_at) VALUES('999_from_the_future', 0)").run()
            try database.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            database.close()
        }
        let before = try Data(contentsOf: URL(fileURLWithPath: path))
        do {
            _ = try Recorder(path: path, version: "test")
            Issue.record("the file was opened")
        } catch {
            #expect("\(error)".contains("written by a newer netstatd (its schema has 999_from_the_future"), "\(error)")
            #expect("\(error)".contains("--db"))
        }
        #expect(try Data(contentsOf: URL(fileURLWithPath: path)) == before, "left as it was")
        let database = try Database(path: path)
        defer { database.close() }
        #expect(try database.scalar("SELECT count(*) FROM runs") == 1, "no run of this version was started in it")
    }
}

/// The writer must never hold a read transaction between samples: one would stop
/// every checkpoint and the WAL would grow without bound.
struct WALCheckpointTests {
    @Test func aCheckpointCompletesWhileTheRecorderIsOpen() throws {
        let dir = try Synthetic.temporaryDirectory("wal")
        defer { try? FileManager.default.removeItem(at: dir) }
        let path = dir.appendingPathComponent("h.db").path
        let recorder = try Recorder(path: path, version: "test")
        for i in 0..<50 {
            try recorder.record(Synthetic.snapshot(at: 1_700_000_000 + Double(i), [
                Synthetic.socket(cookie: UInt64(i + 1), state: .established, local: 80, remote: UInt16(2000 + i))]))
        }
        let reader = try HistoryReader(path: path)
        _ = try reader.sample(atOrBefore: 1_800_000_000)
        _ = try reader.figures()
        let other = try Database(path: path)
        let statement = try other.prepare("PRAGMA wal_checkpoint(TRUNCATE)")
        #expect(try statement.step())
        #expect(statement.int(0) == 0, "busy: someone holds a read transaction")
        statement.reset()
        var info = stat()
        stat(path + "-wal", &info)
        #expect(info.st_size == 0, "the WAL was truncated")
        _ = recorder
    }
}

/// Counters recorded compactly (keyframes and changes) and served back as rates.
struct CounterHistoryTests {
    @Test func ratesAcrossKeyframesAndAReset() throws {
        let dir = try Synthetic.temporaryDirectory("counters")
        defer { try? FileManager.default.removeItem(at: dir) }
        let path = dir.appendingPathComponent("h.db").path
        let recorder = try Recorder(path: path, version: "test")
        let base = 1_700_000_000.0
        // 300 samples 1 s apart: Tcp.OutSegs grows 10/s, resets to 0 at sample 200;
        // Tcp.MaxConn stays -1 (changes never, so only keyframes carry it); Tcp.InSegs
        // sits near 2^64, where a Double cannot tell one segment from the next.
        let outSegs = CounterKey.protocolCounter(group: "Tcp", name: "OutSegs")
        let maxConn = CounterKey.protocolCounter(group: "Tcp", name: "MaxConn")
        let inSegs = CounterKey.protocolCounter(group: "Tcp", name: "InSegs")
        let loBytes = CounterKey.interface(name: "lo", field: "rx_bytes")
        let high: UInt64 = 18_446_744_073_709_000_000
        for i in 0..<300 {
            let segs = UInt64(i < 200 ? i * 10 : (i - 200) * 10)
            try recorder.record(Synthetic.snapshot(at: base + Double(i), []),
                                counters: [outSegs: segs, maxConn: UInt64(bitPattern: -1), inSegs: high + UInt64(i), loBytes: UInt64(i * 1000)])
        }
        let reader = try HistoryReader(path: path)
        #expect(try reader.counterKeys().map(\.storageName) == ["Tcp.InSegs", "Tcp.MaxConn", "Tcp.OutSegs", "interface.lo.rx_bytes"])
        let series = try reader.counterSeries([outSegs, maxConn, inSegs, loBytes], from: base + 130, to: base + 299, step: 10)
        let segs = try #require(series[outSegs])
        #expect(segs.count == 17)
        #expect(segs.first?.rate == 10, "rate from a window that starts after a keyframe")
        let resetBucket = try #require(segs.first { $0.at == base + 200 })
        #expect(resetBucket.resets == 1, "the counter went down: a reset, not a negative rate")
        // Samples 200-209: 1990 -> 0 (a reset: the value after it, 0, is the increase),
        // then nine steps of 10: 90 in 10 s.
        #expect(resetBucket.rate == 9, "after a reset the value counts as the increase (the rule live rates use too)")
        #expect(series[maxConn]?.allSatisfy { Int64(bitPattern: $0.value) == -1 && $0.rate == 0 } == true)
        #expect(series[inSegs]?.first?.value == high + 139, "exact near 2^64")
        #expect(series[inSegs]?.first?.rate == 1)
        #expect(series[loBytes]?.first?.rate == 1000)
        // Only what changed is stored: MaxConn appears in keyframes alone.
        let database = try Database(path: path, mode: .readOnly)
        #expect(try database.scalar("SELECT count(*) FROM counter_samples WHERE substr(data, 1, 1) = x'01'") == 3)
    }
}

/// "Present at T" comes from hourly keyframes replayed forward; checked against the
/// truth over 1,600 samples (two keyframes, and a restart in between).
struct PresentSetTests {
    @Test func replayMatchesWhatWasRecorded() throws {
        let dir = try Synthetic.temporaryDirectory("present")
        defer { try? FileManager.default.removeItem(at: dir) }
        let path = dir.appendingPathComponent("h.db").path
        let base = 1_700_000_000.0
        var truth: [Int: Set<UInt64>] = [:]
        var recorder: Recorder? = try Recorder(path: path, version: "test")
        let longLived = (1...5).map { Synthetic.socket(cookie: UInt64($0), state: .established, local: 22, remote: UInt16(40000 + $0)) }
        for i in 0..<1600 {
            if i == 1000 { recorder = nil; recorder = try Recorder(path: path, version: "test") }  // a restart
            // Two new connections each sample, each living three samples.
            var sockets: [Socket] = longLived
            for opened in max(0, i - 2)...i {
                for k in 0..<2 {
                    let number = opened * 2 + k
                    let remote = UInt16(10000 + number % 50000)
                    sockets.append(Synthetic.socket(cookie: UInt64(1000 + number), state: .established, local: 80, remote: remote))
                }
            }
            try recorder!.record(Synthetic.snapshot(at: base + Double(i), sockets))
            truth[i] = Set(sockets.compactMap { $0.cookie })
        }
        let reader = try HistoryReader(path: path)
        for i in [0, 1, 2, 500, 719, 720, 721, 999, 1000, 1001, 1439, 1440, 1441, 1599] {
            let sample = try #require(try reader.sample(atOrBefore: base + Double(i)))
            let present = Set(try reader.connections(inSample: sample.id).compactMap(\.cookie))
            #expect(present == truth[i], "sample \(i)")
        }
        let window = try reader.connections(from: base + 710, to: base + 730, after: 0, limit: 10_000)
        let expected = (710...730).reduce(into: Set<UInt64>()) { $0.formUnion(truth[$1]!) }
        #expect(Set(window.compactMap(\.cookie)) == expected)
        // Paged, the same set, each once.
        var paged: [UInt64] = []
        var after: Int64 = 0
        for _ in 0..<100 {
            let page = try reader.connections(from: base + 710, to: base + 730, after: after, limit: 7)
            if page.isEmpty { break }
            paged += page.compactMap(\.cookie)
            after = page.last!.id
        }
        #expect(paged.count == expected.count && Set(paged) == expected)
    }
}

/// History across network namespaces: a connection is (namespace, cookie).
struct NamespaceHistoryTests {
    static func socket(_ cookie: UInt64, netns: UInt64, port: UInt16) -> Socket {
        var socket = Synthetic.socket(cookie: cookie, state: .listen, local: port)
        socket.netns = netns
        return socket
    }

    static func snapshot(at time: Double, _ sockets: [Socket], namespaces: [NetNamespace]) -> Snapshot {
        Snapshot(takenAt: time, duration: 0.001, source: .netlink, sockets: sockets, problems: SamplingProblems(),
                 userNames: [0: "root"], namespaces: namespaces)
    }

    @Test("the same cookie in two namespaces is two rows; an unread namespace keeps its rows; a vanished one closes them")
    func namespacesInHistory() throws {
        let dir = try Synthetic.temporaryDirectory("netns-history")
        defer { try? FileManager.default.removeItem(at: dir) }
        let path = dir.appendingPathComponent("h.db").path
        let base = 1_700_000_000.0
        let host = NetNamespace(inode: 1, isHost: true, isOwn: true)
        let container = NetNamespace(inode: 2, name: "web")
        var unreadContainer = container
        unreadContainer.unreadReason = "setns: EPERM"
        let recorder = try Recorder(path: path, version: "test")
        let both = [Self.socket(7, netns: 1, port: 80), Self.socket(7, netns: 2, port: 80)]
        try recorder.record(Self.snapshot(at: base, both, namespaces: [host, container]))
        // The container's namespace could not be read: its listener is not gone.
        try recorder.record(Self.snapshot(at: base + 1, [both[0]], namespaces: [host, unreadContainer]))
        try recorder.record(Self.snapshot(at: base + 2, both, namespaces: [host, container]))
        // The namespace is gone: its rows close at the last sample that saw them.
        try recorder.record(Self.snapshot(at: base + 3, [both[0]], namespaces: [host]))
        let rows = try HistoryReader(path: path).connections(from: base, to: base + 10, after: 0, limit: 10)
        #expect(rows.count == 2, "one row per (namespace, cookie)")
        #expect(rows.first { $0.netns == 1 }?.lastSeen == nil)
        #expect(rows.first { $0.netns == 2 }?.lastSeen == base + 2)
        #expect(rows.first { $0.netns == 2 }?.firstSeen == base, "kept open through the unread sample")
    }
}
