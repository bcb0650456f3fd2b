import Foundation
import Glibc
import Sampling
import Store
import TestSupport
import Testing

/// The real `netstatd` binary, run as a user runs it: two instances on one file,
/// restarts with sockets open, kill -9, mistyped flags, and the netstat-style CLI.
@Suite(.enabled(if: TestEnvironment.netstatdBinary != nil, "needs the built netstatd binary"))
struct ServeProcessTests {
    /// A running `netstatd serve` and what it printed.
    final class Serve {
        let process = Process()
        let errors = Pipe()
        private(set) var port: UInt16 = 0
        private var collected = Data()

        init(_ arguments: [String]) throws {
            process.executableURL = URL(fileURLWithPath: TestEnvironment.netstatdBinary!)
            process.arguments = ["serve", "--listen", "127.0.0.1:0"] + arguments
            process.standardError = errors
            process.standardOutput = FileHandle.nullDevice
            try process.run()
        }

        /// Waits for the "listening on" line; throws with what it printed if it exits instead.
        func waitUntilListening() throws {
            let deadline = Date().addingTimeInterval(30)
            while Date() < deadline {
                let chunk = errors.fileHandleForReading.availableData
                if chunk.isEmpty { break }
                collected += chunk
                let text = String(decoding: collected, as: UTF8.self)
                if let range = text.range(of: "listening on http://127.0.0.1:") {
                    port = UInt16(text[range.upperBound...].prefix { $0.isNumber }) ?? 0
                    return
                }
            }
            throw CommandError(message: "serve did not start: \(String(decoding: collected, as: UTF8.self))")
        }

        /// Everything it printed on stderr until it exited (waits for the exit).
        func finish(signal: Int32? = nil) -> (status: Int32, stderr: String) {
            if let signal { kill(process.processIdentifier, signal) }
            collected += errors.fileHandleForReading.readDataToEndOfFile()
            process.waitUntilExit()
            return (process.terminationStatus, String(decoding: collected, as: UTF8.self))
        }
    }

    /// Waits until the history at `path` holds more than `count` samples.
    static func waitForSamples(_ path: String, moreThan count: Int) {
        let deadline = Date().addingTimeInterval(20)
        while Date() < deadline {
            if ((try? HistoryReader(path: path).samples(from: 0, to: .infinity, limit: 1_000_000))?.count ?? 0) > count { return }
            usleep(20_000)
        }
    }

    @Test("a second serve on the same --db refuses to start, naming the first; the first's history stays clean")
    func oneWriterPerFile() throws {
        let dir = try Synthetic.temporaryDirectory("two-writers")
        defer { try? FileManager.default.removeItem(at: dir) }
        let path = dir.appendingPathComponent("h.db").path
        let first = try Serve(["--interval", "0.2", "--db", path])
        try first.waitUntilListening()
        Self.waitForSamples(path, moreThan: 1)
        let second = try Serve(["--interval", "0.2", "--db", path])
        let refused = second.finish()
        #expect(refused.status != 0)
        #expect(refused.stderr.contains("pid \(first.process.processIdentifier)"), "\(refused.stderr)")
        #expect(refused.stderr.contains("--db") && refused.stderr.contains("--no-history"))
        Self.waitForSamples(path, moreThan: 4)
        _ = first.finish(signal: SIGTERM)
        let samples = try HistoryReader(path: path).samples(from: 0, to: .infinity, limit: 100_000)
        #expect(Set(samples.map(\.runID)).count == 1, "only the first instance wrote")
    }

    @Test("a stop and a kill -9 with sockets open: each socket keeps one row and its first_seen; each restart is one gap",
          arguments: [SIGTERM, SIGKILL])
    func restartKeepsOpenSockets(signal: Int32) throws {
        let dir = try Synthetic.temporaryDirectory("restart-open")
        defer { try? FileManager.default.removeItem(at: dir) }
        let path = dir.appendingPathComponent("h.db").path
        let pair = try LoopbackPair()
        defer { pair.close() }
        for round in 0..<2 {
            // Its own namespace: the port below could be in use in another test's.
            let serve = try Serve(["--interval", "0.2", "--db", path, "--namespaces", "host"])
            try serve.waitUntilListening()
            let before = (try? HistoryReader(path: path).samples(from: 0, to: .infinity, limit: 100_000))?.count ?? 0
            Self.waitForSamples(path, moreThan: before + 2)
            _ = serve.finish(signal: round == 0 ? signal : SIGTERM)
        }
        let reader = try HistoryReader(path: path)
        let rows = try reader.connections(from: 0, to: Date().timeIntervalSince1970 + 10, after: 0, limit: 100_000)
            .filter { $0.local.port == pair.port || $0.remote.port == pair.port }
        #expect(rows.count == 3, "the listener and both ends of the connection, one row each: \(rows.map { "\($0.local.port)>\($0.remote.port)" })")
        let samples = try reader.samples(from: 0, to: .infinity, limit: 100_000)
        let runs = Set(samples.map(\.runID))
        #expect(runs.count == 2)
        #expect(rows.allSatisfy { $0.firstSeen == samples.first?.takenAt }, "first_seen is the first run's first sample")
        #expect(rows.allSatisfy { !$0.closedDuringGap })
        let feed = try reader.events(after: .start, limit: 100_000).filter { $0.connection.local.port == pair.port || $0.connection.remote.port == pair.port }
        #expect(!feed.contains { $0.kind == .closed }, "no close and reopen across the restart")
        #expect(feed.filter { $0.kind == .opened }.allSatisfy { !$0.owners.isEmpty }, "every opening names its owner (this test process)")
    }

