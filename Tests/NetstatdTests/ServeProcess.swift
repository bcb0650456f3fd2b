import Foundation
import Glibc
import TestSupport

/// A real `netstatd serve` process started by a test: stderr goes to a file in the
/// test's own directory, the port comes from its "listening on" line, and it is
/// stopped (SIGTERM, then SIGKILL) when the test is done with it.
final class ServeProcess {
    let process = Process()
    let logPath: String

    /// Starts `launcher + [binary, "serve"] + arguments` in `directory`.
    init(_ arguments: [String], binary: String, launcher: [String] = [], directory: URL) throws {
        logPath = directory.appendingPathComponent("serve-\(UUID().uuidString).log").path
        _ = FileManager.default.createFile(atPath: logPath, contents: nil)
        let log = try FileHandle(forWritingTo: URL(fileURLWithPath: logPath))
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = launcher + [binary, "serve"] + arguments
        process.currentDirectoryURL = directory
        process.standardError = log
        process.standardOutput = FileHandle.nullDevice
        try process.run()
        try log.close()
    }

    deinit { _ = stop() }

    /// What it has logged so far.
    var log: String { (try? String(contentsOfFile: logPath, encoding: .utf8)) ?? "" }

    /// Waits until the log contains `text`; false after `timeout` seconds or once it exited.
    func waitForLog(_ text: String, timeout: Double = 10) -> Bool {
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            if log.contains(text) { return true }
            if !process.isRunning { return log.contains(text) }
            usleep(50_000)
        }
        return false
    }

    /// The port from the "listening on http://127.0.0.1:PORT" line.
    func port(timeout: Double = 10) throws -> Int {
        guard waitForLog("listening on ", timeout: timeout),
              let match = log.firstMatch(of: #/listening on https?://127\.0\.0\.1:(\d+)/#), let port = Int(match.1)
        else { throw CommandError(message: "netstatd serve did not start listening:\n\(log)") }
        return port
    }

    /// Sends `signal` to the process.
    func send(_ signal: Int32) {
        kill(process.processIdentifier, signal)
    }

    /// Stops it (SIGTERM, SIGKILL after 5 s) and returns its exit status.
    @discardableResult
    func stop() -> Int32 {
        if process.isRunning {
            send(SIGTERM)
            let deadline = Date().addingTimeInterval(5)
            while process.isRunning && Date() < deadline { usleep(20_000) }
            if process.isRunning { send(SIGKILL) }
        }
        process.waitUntilExit()
        return process.terminationStatus
    }
}

/// An HTTP answer from curl: status and body.
struct CurlReply {
    var status: Int
    var body: String
    var json: [String: Any] { (try? JSONSerialization.jsonObject(with: Data(body.utf8))) as? [String: Any] ?? [:] }

    /// GET `url`, with `Authorization: Bearer token` when a token is given.
    static func get(_ url: String, token: String? = nil) throws -> CurlReply {
        var arguments = ["curl", "-sS", "--max-time", "10", "-w", "\n%{http_code}"]
        if let token { arguments += ["-H", "Authorization: Bearer \(token)"] }
        let result = try run(arguments + [url])
        guard result.status == 0 else { throw CommandError(message: "curl \(url): \(result.stderr)") }
        var lines = result.text.components(separatedBy: "\n")
        let status = Int(lines.removeLast()) ?? 0
        return CurlReply(status: status, body: lines.joined(separator: "\n"))
    }
}
