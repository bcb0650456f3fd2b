import API
import Foundation
import Glibc
import HTTP
import Sampling
import TestSupport
import Testing

/// Each endpoint through the real server on a loopback port, against sockets this test
/// opened, every response checked against openapi.yaml.
@Suite(.enabled(if: TestEnvironment.hasTool("curl"), "needs curl to send real requests"))
struct LiveEndpointTests {
    let contract = ContractCheck()

    private func verifyContract() throws {
        guard canValidateContract else { return }
        let (ok, report) = try contract.verify()
        #expect(ok, "responses differ from openapi.yaml:\n\(report)")
    }

    @Test func connectionsWithFilters() throws {
        let pair = try LoopbackPair()
        defer { pair.close() }
        let server = try LiveServer()
        let me = getpid()

        let all = try server.get("/api/v1/connections")
        contract.record(all, path: "/api/v1/connections")
        #expect(all.status == 200 && all.contentType == "application/json")
        #expect(all.json["taken_at"] is String && all.json["next"] is NSNull)
        #expect(all.items.count == all.json["count"] as? Int)

        let byPort = try server.get("/api/v1/connections?port=\(pair.port)")
        contract.record(byPort, path: "/api/v1/connections")
        #expect(byPort.items.count == 3, "the listener and both ends: \(byPort.text)")

        for spelling in ["LISTEN", "listen", "listening"] {
            let listeners = try server.get("/api/v1/connections?port=\(pair.port)&state=\(spelling)")
            #expect(listeners.items.count == 1, "state=\(spelling)")
            let queue = listeners.items.first?["accept_queue"] as? [String: Any]
            #expect(queue?["backlog"] as? Int == 7)
        }
        for spelling in ["ESTABLISHED", "estab", "established"] {
            let established = try server.get("/api/v1/connections?local_port=\(pair.port)&state=\(spelling)")
            #expect(established.items.count == 1, "state=\(spelling)")
        }
        let combined = try server.get("/api/v1/connections?pid=\(me)&local_addr=127.0.0.0/8&proto=tcp&family=ipv4&remote_port=\(pair.port)")
        contract.record(combined, path: "/api/v1/connections")
        #expect(combined.items.count == 1)
        let owner = (combined.items.first?["processes"] as? [[String: Any]])?.first
        #expect(owner?["pid"] as? Int == Int(me))

        let none = try server.get("/api/v1/connections?port=\(pair.port)&remote_addr=10.0.0.0/8")
        #expect(none.items.isEmpty && none.json["count"] as? Int == 0)
        let listening = try server.get("/api/v1/connections?port=\(pair.port)&listening=true")
        #expect(listening.items.count == 1)

        let withInfo = try server.get("/api/v1/connections?local_port=\(pair.port)&state=estab&info=tcp,timer")
        contract.record(withInfo, path: "/api/v1/connections")
        let tcp = withInfo.items.first?["tcp"] as? [String: Any]
        #expect(tcp?["cwnd"] as? Int ?? 0 > 0)
        try verifyContract()
    }

    @Test("limit and cursor page through every socket exactly once")
    func paging() throws {
        let pairs = try (0..<3).map { _ in try LoopbackPair() }
        defer { pairs.forEach { $0.close() } }
        let server = try LiveServer()
        let everything = try server.get("/api/v1/connections?proto=tcp")
        func key(_ item: [String: Any]) -> String {
            let local = item["local"] as? [String: Any] ?? [:], remote = item["remote"] as? [String: Any] ?? [:]
            return "\(local["address"]!):\(local["port"]!)>\(remote["address"]!):\(remote["port"]!)#\(item["inode"]!)"
        }
        let expected = Set(everything.items.map(key))
        var seen: [String] = []
        var cursor: String? = nil
        var pages = 0
        repeat {
            let page = try server.get("/api/v1/connections?proto=tcp&limit=2" + (cursor.map { "&cursor=\($0)" } ?? ""))
            contract.record(page, path: "/api/v1/connections")
            #expect(page.status == 200)
            #expect(page.items.count <= 2)
            seen += page.items.map(key)
            cursor = page.json["next"] as? String
            pages += 1
        } while cursor != nil && pages < 1000
        #expect(seen.count == Set(seen).count, "no socket served twice")
        let made = expected.filter { key in pairs.contains { key.contains(":\($0.port)") } }
        #expect(made.count == 9, "three listeners and three connected pairs")
        #expect(Set(seen).isSuperset(of: made))
        try verifyContract()
    }