    @Test("flags people mistype get one clear line")
    func mistypedFlags() throws {
        let bareRetention = try run([TestEnvironment.netstatdBinary!, "serve", "--no-history", "--retention", "7"])
        #expect(bareRetention.status != 0 && bareRetention.stderr.contains("7d") && bareRetention.stderr.contains("unit"))
        let missingDirectory = try run([TestEnvironment.netstatdBinary!, "serve", "--listen", "127.0.0.1:0", "--db", "/nonexistent-netstatd/x.db"])
        #expect(missingDirectory.status != 0)
        #expect(missingDirectory.stderr.contains("/nonexistent-netstatd") && missingDirectory.stderr.contains("errno") && missingDirectory.stderr.contains("--no-history"))
        let pair = try LoopbackPair()
        defer { pair.close() }
        let taken = try run([TestEnvironment.netstatdBinary!, "serve", "--no-history", "--listen", "127.0.0.1:\(pair.port)"])
        #expect(taken.status != 0 && taken.stderr.contains("held by pid \(getpid())"), "\(taken.stderr)")
    }

    @Test("snapshot -i, -rn and -s print what netstat prints", .enabled(if: TestEnvironment.hasTool("netstat"), "needs net-tools' netstat"))
    func netstatTables() throws {
        let binary = TestEnvironment.netstatdBinary!
        let routes = try run([binary, "snapshot", "-rn"]).text
        let theirs = try run(["netstat", "-rn"]).text + "\n" + (try run(["netstat", "-rn", "-6"]).text)
        #expect(routes == theirs, "ours:\n\(routes)\nnetstat's:\n\(theirs)")
        // Counters move between the two runs; names, MTUs and flags do not.
        func stable(_ text: String) -> [String] {
            text.split(separator: "\n").map { line in
                let fields = line.split(separator: " ")
                return fields.count > 10 ? "\(fields[0]) \(fields[1]) \(fields.last!)" : String(line)
            }
        }
        #expect(stable(try run([binary, "snapshot", "-i"]).text) == stable(try run(["netstat", "-i"]).text))
        #expect(stable(try run([binary, "snapshot", "-ia"]).text) == stable(try run(["netstat", "-ia"]).text))
        let statistics = try run([binary, "snapshot", "-s"])
        #expect(statistics.status == 0 && statistics.text.hasPrefix("Ip:"))
        let both = try run([binary, "snapshot", "-i", "-r"])
        #expect(both.status != 0 && both.stderr.contains("one of them"))
    }
}

/// Every example in the README, run as written against a live `serve` (the port and
/// the binary's path substituted): the README and the behaviour cannot drift apart.
@Suite(.enabled(if: TestEnvironment.netstatdBinary != nil && TestEnvironment.hasTool("jq"), "needs the built binary and jq"))
struct ReadmeExampleTests {
    /// The commands of the README's console and sh blocks that a user can paste here.
    static func examples() throws -> [String] {
        let readme = try String(contentsOf: TestEnvironment.packageRoot.appendingPathComponent("README.md"), encoding: .utf8)
        var commands: [String] = []
        var block: String?
        for line in readme.split(separator: "\n", omittingEmptySubsequences: false) {
            if line.hasPrefix("```") {
                block = block == nil ? String(line.dropFirst(3)) : nil
                continue
            }
            guard let kind = block, kind == "console" || kind == "sh" else { continue }
            var command = String(line)
            // In a console block only `$ ` lines are commands; the rest is their output.
            if kind == "console" {
                guard command.hasPrefix("$ ") else { continue }
                command.removeFirst(2)
            }
            guard command.hasPrefix("curl ") || command.hasPrefix("netstatd ") else { continue }
            // Needs files this machine does not have, or runs until stopped.
            if command.contains("sosreport/") || command.hasPrefix("netstatd serve") { continue }
            commands.append(command)
        }
        return commands
    }

    @Test("every README example runs and answers")
    func readmeExamples() throws {
        let dir = try Synthetic.temporaryDirectory("readme")
        defer { try? FileManager.default.removeItem(at: dir) }
        let path = dir.appendingPathComponent("h.db").path
        let serve = try ServeProcessTests.Serve(["--interval", "0.5", "--db", path])
        try serve.waitUntilListening()
        defer { _ = serve.finish(signal: SIGTERM) }
        ServeProcessTests.waitForSamples(path, moreThan: 1)
        let examples = try Self.examples()
        #expect(examples.count >= 25, "found \(examples.count) examples")
        let binary = TestEnvironment.netstatdBinary!
        for example in examples {
            var command = example.replacingOccurrences(of: "localhost:7878", with: "127.0.0.1:\(serve.port)")
            if command.hasPrefix("netstatd ") { command = binary + command.dropFirst("netstatd".count) }
            let result = try run(["bash", "-o", "pipefail", "-c", command], timeout: 30)
            #expect(result.status == 0, "\(example)\n\(result.stderr)")
            // A jq select() may rightly find nothing on this machine.
            #expect(!result.stdout.isEmpty || command.contains("select("), "\(example) printed nothing")
            if command.contains("curl -s") && !command.contains("format=") && !command.contains("/metrics") && !command.contains("| jq") && !command.contains("events") {
                #expect((try? JSONSerialization.jsonObject(with: result.stdout)) != nil, "\(example) did not answer JSON")
            }
        }
    }
}
