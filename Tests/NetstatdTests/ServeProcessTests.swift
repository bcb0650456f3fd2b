import Foundation
import Glibc
import TestSupport
import Testing

/// `netstatd serve` as a process: its config file, its token file and SIGHUP, and
/// what it says about its capabilities when run as an unprivileged user.
@Suite(
    .enabled(if: TestEnvironment.netstatdBinary != nil, "needs the built netstatd binary"),
    .enabled(if: TestEnvironment.hasTool("curl"), "needs curl"))
struct ServeProcessTests {
    @Test("a config file starts it; a flag on the command line wins")
    func configFile() throws {
        let binary = try #require(TestEnvironment.netstatdBinary)
        let directory = try Synthetic.temporaryDirectory("config")
        defer { try? FileManager.default.removeItem(at: directory) }
        let config = directory.appendingPathComponent("netstatd.conf").path
        try "# test\nlisten = 127.0.0.1:0\nno-history = true\ninterval = 0.5\n".write(toFile: config, atomically: true, encoding: .utf8)

        let fromFile = try ServeProcess(["--config", config], binary: binary, directory: directory)
        let port = try fromFile.port()
        #expect(fromFile.log.contains("sampling every 0.5 s"))
        #expect(try CurlReply.get("http://127.0.0.1:\(port)/healthz").status == 200)
        #expect(fromFile.stop() == 0)

        let overridden = try ServeProcess(["--config", config, "--interval", "2"], binary: binary, directory: directory)
        _ = try overridden.port()
        #expect(overridden.log.contains("sampling every 2.0 s"), "\(overridden.log)")
        #expect(overridden.stop() == 0)
    }

    @Test("a bad config line stops the start before anything is opened")
    func badConfigStartsNothing() throws {
        let binary = try #require(TestEnvironment.netstatdBinary)
        let directory = try Synthetic.temporaryDirectory("badconfig")
        defer { try? FileManager.default.removeItem(at: directory) }
        let config = directory.appendingPathComponent("netstatd.conf").path
        let database = directory.appendingPathComponent("history.db").path
        try "db = \(database)\nlisten = 127.0.0.1:0\n\n# tuned\ninterval = fast\n".write(toFile: config, atomically: true, encoding: .utf8)
        let result = try run([binary, "serve", "--config", config])
        #expect(result.status == 78, "EX_CONFIG")
        let lines = result.stderr.split(separator: "\n")
        #expect(lines.count == 1, "\(result.stderr)")
        #expect(lines.first?.hasPrefix("netstatd serve: \(config):5: interval = \"fast\": expected seconds from 0.1 to 3600; accepted names: listen, db, ") == true, "\(result.stderr)")
        #expect(access(database, F_OK) != 0, "no history file was created")
    }

    @Test("a missing token file is one line at start")
    func missingTokenFile() throws {
        let binary = try #require(TestEnvironment.netstatdBinary)
        let result = try run([binary, "serve", "--listen", "127.0.0.1:0", "--no-history", "--token-file", "/nonexistent/netstatd-token"])
        #expect(result.status == 1)
        #expect(result.stderr.split(separator: "\n").count == 1, "\(result.stderr)")
        #expect(result.stderr.hasPrefix("netstatd serve: --token-file /nonexistent/netstatd-token: cannot read it (open(/nonexistent/netstatd-token) failed: No such file or directory"))
    }

    @Test("SIGHUP re-reads the token file: the new token works, the old one no longer does")
    func sighupRotatesToken() throws {
        let binary = try #require(TestEnvironment.netstatdBinary)
        let directory = try Synthetic.temporaryDirectory("sighup")
        defer { try? FileManager.default.removeItem(at: directory) }
        let tokenPath = directory.appendingPathComponent("token").path
        try "first-token\n".write(toFile: tokenPath, atomically: false, encoding: .utf8)
        chmod(tokenPath, 0o644)

        let server = try ServeProcess(["--listen", "127.0.0.1:0", "--no-history", "--token-file", tokenPath], binary: binary, directory: directory)
        let url = "http://127.0.0.1:\(try server.port())/api/v1/status"
        #expect(server.log.contains("netstatd: warning: --token-file \(tokenPath) is readable by others (mode 644)"), "\(server.log)")
        #expect(server.log.contains("auth on"))
        #expect(try CurlReply.get(url, token: "first-token").status == 200)

        try "second-token\n".write(toFile: tokenPath, atomically: false, encoding: .utf8)
        chmod(tokenPath, 0o600)
        server.send(SIGHUP)
        #expect(server.waitForLog("SIGHUP: re-read the token from \(tokenPath) (a new token is in force)"), "\(server.log)")
        #expect(try CurlReply.get(url, token: "second-token").status == 200)
        #expect(try CurlReply.get(url, token: "first-token").status == 401)

        unlink(tokenPath)
        server.send(SIGHUP)
        #expect(server.waitForLog("the previous token stays in force"), "\(server.log)")
        #expect(try CurlReply.get(url, token: "second-token").status == 200)
        #expect(server.stop() == 0, "SIGHUP never stops it; SIGTERM does, cleanly")
        #expect(server.log.components(separatedBy: "warning:").count == 2, "only the first reading warned: \(server.log)")
    }
}