    @Test func formats() throws {
        let pair = try LoopbackPair()
        defer { pair.close() }
        let server = try LiveServer()
        let ndjson = try server.get("/api/v1/connections?port=\(pair.port)&format=ndjson")
        contract.record(ndjson, path: "/api/v1/connections")
        #expect(ndjson.contentType == "application/x-ndjson")
        let lines = ndjson.text.split(separator: "\n")
        #expect(lines.count == 3)
        #expect(lines.allSatisfy { (try? JSONSerialization.jsonObject(with: Data($0.utf8))) is [String: Any] })

        let csv = try server.get("/api/v1/connections?port=\(pair.port)", ["-H", "Accept: text/csv"])
        contract.record(csv, path: "/api/v1/connections")
        #expect(csv.contentType.hasPrefix("text/csv"))
        #expect(csv.text.hasPrefix("proto,family,state,local_address,local_port"))
        #expect(csv.text.split(separator: "\n").count == 4)

        let table = try server.get("/api/v1/listeners?format=table&port=\(pair.port)")
        contract.record(table, path: "/api/v1/listeners")
        #expect(table.text.hasPrefix("Active Internet connections (only servers) at "))
        #expect(table.text.split(separator: "\n").dropFirst().first?.hasPrefix("Proto Recv-Q Send-Q Local Address") == true)
        #expect(table.text.contains("127.0.0.1:\(pair.port)") && table.text.contains("LISTEN"))
        try verifyContract()
    }

    @Test func listenersPortsProcessesAndStates() throws {
        let pair = try LoopbackPair()
        defer { pair.close() }
        let server = try LiveServer()
        let me = Int(getpid())

        let listeners = try server.get("/api/v1/listeners")
        contract.record(listeners, path: "/api/v1/listeners")
        let mine = listeners.items.first { ($0["local"] as? [String: Any])?["port"] as? Int == Int(pair.port) }
        #expect(mine?["exposure"] as? String == "loopback")
        #expect(listeners.items.allSatisfy { ["LISTEN", "UNCONN"].contains($0["state"] as? String ?? "") })

        let port = try server.get("/api/v1/ports/\(pair.port)")
        contract.record(port, path: "/api/v1/ports/{port}")
        #expect((port.json["listeners"] as? [Any])?.count == 1)
        #expect((port.json["connections"] as? [Any])?.count == 2)

        let processes = try server.get("/api/v1/processes")
        contract.record(processes, path: "/api/v1/processes")
        let me_ = processes.items.first { $0["pid"] as? Int == me }
        #expect((me_?["listening"] as? [[String: Any]])?.contains { $0["port"] as? Int == Int(pair.port) } == true)
        #expect((me_?["states"] as? [String: Int])?["ESTABLISHED"] ?? 0 >= 2)

        let one = try server.get("/api/v1/processes/\(me)")
        contract.record(one, path: "/api/v1/processes/{pid}")
        #expect(one.status == 200)
        #expect((one.json["sockets"] as? [Any])?.count ?? 0 >= 3)

        let missing = try server.get("/api/v1/processes/999999999")
        contract.record(missing, path: "/api/v1/processes/{pid}")
        #expect(missing.status == 404 && missing.contentType == "application/problem+json")

        let states = try server.get("/api/v1/stats/states?port=\(pair.port)")
        contract.record(states, path: "/api/v1/stats/states")
        let byState = states.json["by_state"] as? [String: Int]
        #expect(byState?["LISTEN"] == 1 && byState?["ESTABLISHED"] == 2)
        let grouped = try server.get("/api/v1/stats/states?port=\(pair.port)&group_by=local_port")
        contract.record(grouped, path: "/api/v1/stats/states")
        let groups = grouped.json["counts"] as? [[String: Any]] ?? []
        #expect(groups.contains { $0["group"] as? String == String(pair.port) && $0["state"] as? String == "LISTEN" })

        let status = try server.get("/api/v1/status")
        contract.record(status, path: "/api/v1/status")
        #expect(status.json["samples"] as? Int ?? 0 >= 1)
        let health = try server.get("/healthz")
        contract.record(health, path: "/healthz")
        #expect(health.status == 200 && health.json["status"] as? String == "ok")
        let spec = try server.get("/openapi.yaml")
        #expect(spec.status == 200 && spec.text.hasPrefix("openapi: 3.1.0"))
        let head = try server.get("/api/v1/listeners", ["-I"])
        #expect(head.status == 200 && head.body.isEmpty)
        try verifyContract()
    }

