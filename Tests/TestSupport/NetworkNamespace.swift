import Foundation
import Glibc

/// A private network namespace made for one test and deleted after it. Only its own
/// loopback is ever sent traffic.
public final class NetworkNamespace {
    public let name: String

    /// Creates `nsd-<tag>-<pid>` with its loopback up.
    public init(tag: String) throws {
        name = "nsd-\(tag)-\(getpid())"
        _ = try? TestSupport.run(["ip", "netns", "del", name])
        let added = try TestSupport.run(["ip", "netns", "add", name])
        guard added.status == 0 else { throw CommandError(message: "ip netns add \(name): \(added.stderr)") }
        let up = try TestSupport.run(["ip", "-n", name, "link", "set", "lo", "up"])
        guard up.status == 0 else { throw CommandError(message: "ip link set lo up in \(name): \(up.stderr)") }
    }

    deinit {
        _ = try? TestSupport.run(["ip", "netns", "del", name])
    }

    /// Runs a command inside the namespace.
    public func run(_ arguments: [String], timeout: Double = 30) throws -> CommandResult {
        try TestSupport.run(["ip", "netns", "exec", name] + arguments, timeout: timeout)
    }
}

/// The socket zoo (Fixtures/zoo.py) running inside a namespace until stopped.
public final class SocketZoo {
    private let process = Process()
    private let input = Pipe()
    /// What zoo.py said it made: ports by role and the two pids.
    public let made: [String: Any]

    public convenience init(in namespace: NetworkNamespace) throws {
        try self.init(launcher: ["ip", "netns", "exec", namespace.name])
    }

    /// The zoo run by `launcher` followed by `python3 zoo.py` (`nsenter ...`, `unshare -n ...`).
    public init(launcher: [String]) throws {
        let script = TestEnvironment.zooScript
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = launcher + ["python3", script]
        let output = Pipe()
        process.standardInput = input
        process.standardOutput = output
        try process.run()
        // The first line is the description; it comes once every socket is in place.
        var line = Data()
        let deadline = Date().addingTimeInterval(20)
        let handle = output.fileHandleForReading
        while Date() < deadline {
            let chunk = handle.availableData
            if chunk.isEmpty { break }
            line.append(chunk)
            if chunk.contains(UInt8(ascii: "\n")) { break }
        }
        guard let object = try JSONSerialization.jsonObject(with: line) as? [String: Any] else {
            throw CommandError(message: "zoo.py printed no description: \(String(decoding: line, as: UTF8.self))")
        }
        made = object
    }

    /// The port zoo.py recorded under `group` / `key`.
    public func port(_ group: String, _ key: String) -> Int {
        ((made[group] as? [String: Any])?[key] as? Int) ?? -1
    }

    public func stop() {
        try? input.fileHandleForWriting.close()
        process.waitUntilExit()
    }

    deinit { stop() }
}
