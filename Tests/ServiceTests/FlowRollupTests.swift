import Foundation
import Sampling
@testable import Service
@testable import Store
import TestSupport
import Testing

/// history/flows from the per-minute rollups: accepted and outgoing connections keep
/// their service port and drop the ephemeral one, nothing is counted twice across
/// the window's end, and a file recorded before the rollups is counted once.
struct FlowRollupTests {
    /// 2 minutes at 1 s: nginx on :80 accepts a connection a second (each lives 2 s),
    /// and a client opens one to :5432 every 2 s (each lives 4 s).
    static func record(_ recorder: Recorder, base: Double, seconds: Int = 120) throws {
        let nginx = Synthetic.owner(10, "nginx")
        let psql = Synthetic.owner(20, "psql")
        let listener = Synthetic.socket(cookie: 1, state: .listen, local: 80, owners: [nginx])
        for second in 0..<seconds {
            var sockets = [listener]
            for started in max(0, second - 1)...second {
                sockets.append(Synthetic.socket(cookie: 1000 + UInt64(started), state: .established, local: 80,
                                                remote: UInt16(40000 + started), owners: [nginx]))
            }
            for started in stride(from: 0, through: second, by: 2) where second - started < 4 {
                sockets.append(Synthetic.socket(cookie: 5000 + UInt64(started), state: .established, local: UInt16(50000 + started),
                                                remote: 5432, owners: [psql]))
            }
            try recorder.record(Synthetic.snapshot(at: base + Double(second), sockets))
        }
    }

    static func groups(_ path: String, from: Double, to: Double, keys: [FlowSummary.Key]) throws -> [[String]: FlowSummary.Group] {
        let answer = try FlowSummary.read(ReaderPool(path: path), from: from, to: to, keys: keys) { _ in true }
        return Dictionary(answer.groups.map { ($0.values, $0) }, uniquingKeysWith: { a, _ in a })
    }

    @Test("accepted and outgoing connections by their service ports; durations from the histogram")
    func servicePorts() throws {
        let dir = try Synthetic.temporaryDirectory("flow-rollups")
        defer { try? FileManager.default.removeItem(at: dir) }
        let path = dir.appendingPathComponent("h.db").path
        let base = 1_700_000_040.0  // a whole minute
        let recorder = try Recorder(path: path, version: "test")
        try Self.record(recorder, base: base)
        let byLocal = try Self.groups(path, from: base, to: base + 119, keys: [.localPort])
        // 120 accepted (118 closed in the rollups, 2 open at the end), 60 outgoing.
        #expect(byLocal[["80"]]?.count == 120)
        #expect(byLocal[[FlowSummary.ephemeral]]?.count == 60)
        let byRemote = try Self.groups(path, from: base, to: base + 119, keys: [.remotePort, .process])
        #expect(byRemote[[FlowSummary.ephemeral, "nginx"]]?.count == 120)
        #expect(byRemote[["5432", "psql"]]?.count == 60)
        // Each accepted connection was last seen 1 s after it was first seen: the median
        // is that second, within a histogram bucket (about 19%).
        let median = try #require(byLocal[["80"]]?.durationPercentile(0.5))
        #expect(median > 1000 / 1.2 && median < 1000 * 1.2, "median \(median) ms")
        // One rollup row per key and minute.
        let database = try Database(path: path, mode: .readOnly)
        #expect(try database.scalar("SELECT count(*) FROM flow_minutes") ?? 0 <= 6)
    }

    @Test("a connection open at the window's end is counted once, and once again only after it closes")
    func noDoubleCountAcrossTheEnd() throws {
        let dir = try Synthetic.temporaryDirectory("flow-edge")
        defer { try? FileManager.default.removeItem(at: dir) }
        let path = dir.appendingPathComponent("h.db").path
        let base = 1_700_000_040.0
        let recorder = try Recorder(path: path, version: "test")
        let nginx = Synthetic.owner(10, "nginx")
        let listener = Synthetic.socket(cookie: 1, state: .listen, local: 80, owners: [nginx])
        let long = Synthetic.socket(cookie: 2, state: .established, local: 80, remote: 40001, owners: [nginx])
        for second in 0..<90 {
            try recorder.record(Synthetic.snapshot(at: base + Double(second), second < 70 ? [listener, long] : [listener]))
        }
        // The first minute: it was open throughout (not yet in any rollup).
        #expect(try Self.groups(path, from: base, to: base + 59, keys: [.localPort])[["80"]]?.count == 1)
        // Both minutes: it closed in the second one, counted there and only there.
        let both = try Self.groups(path, from: base, to: base + 119, keys: [.localPort])
        #expect(both[["80"]]?.count == 1)
        #expect(both[["80"]]?.durationsKnown == 1)
    }

