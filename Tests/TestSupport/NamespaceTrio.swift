import Foundation
import Glibc
import Synchronization

/// A helper process (namespaces.py, or `netstatd-bench namespaces`) that prints JSON
/// lines and runs until its stdin closes. Stopped (stdin closed, then killed after a
/// bound) by `stop()` or when released.
public final class HeldProcess {
    private let process = Process()
    private let input = Pipe()
    private let output = Pipe()
    private var pending = Data()
    /// The first line it printed, parsed.
    public private(set) var made: [String: Any] = [:]

    /// Runs `arguments` and waits (at most `timeout` s) for its first JSON line, in
    /// `made`; with `waitForLine` false it returns at once (a process that speaks
    /// only when spoken to).
    public init(_ arguments: [String], timeout: Double = 60, waitForLine: Bool = true) throws {
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = arguments
        process.standardInput = input
        process.standardOutput = output
        try process.run()
        if waitForLine { made = try nextLine(timeout: timeout) }
    }

    /// The process id.
    public var pid: Int32 { process.processIdentifier }

    /// Sends `text` and a newline to its stdin.
    public func send(_ text: String = "") {
        input.fileHandleForWriting.write(Data((text + "\n").utf8))
    }

    /// The next JSON line it prints, waiting at most `timeout` seconds.
    public func nextLine(timeout: Double = 60) throws -> [String: Any] {
        let deadline = Date().addingTimeInterval(timeout)
        let fd = output.fileHandleForReading.fileDescriptor
        while true {
            if let newline = pending.firstIndex(of: UInt8(ascii: "\n")) {
                let line = pending[pending.startIndex..<newline]
                pending = Data(pending[(newline + 1)...])
                guard let object = try JSONSerialization.jsonObject(with: Data(line)) as? [String: Any] else {
                    throw CommandError(message: "\(process.arguments ?? []) printed a line that is not a JSON object: \(String(decoding: line, as: UTF8.self))")
                }
                return object
            }
            let left = deadline.timeIntervalSinceNow
            guard left > 0 else {
                throw CommandError(message: "\(process.arguments ?? []) printed no line within \(timeout) s")
            }
            var poller = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            guard poll(&poller, 1, Int32(min(left, 1) * 1000)) > 0 else { continue }
            var buffer = [UInt8](repeating: 0, count: 65536)
            let count = read(fd, &buffer, buffer.count)
            guard count > 0 else {
                throw CommandError(message: "\(process.arguments ?? []) exited before printing a line (status \(process.isRunning ? -1 : process.terminationStatus))")
            }
            pending.append(contentsOf: buffer[0..<count])
        }
    }

    /// Closes its stdin and waits for it; kills it if it has not exited within 20 s.
    public func stop() {
        try? input.fileHandleForWriting.close()
        let deadline = Date().addingTimeInterval(20)
        while process.isRunning && Date() < deadline { usleep(10_000) }
        if process.isRunning {
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
        }
    }

    deinit { stop() }
}

/// Three network namespaces made for one test: `a` and `b` by `ip netns add`,
/// joined by a veth pair (10.213.0.1/30 in a, .2 in b) with a TCP connection from a
/// to a listener in b, and a listener on the same port in a; `c` held only by the
/// socket zoo, started by `unshare -n` (no name, no bind mount). Everything is
/// removed by `stop()` (call it in a defer) or when released.
public final class NamespaceTrio {
    public let a: NetworkNamespace
    public let b: NetworkNamespace
    /// The port listened on in both a and b.
    public let port: Int
    public let addressA = "10.213.0.1"
    public let addressB = "10.213.0.2"
    /// The listener in b and the connection it accepted.
    public let server: HeldProcess
    /// The listener in a and the connection to b.
    public let client: HeldProcess
    /// The zoo holding namespace c.
    public let zoo: SocketZoo
    /// The inodes of the three namespaces.
    public let inodeA: UInt64, inodeB: UInt64, inodeC: UInt64
    /// The zoo's process (whose namespace c is).
    public let zooPid: Int32
    /// The local endpoint of the connection in a, `10.213.0.1:N`.
    public let clientEndpoint: String

    public init(tag: String) throws {
        a = try NetworkNamespace(tag: tag + "a")
        b = try NetworkNamespace(tag: tag + "b")

        // Unique per trio: tests in one process run at once, and a sample of every
        // namespace sees all their trios.
        let serial = Self.made.withLock { count -> Int in
            count += 1
            return count
        }
        port = 20000 + Int(getpid() % 1000) * 10 + serial % 10
        let suffix = String(getpid() % 10000) + "x" + String(serial)
        let (vethA, vethB) = ("nsdva" + suffix, "nsdvb" + suffix)
        for command in [
            ["ip", "link", "add", vethA, "netns", a.name, "type", "veth", "peer", "name", vethB, "netns", b.name],
            ["ip", "-n", a.name, "addr", "add", addressA + "/30", "dev", vethA],
            ["ip", "-n", b.name, "addr", "add", addressB + "/30", "dev", vethB],
            ["ip", "-n", a.name, "link", "set", vethA, "up"],
            ["ip", "-n", b.name, "link", "set", vethB, "up"],
        ] {
            let result = try TestSupport.run(command)
            guard result.status == 0 else { throw CommandError(message: "\(command.joined(separator: " ")): \(result.stderr)") }
        }
        let script = TestEnvironment.namespacesScript
        server = try HeldProcess(["ip", "netns", "exec", b.name, "python3", script, "peer", "--listen", "\(addressB):\(port)"])
        client = try HeldProcess(["ip", "netns", "exec", a.name, "python3", script, "peer",
                                  "--listen", "0.0.0.0:\(port)", "--connect", "\(addressB):\(port)"])
        let connected = (client.made["connected"] as? [[String: Any]])?.first
        clientEndpoint = connected?["local"] as? String ?? "?"
        zoo = try SocketZoo(launcher: ["unshare", "-n", "sh", "-c", "ip link set lo up && exec \"$0\" \"$@\""])
        zooPid = Int32((zoo.made["pids"] as? [String: Any])?["parent"] as? Int ?? -1)
        inodeA = try Self.inode("/run/netns/" + a.name)
        inodeB = try Self.inode("/run/netns/" + b.name)
        inodeC = try Self.inode("/proc/\(zooPid)/ns/net")
        // Let the accept above happen before anyone compares.
        usleep(200_000)
    }

    private static let made = Mutex(0)

    /// Runs `arguments` inside namespace c (nsenter into the zoo's namespace).
    public func runInC(_ arguments: [String]) throws -> CommandResult {
        try TestSupport.run(["nsenter", "-t", String(zooPid), "-n"] + arguments)
    }

    /// The nsfs inode of a namespace file.
    public static func inode(_ path: String) throws -> UInt64 {
        var info = stat()
        guard stat(path, &info) == 0 else { throw CommandError(message: "stat \(path): errno \(errno)") }
        return UInt64(info.st_ino)
    }

    /// Stops the helpers and the zoo; the namespaces go when this is released.
    public func stop() {
        client.stop()
        server.stop()
        zoo.stop()
    }

    deinit { stop() }
}
