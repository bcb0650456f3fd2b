import Foundation
import Glibc
import Sampling
import TestSupport
import Testing

/// `netstatd serve` itself, run inside a private namespace holding the socket zoo:
/// state filters in every spelling, state counts, listeners' exposure, and a clean stop.
@Suite(
    .serialized,
    .enabled(if: TestEnvironment.canUseNamespaces, "needs root, ip, ss and python3 to build a network namespace"),
    .enabled(if: TestEnvironment.netstatdBinary != nil, "needs the built netstatd binary"),
    .enabled(if: TestEnvironment.hasTool("curl"), "needs curl"))
struct NamespaceServeTests {
    @Test func serveAnswersAboutTheZoo() throws {
        let namespace = try NetworkNamespace(tag: "serve")
        let zoo = try SocketZoo(in: namespace)
        defer { zoo.stop() }
        let binary = try #require(TestEnvironment.netstatdBinary)
        let server = Process()
        server.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        server.arguments = ["ip", "netns", "exec", namespace.name, binary, "serve", "--listen", "127.0.0.1:7878", "--interval", "0.5", "--no-history",
                            // Only the namespace it runs in: the counts below are the zoo's.
                            "--namespaces", "host"]
        let log = Pipe()
        server.standardError = log
        try server.run()
        defer { if server.isRunning { server.terminate() } }

        func get(_ path: String) throws -> Reply {
            let result = try namespace.run(["curl", "-sS", "-i", "--retry", "20", "--retry-connrefused", "--retry-delay", "0",
                                            "--max-time", "10", "http://127.0.0.1:7878" + path])
            guard result.status == 0 else { throw CommandError(message: "curl \(path): \(result.stderr)") }
            return try Reply.parse(result.stdout)
        }

        for spelling in ["time-wait", "TIME_WAIT", "timewait"] {
            // The port keeps out TIME_WAITs of curl's own connections to the server.
            let reply = try get("/api/v1/connections?state=\(spelling)&local_port=\(zoo.port("time_wait", "client"))")
            #expect(reply.items.count == 1, "state=\(spelling): \(reply.text)")
            #expect((reply.items.first?["local"] as? [String: Any])?["port"] as? Int == zoo.port("time_wait", "client"))
            #expect((reply.items.first?["processes"] as? [Any])?.isEmpty == true)
        }
        let closeWait = try get("/api/v1/connections?state=close-wait,fin-wait-2")
        #expect(Set(closeWait.items.compactMap { $0["state"] as? String }) == ["CLOSE_WAIT", "FIN_WAIT2"])
        let synSent = try get("/api/v1/connections?state=syn-sent&remote_port=\(zoo.port("full", "port"))")
        #expect(synSent.items.count >= 1)
        let udp = try get("/api/v1/connections?proto=udp&state=unconn")
        #expect(udp.items.count == 1)

        let lo4 = zoo.port("listen", "lo4")
        let ss = SocketRow.parseSS(try namespace.run(["ss", "-tuan", "sport = :\(lo4) or dport = :\(lo4)"]).text)
        let states = try get("/api/v1/stats/states?proto=tcp&port=\(lo4)")
        let byState = states.json["by_state"] as? [String: Int] ?? [:]
        #expect(byState == ["LISTEN": 1, "ESTABLISHED": 2])
        #expect(byState["LISTEN"] == ss.filter { $0.state == SocketState.listen.rawValue }.count)
        #expect(byState["ESTABLISHED"] == ss.filter { $0.state == SocketState.established.rawValue }.count)

        let listeners = try get("/api/v1/listeners?proto=tcp")
        func exposure(_ port: Int) -> String? {
            listeners.items.first { ($0["local"] as? [String: Any])?["port"] as? Int == port }?["exposure"] as? String
        }
        #expect(exposure(zoo.port("listen", "any4")) == "all")
        #expect(exposure(zoo.port("listen", "lo4")) == "loopback")
        #expect(exposure(zoo.port("listen", "lo6")) == "loopback")
        let dual = listeners.items.first { ($0["local"] as? [String: Any])?["port"] as? Int == zoo.port("listen", "any6") }
        #expect(dual?["also_ipv4"] as? Bool == true, "a :: listener without v6only takes IPv4 too")

        let pids = (zoo.made["pids"] as? [String: Any]) ?? [:]
        let shared = try get("/api/v1/ports/\(zoo.port("listen", "any4"))")
        let owners = ((shared.json["listeners"] as? [[String: Any]])?.first?["processes"] as? [[String: Any]]) ?? []
        #expect(Set(owners.compactMap { $0["pid"] as? Int }) == Set([pids["parent"] as? Int, pids["child"] as? Int].compactMap { $0 }))

        // SIGTERM stops it cleanly within a second.
        let started = Date()
        kill(server.processIdentifier, SIGTERM)
        server.waitUntilExit()
        #expect(Date().timeIntervalSince(started) < 1.5)
        #expect(server.terminationStatus == 0)
        let output = String(decoding: log.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        #expect(output.contains("listening on http://127.0.0.1:7878"))
        #expect(output.contains("stopping"))
    }

    @Test("a non-loopback address without a token is refused with the way out")
    func wideListenNeedsToken() throws {
        let binary = try #require(TestEnvironment.netstatdBinary)
        let refused = try run([binary, "serve", "--listen", "0.0.0.0:0"])
        #expect(refused.status == 64)
        #expect(refused.stderr.contains("--token-file") && refused.stderr.contains("--insecure-no-auth"))
        let badPort = try run([binary, "serve", "--listen", "127.0.0.1:99999"])
        #expect(badPort.status == 64 && badPort.stderr.contains("port"))
        let badInterval = try run([binary, "serve", "--interval", "0"])
        #expect(badInterval.status == 64 && badInterval.stderr.contains("--interval"))
    }
}
