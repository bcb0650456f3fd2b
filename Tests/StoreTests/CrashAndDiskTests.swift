import Foundation
import Glibc
import Sampling
import Store
import TestSupport
import Testing

/// kill -9 at any moment, and a disk that fills up: nothing stored is lost, the file
/// always opens clean, and writing resumes by itself.
struct CrashAndDiskTests {
    private func integrity(_ path: String) throws -> String {
        let database = try Database(path: path, mode: .readOnly)
        let statement = try database.prepare("PRAGMA integrity_check")
        return try statement.step() ? statement.text(0) : "no answer"
    }

    @Test("kill -9 of a recording serve, many times: the file opens clean, only the sample in flight is lost",
          .enabled(if: TestEnvironment.netstatdBinary != nil, "needs the built netstatd binary"))
    func killNineRepeatedly() throws {
        let binary = try #require(TestEnvironment.netstatdBinary)
        let dir = try Synthetic.temporaryDirectory("kill9")
        defer { try? FileManager.default.removeItem(at: dir) }
        let path = dir.appendingPathComponent("h.db").path
        var previousSamples: Int64 = 0
        let rounds = 8
        for round in 0..<rounds {
            let server = Process()
            server.executableURL = URL(fileURLWithPath: binary)
            server.arguments = ["serve", "--listen", "127.0.0.1:0", "--interval", "0.1", "--db", path]
            server.standardError = FileHandle.nullDevice
            try server.run()
            // Once this run has written a sample (a loaded machine can take a while to
            // start), die at a different point of the write cycle each round.
            let deadline = Date().addingTimeInterval(20)
            while Date() < deadline {
                let written = (try? HistoryReader(path: path).samples(from: 0, to: .infinity, limit: 100_000))?.count ?? 0
                if Int64(written) > previousSamples { break }
                usleep(20_000)
            }
            usleep(UInt32((round * 37_000) % 200_000))
            kill(server.processIdentifier, SIGKILL)
            server.waitUntilExit()
            #expect(try integrity(path) == "ok", "round \(round)")
            let reader = try HistoryReader(path: path)
            let samples = try reader.samples(from: 0, to: .infinity, limit: 100_000)
            #expect(Int64(samples.count) > previousSamples, "round \(round): samples were written and kept")
            previousSamples = Int64(samples.count)
            #expect(Set(samples.map(\.runID)).count == round + 1)
        }
        // A clean start afterwards closes what the last run left open.
        let recorder = try Recorder(path: path, version: "test")
        try recorder.record(Synthetic.snapshot(at: Date().timeIntervalSince1970, []))
        #expect(try integrity(path) == "ok")
    }

    @Test("a full disk: writes fail cleanly, nothing stored is lost, writing resumes when space returns",
          .enabled(if: TestEnvironment.isRoot, "needs root to mount a small tmpfs"))
    func diskFull() throws {
        let disk = try SmallDisk("full")
        let path = disk.historyPath
        let recorder = try Recorder(path: path, version: "test")
        let base = 1_700_000_000.0
        var written = 0
        var failure: (any Error)?
        // Each sample opens 300 new connections until the 400 KB disk is full (bounded).
        for sample in 0..<200 {
            let sockets = (0..<300).map { i in
                Synthetic.socket(cookie: UInt64(sample * 1000 + i + 1), state: .established, local: 80, remote: UInt16(1024 + (sample * 300 + i) % 60000))
            }
            do {
                try recorder.record(Synthetic.snapshot(at: base + Double(sample), sockets))
                written += 1
            } catch {
                failure = error
                break
            }
        }
        let error = try #require(failure, "the disk never filled")
        #expect((error as? SQLiteError)?.isDiskFull == true, "\(error)")
        #expect(written > 0)
        #expect(try integrity(path) == "ok")
        let reader = try HistoryReader(path: path)
        #expect(try reader.samples(from: 0, to: .infinity, limit: 1000).count == written, "every sample written before is still there")

        try disk.grow()
        try recorder.record(Synthetic.snapshot(at: base + 500, [Synthetic.socket(cookie: 999_999, state: .listen, local: 22)]))
        let after = try reader.samples(from: 0, to: .infinity, limit: 1000)
        #expect(after.count == written + 1, "writing resumed")
        let last = try #require(after.last)
        let present = try reader.connections(inSample: last.id)
        #expect(present.map(\.cookie) == [999_999], "the connections of the failed sample were closed, not left dangling")
        #expect(try integrity(path) == "ok")
    }
}