    @Test("every bad input is a 400 problem naming the parameter", arguments: [
        ("/api/v1/connections?state=bogus", "state"),
        ("/api/v1/connections?port=70000", "port"),
        ("/api/v1/connections?pid=abc", "pid"),
        ("/api/v1/connections?local_addr=10.0.0.0/33", "local_addr"),
        ("/api/v1/connections?remote_addr=not-an-ip", "remote_addr"),
        ("/api/v1/connections?limit=-1", "limit"),
        ("/api/v1/connections?limit=0", "limit"),
        ("/api/v1/connections?stat=listen", "stat"),
        ("/api/v1/connections?format=xml", "format"),
        ("/api/v1/connections?cursor=garbage", "cursor"),
        ("/api/v1/connections?proto=sctp", "proto"),
        ("/api/v1/connections?info=everything", "info"),
        ("/api/v1/connections?listening=maybe", "listening"),
        ("/api/v1/ports/70000", "port"),
        ("/api/v1/ports/0", "port"),
        ("/api/v1/ports/http", "port"),
        ("/api/v1/processes/abc", "pid"),
        ("/api/v1/stats/states?group_by=color", "group_by"),
        ("/api/v1/listeners?state=estab", "state"),
    ])
    func badInput(path: String, parameter: String) throws {
        let server = try LiveServer()
        let reply = try server.get(path)
        #expect(reply.status == 400, "\(path): \(reply.text)")
        #expect(reply.contentType == "application/problem+json")
        #expect(reply.json["parameter"] as? String == parameter, "\(path): \(reply.text)")
        #expect((reply.json["detail"] as? String)?.contains(parameter) == true)
        contract.record(reply, schema: "Problem")
        try verifyContract()
    }

    @Test func unknownPathsMethodsAndOverlongRequests() throws {
        let server = try LiveServer()
        let missing = try server.get("/api/v1/nope")
        #expect(missing.status == 404 && missing.contentType == "application/problem+json")
        contract.record(missing, schema: "Problem")
        let post = try server.get("/api/v1/connections", ["-X", "POST", "-d", "x=1"])
        #expect(post.status == 405 && post.headers["allow"] == "GET, HEAD")
        contract.record(post, schema: "Problem")
        let delete = try server.get("/api/v1/listeners", ["-X", "DELETE"])
        #expect(delete.status == 405)

        let longURL = "/api/v1/connections?state=" + String(repeating: "a", count: 100_000)
        let long = try server.get(longURL)
        #expect(long.status == 414 || long.status == 431 || long.status == 413, "got \(long.status)")
        let hugeHeader = try server.get("/api/v1/status", ["-H", "X-Big: " + String(repeating: "b", count: 100_000)])
        #expect(hugeHeader.status >= 400 && hugeHeader.status < 500)
        let after = try server.get("/healthz")
        #expect(after.status == 200, "the server still answers after refusing them")
        try verifyContract()
    }

    @Test func tokenAuthAndCORS() throws {
        var configuration = APIConfiguration()
        configuration.token = "s3cret-token"
        configuration.corsOrigin = "https://dash.example"
        let server = try LiveServer(configuration: configuration)
        let without = try server.get("/api/v1/connections")
        #expect(without.status == 401 && without.headers["www-authenticate"]?.hasPrefix("Bearer") == true)
        contract.record(without, path: "/api/v1/connections")
        let wrong = try server.get("/api/v1/connections", ["-H", "Authorization: Bearer s3cret-tokeN"])
        #expect(wrong.status == 401)
        let shorter = try server.get("/api/v1/status", ["-H", "Authorization: Bearer s3cret"])
        #expect(shorter.status == 401)
        let right = try server.get("/api/v1/connections", ["-H", "Authorization: Bearer s3cret-token"])
        #expect(right.status == 200)
        #expect(right.headers["access-control-allow-origin"] == "https://dash.example")
        let health = try server.get("/healthz")
        #expect(health.status == 200, "/healthz needs no token")
        let preflight = try server.get("/api/v1/connections", ["-X", "OPTIONS"])
        #expect(preflight.status == 204 && preflight.headers["access-control-allow-methods"]?.contains("GET") == true)
        try verifyContract()
    }