    @Test("a file recorded before the rollups existed is counted once, by the next writer")
    func backfill() throws {
        let dir = try Synthetic.temporaryDirectory("flow-backfill")
        defer { try? FileManager.default.removeItem(at: dir) }
        let path = dir.appendingPathComponent("h.db").path
        let base = 1_700_000_040.0
        do {
            let recorder = try Recorder(path: path, version: "test")
            try Self.record(recorder, base: base)
        }
        let before = try Self.groups(path, from: base, to: base + 119, keys: [.localPort, .remotePort])
        // As a file from before migration 007: no rollups, the marker set.
        do {
            let database = try Database(path: path)
            try database.prepare("DELETE FROM flow_minutes").run([])
            try database.prepare("INSERT INTO flow_backfill(through) SELECT max(id) FROM connections").run([])
            database.close()
        }
        #expect(try Self.groups(path, from: base, to: base + 119, keys: [.localPort])[["80"]]?.count == 2, "only the open ones without rollups")
        _ = try Recorder(path: path, version: "test")
        let after = try Self.groups(path, from: base, to: base + 119, keys: [.localPort, .remotePort])
        #expect(after.mapValues(\.count) == before.mapValues(\.count))
        let database = try Database(path: path, mode: .readOnly)
        #expect(try database.scalar("SELECT count(*) FROM flow_backfill") == 0, "done once")
    }
}

/// history/states?group_by= over days: hourly grouped counts, the largest groups kept.
struct StateGroupsTests {
    @Test("three days grouped by local port from the hourly counts: means per bucket, the rest as other past 100 groups")
    func threeDays() throws {
        let dir = try Synthetic.temporaryDirectory("state-groups")
        defer { try? FileManager.default.removeItem(at: dir) }
        let path = dir.appendingPathComponent("h.db").path
        let base = 1_700_002_800.0  // a whole hour
        let recorder = try Recorder(path: path, version: "test")
        let nginx = Synthetic.owner(10, "nginx")
        // Every 10 minutes for 3 days: 2 connections on :80, 3 on :443 for the first
        // day only, and 150 single connections on ports 1000-1149 (past the 100 kept).
        for index in 0..<(3 * 144) {
            let at = base + Double(index) * 600
            var sockets = [Synthetic.socket(cookie: 1, state: .listen, local: 80, owners: [nginx])]
            sockets += (0..<2).map { Synthetic.socket(cookie: 10 + UInt64($0), state: .established, local: 80, remote: UInt16(40000 + $0)) }
            if index < 144 {
                sockets += (0..<3).map { Synthetic.socket(cookie: 20 + UInt64($0), state: .established, local: 443, remote: UInt16(41000 + $0)) }
            }
            sockets += (0..<150).map { Synthetic.socket(cookie: 1000 + UInt64($0), state: .established, local: UInt16(1000 + $0), remote: 42000) }
            try recorder.record(Synthetic.snapshot(at: at, sockets))
        }
        let series = try StateHistory.series(ReaderPool(path: path), from: base, to: base + 3 * 86400, step: 86400,
                                             grouping: .localPort, protocols: nil)
        #expect(series.tier == "1h")
        #expect(series.groups[0]?["80"]?[.tcp]?["ESTABLISHED"] == 2 && series.groups[0]?["80"]?[.tcp]?["LISTEN"] == 1)
        #expect(series.groups[0]?["443"]?[.tcp]?["ESTABLISHED"] == 3)
        #expect(series.groups[1]?["443"] == nil, "gone on the second day")
        // 153 groups an hour: the largest 100 kept (ties by name), the rest summed.
        let other = try #require(series.groups[2]?[StateGroupsHour.other]?[.tcp]?["ESTABLISHED"])
        #expect(other >= 50 && other <= 53, "other: \(other)")
        #expect(throws: StateHistory.StepTooShort.self) {
            try StateHistory.series(ReaderPool(path: path), from: base, to: base + 3 * 86400, step: 300, grouping: .localPort, protocols: nil)
        }
    }

    @Test("grouped counts over raw rows are of what samples held: a socket seen only by its close event is in none")
    func shortConnectionsAreInNoSample() throws {
        let dir = try Synthetic.temporaryDirectory("state-groups-short")
        defer { try? FileManager.default.removeItem(at: dir) }
        let path = dir.appendingPathComponent("h.db").path
        let base = 1_700_000_040.0  // a whole minute
        let recorder = try Recorder(path: path, version: "test")
        let listener = Synthetic.socket(cookie: 1, state: .listen, local: 80)
        try recorder.record(Synthetic.snapshot(at: base, [listener]))
        // Closed at the very millisecond that stands for the first minute's last
        // sample, between two samples: counted there, it would be a socket no sample had.
        var socket = Synthetic.socket(cookie: 2, state: .close, local: 8080, remote: 40000)
        socket.inode = 0
        try recorder.record(Synthetic.snapshot(at: base + 65, [listener]),
                            closeEvents: [CloseEvent(socket: socket, at: base + 59.999)])
        let series = try StateHistory.series(ReaderPool(path: path), from: base, to: base + 120, step: 60, grouping: .localPort, protocols: nil)
        #expect(series.groups[0]?["80"]?[.tcp]?["LISTEN"] == 1)
        #expect(series.groups[0]?["8080"] == nil, "\(series.groups)")
    }
}
