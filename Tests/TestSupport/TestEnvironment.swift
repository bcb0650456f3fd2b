public import Foundation
import Glibc

/// Facts about where the tests run, for skipping with a reason instead of failing.
public enum TestEnvironment {
    /// True when running as root (CI does): namespaces and other users' fds need it.
    public static var isRoot: Bool { geteuid() == 0 }

    /// True when `name` is an executable on PATH.
    public static func hasTool(_ name: String) -> Bool {
        let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/sbin:/usr/bin:/sbin:/bin"
        return path.split(separator: ":").contains { access("\($0)/\(name)", X_OK) == 0 }
    }

    /// Namespace tests need root, `ip`, `ss` and python3 (which builds the socket zoo).
    public static var canUseNamespaces: Bool {
        isRoot && hasTool("ip") && hasTool("ss") && hasTool("python3")
    }

    /// The root of the package, found from this file's path.
    public static let packageRoot: URL = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    /// The built `netstatd` executable beside the test bundle (swift build --build-tests
    /// builds it too), or `NETSTATD_BIN` when set.
    public static var netstatdBinary: String? {
        if let explicit = ProcessInfo.processInfo.environment["NETSTATD_BIN"] { return explicit }
        var candidates: [String] = []
        let bundleDir = Bundle.main.bundleURL.path
        candidates.append(bundleDir + "/netstatd")
        candidates.append(URL(fileURLWithPath: bundleDir).deletingLastPathComponent().path + "/netstatd")
        for config in ["debug", "release"] {
            candidates.append(packageRoot.path + "/.build/\(config)/netstatd")
        }
        return candidates.first { access($0, X_OK) == 0 }
    }

    /// The built `netstatd-bench` (the benchmarks' measuring commands) beside netstatd.
    public static var benchBinary: String? {
        guard let netstatd = netstatdBinary else { return nil }
        let path = URL(fileURLWithPath: netstatd).deletingLastPathComponent().path + "/netstatd-bench"
        return access(path, X_OK) == 0 ? path : nil
    }

    /// The socket zoo script (Tests/TestSupport/zoo.py).
    public static var zooScript: String {
        Bundle.module.url(forResource: "zoo", withExtension: "py")!.path
    }

    /// The namespace helper script (Tests/TestSupport/namespaces.py).
    public static var namespacesScript: String {
        Bundle.module.url(forResource: "namespaces", withExtension: "py")!.path
    }
}

/// The result of running a command to completion.
public struct CommandResult {
    public var status: Int32
    public var stdout: Data
    public var stderr: String
    public var text: String { String(decoding: stdout, as: UTF8.self) }
}

/// Runs `arguments[0]` with the rest as arguments, waits at most `timeout` seconds.
@discardableResult
public func run(_ arguments: [String], timeout: Double = 30) throws -> CommandResult {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    process.arguments = arguments
    let out = Pipe()
    let err = Pipe()
    process.standardOutput = out
    process.standardError = err
    try process.run()
    // Read before waiting: a full pipe would block the child forever.
    var stdout = Data()
    var stderr = Data()
    let group = DispatchGroup()
    nonisolated(unsafe) var outBox = Data()
    nonisolated(unsafe) var errBox = Data()
    group.enter()
    DispatchQueue.global().async {
        outBox = out.fileHandleForReading.readDataToEndOfFile()
        group.leave()
    }
    group.enter()
    DispatchQueue.global().async {
        errBox = err.fileHandleForReading.readDataToEndOfFile()
        group.leave()
    }
    if group.wait(timeout: .now() + timeout) == .timedOut {
        process.terminate()
        throw CommandError(message: "\(arguments.joined(separator: " ")) did not finish within \(timeout) s")
    }
    process.waitUntilExit()
    stdout = outBox
    stderr = errBox
    return CommandResult(status: process.terminationStatus, stdout: stdout, stderr: String(decoding: stderr, as: UTF8.self))
}

/// A command that could not be run or did not finish.
public struct CommandError: Error, CustomStringConvertible {
    public var message: String
    public init(message: String) { self.message = message }
    public var description: String { message }
}