/// The real binary as `nobody` through setpriv, with and without the four capabilities:
/// /api/v1/status says what is available, and what it says is what happens (the owner
/// of a socket this root test process holds is seen only with the capabilities).
@Suite(
    .serialized,
    .enabled(if: TestEnvironment.isRoot, "needs root to run netstatd as nobody with chosen capabilities"),
    .enabled(if: TestEnvironment.hasTool("setpriv"), "needs setpriv (util-linux)"),
    .enabled(if: getpwnam("nobody") != nil && getgrnam("nogroup") != nil, "needs the nobody user and nogroup group"),
    .enabled(if: TestEnvironment.netstatdBinary != nil, "needs the built netstatd binary"),
    .enabled(if: TestEnvironment.hasTool("curl"), "needs curl"))
struct CapabilityServeTests {
    static let all = "+sys_ptrace,+dac_read_search,+net_admin,+sys_admin"

    @Test(arguments: [true, false])
    func statusSaysWhatNobodyCanDo(withCapabilities: Bool) throws {
        let directory = try Synthetic.temporaryDirectory("caps")
        defer { try? FileManager.default.removeItem(at: directory) }
        chmod(directory.path, 0o755)
        // A copy nobody can execute wherever the checkout is (a home directory may be 0700).
        let binary = directory.appendingPathComponent("netstatd").path
        try FileManager.default.copyItem(atPath: try #require(TestEnvironment.netstatdBinary), toPath: binary)
        chmod(binary, 0o755)
        let pair = try LoopbackPair()
        defer { pair.close() }

        var launcher = ["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups"]
        launcher += withCapabilities ? ["--inh-caps=\(Self.all)", "--ambient-caps=\(Self.all)"] : ["--inh-caps=-all"]
        let server = try ServeProcess(["--listen", "127.0.0.1:0", "--no-history", "--interval", "0.5"],
                                      binary: binary, launcher: launcher, directory: directory)
        let base = "http://127.0.0.1:\(try server.port())"

        let status = try CurlReply.get(base + "/api/v1/status")
        let features = try #require(status.json["capabilities"] as? [String: [String: Any]], "\(status.body)")
        let expected: [String: [String]] = [
            "other_users_owners": ["CAP_SYS_PTRACE", "CAP_DAC_READ_SEARCH"], "socket_close_events": ["CAP_NET_ADMIN"],
            "large_netlink_buffers": ["CAP_NET_ADMIN"], "other_network_namespaces": ["CAP_SYS_ADMIN"],
        ]
        #expect(Set(features.keys) == Set(expected.keys))
        for (key, needs) in expected {
            let available = features[key]?["available"] as? Bool
            let named = features[key]?["needs"] as? [String]
            let expectedNeeds: [String]? = withCapabilities ? nil : needs
            #expect(available == withCapabilities, "\(key): \(status.body)")
            #expect(named == expectedNeeds, "\(key): \(status.body)")
        }
        #expect(try CurlReply.get(base + "/healthz").status == 200, "missing capabilities do not fail /healthz")

        let said = server.log.components(separatedBy: "\n").filter { $0.hasPrefix("netstatd: capabilities: ") }
        #expect(said.count == 1, "said once at start: \(server.log)")
        if withCapabilities {
            #expect(!server.log.contains("unavailable"), "\(server.log)")
        } else {
            #expect(said.first?.contains("owners of other users' sockets: unavailable, needs CAP_SYS_PTRACE and CAP_DAC_READ_SEARCH") == true, "\(server.log)")
        }

        // What it says is what it does: this root process's listener has an owner only
        // when nobody may read root's /proc/<pid>/fd.
        let port = try CurlReply.get(base + "/api/v1/ports/\(pair.port)")
        let listener = (port.json["listeners"] as? [[String: Any]])?.first
        let pids = (listener?["processes"] as? [[String: Any]] ?? []).compactMap { $0["pid"] as? Int }
        #expect(pids.contains(Int(getpid())) == withCapabilities, "\(port.body)")
        #expect(server.stop() == 0)
    }
}
