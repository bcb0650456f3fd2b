import Foundation
import Sampling
import Service
import Store
import TestSupport
import Testing

/// The HistoryWriter while writes fail: on a real full disk (a small tmpfs).
struct HistoryWriterTests {
    final class LogLines: @unchecked Sendable {
        var lines: [String] = []
    }

    static func closeEvent(_ index: Int, at: Double) -> CloseEvent {
        let socket = Socket(proto: .tcp, family: .ipv4, state: .close,
                            local: Endpoint(address: IPAddress("127.0.0.1")!, port: 80),
                            remote: Endpoint(address: IPAddress("127.0.0.1")!, port: UInt16(40000 + index)),
                            recvQ: 0, sendQ: 0, uid: 0, inode: 0, cookie: UInt64(1_000_000 + index), processes: [])
        return CloseEvent(socket: socket, at: at)
    }

    @Test("close events kept while the disk is full are bounded; those given up are counted as lost and the next sample says so",
          .enabled(if: TestEnvironment.isRoot, "needs root to mount a small tmpfs"))
    func boundedWhileWritesFail() throws {
        let disk = try SmallDisk("writer-full")
        let path = disk.historyPath
        let status = RecorderStatus()
        let log = LogLines()
        let writer = HistoryWriter(recorder: try Recorder(path: path, version: "test"), status: status, closeEventCapacity: 50) { log.lines.append($0) }
        let base = Clock.wallSeconds() - 600
        // Fill the disk with samples of new connections until a write fails (bounded).
        var sample = 0
        while status.current.failed == 0 && sample < 200 {
            let sockets = (0..<300).map { i in
                Synthetic.socket(cookie: UInt64(sample * 1000 + i + 1), state: .established, local: 80, remote: UInt16(1024 + (sample * 300 + i) % 60000))
            }
            writer.record(Synthetic.snapshot(at: base + Double(sample), sockets), counters: [:])
            sample += 1
        }
        try #require(status.current.failed == 1, "the disk never filled")
        // Two more failing samples bring 80 events: 50 are kept, 30 given up.
        let events = (0..<80).map { Self.closeEvent($0, at: base + Double(sample) + Double($0) / 100) }
        writer.record(Synthetic.snapshot(at: base + Double(sample) + 1, []), counters: [:], closeEvents: Array(events[..<40]))
        writer.record(Synthetic.snapshot(at: base + Double(sample) + 2, []), counters: [:], closeEvents: Array(events[40...]))
        #expect(status.current.failed == 3)
        #expect(status.current.closeEventsDropped == 30)
        #expect(log.lines.count == 1, "one line for the failure, not one per sample: \(log.lines)")

        try disk.grow()
        writer.record(Synthetic.snapshot(at: base + Double(sample) + 3, []), counters: [:])
        #expect(status.current.lastError == nil)
        let reader = try HistoryReader(path: path)
        let last = try #require(try reader.samples(from: 0, to: .infinity, limit: 1000).last)
        #expect(last.closeEvents == 50, "the 50 kept are written with the sample after the disk has room")
        #expect(last.closeOverflows >= 1, "and that sample says events were missed before it")
        let written = try reader.connections(from: base, to: base + 1000, after: 0, limit: 100_000).filter { $0.origin.contains(.closeEvent) }
        #expect(Set(written.map { $0.remote.port }) == Set((30..<80).map { UInt16(40000 + $0) }), "the newest 50, the oldest given up")
    }
}