    @Test(.enabled(if: TestEnvironment.hasTool("openssl"), "needs openssl to make a self-signed certificate"))
    func tls() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("netstatd-tls-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let key = dir.appendingPathComponent("key.pem").path
        let cert = dir.appendingPathComponent("cert.pem").path
        let made = try run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=localhost",
                            "-days", "1", "-keyout", key, "-out", cert], timeout: 60)
        #expect(made.status == 0, "\(made.stderr)")
        var http = LiveServer.defaultHTTP()
        http.tlsCertificatePEM = try String(contentsOfFile: cert, encoding: .utf8)
        http.tlsKeyPEM = try String(contentsOfFile: key, encoding: .utf8)
        let server = try LiveServer(http: http)
        let reply = try server.get("/api/v1/status", ["-k"])
        #expect(reply.status == 200 && reply.json["version"] is String)
        let plain = try run(["curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", "--max-time", "5", "http://127.0.0.1:\(server.server.port)/healthz"])
        #expect(plain.text != "200", "plain HTTP is not answered on a TLS port")
    }

    @Test func startErrorsSayWhatToDo() throws {
        let first = try LiveServer()
        var http = LiveServer.defaultHTTP()
        http.port = first.server.port
        let second = HTTPServer(configuration: http) { _ in HTTPResponse.text("") }
        #expect(throws: HTTPServerError.self) { try second.start() }
        do { try second.start() } catch { #expect("\(error)".contains("already in use")) }
        http.host = "not-an-address"
        #expect(throws: HTTPServerError.self) { try HTTPServer(configuration: http) { _ in HTTPResponse.text("") }.start() }
    }

    @Test("large bodies are gzip-compressed when the client asks, as curl --compressed does")
    func gzip() throws {
        let pairs = try (0..<5).map { _ in try LoopbackPair() }
        defer { pairs.forEach { $0.close() } }
        let server = try LiveServer()
        let compressed = try server.get("/api/v1/connections", ["--compressed"])
        #expect(compressed.headers["content-encoding"] == "gzip")
        #expect(compressed.status == 200 && compressed.items.count >= 15)
        let plain = try server.get("/api/v1/connections")
        #expect(plain.headers["content-encoding"] == nil)
        let refused = try server.get("/api/v1/connections", ["-H", "Accept-Encoding: gzip;q=0"])
        #expect(refused.headers["content-encoding"] == nil)
    }

    @Test("command lines are served only with --expose-cmdline")
    func commandLines() throws {
        let pair = try LoopbackPair()
        defer { pair.close() }
        let me = getpid()
        let hidden = try LiveServer().get("/api/v1/processes/\(me)")
        #expect((hidden.json["process"] as? [String: Any])?["cmdline"] == nil)
        var configuration = APIConfiguration()
        configuration.exposeCommandLines = true
        let shown = try LiveServer(configuration: configuration).get("/api/v1/processes/\(me)")
        contract.record(shown, path: "/api/v1/processes/{pid}")
        let cmdline = (shown.json["process"] as? [String: Any])?["cmdline"] as? String
        #expect(cmdline?.isEmpty == false)
        try verifyContract()
    }

    @Test func openAPIEmbeddedMatchesTheFile() throws {
        let file = try String(contentsOf: TestEnvironment.packageRoot.appendingPathComponent("openapi.yaml"), encoding: .utf8)
        #expect(OpenAPIDocument.yaml.trimmingCharacters(in: .newlines) == file.trimmingCharacters(in: .newlines),
                "run scripts/sync-openapi after editing openapi.yaml")
    }
}
